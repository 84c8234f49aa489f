//! Code generation for `#[mutex]`.
//!
//! The user's attributes, visibility and signature are re-emitted untouched; only the inside of
//! the braces changes. The body itself is never parsed (it is kept as tokens), so a body that does
//! not compile yet still expands and the IDE keeps working.

use proc_macro2::{Group, Ident, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Attribute, FnArg, Pat, ReturnType, Signature, Token, Type, Visibility};

use crate::args::{Args, Errors, OnLost, Wait};
use crate::names::Template;

/// Entry point: arguments and item in, item out (plus compile errors, if any).
pub(crate) fn mutex(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = Args::parse(args, &mut errors);
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            errors.push(error);
            return with_errors(item, errors);
        }
    };
    function.validate(&args, &mut errors);
    match errors.finish() {
        Ok(()) => function.expand(&args),
        Err(error) => {
            // Never lose the item: re-emit it unchanged, so that a mistake in the attribute
            // does not cascade into "cannot find function" errors at every call site.
            let mut tokens = item;
            tokens.extend(error.into_compile_error());
            tokens
        }
    }
}

fn with_errors(item: TokenStream, errors: Errors) -> TokenStream {
    let mut tokens = item;
    if let Err(error) = errors.finish() {
        tokens.extend(error.into_compile_error());
    }
    tokens
}

/// The body of an `async fn` as `#[async_trait]` rewrites it: a plain `fn` returning
/// `Pin<Box<dyn Future<Output = T> + Send + 'async_trait>>` whose body is
/// `Box::pin(async move { .. })` (the shape tracing's `#[instrument]` recognises too). The lock
/// then goes inside that future, around its statements, as for an `async fn` returning `T`.
struct AsyncTraitBody {
    /// `Box::pin`, as written.
    pin: syn::ExprPath,
    async_token: Token![async],
    capture: Token![move],
    /// The `async move` block's statements.
    stmts: TokenStream,
    /// The future's output, `T`.
    output: Box<Type>,
}

impl AsyncTraitBody {
    fn of(sig: &Signature, body: &Group) -> Option<Self> {
        if sig.asyncness.is_some() {
            return None;
        }
        let output = boxed_future_output(&sig.output)?;
        let syn::Expr::Call(call) = syn::parse2::<syn::Expr>(body.stream()).ok()? else {
            return None;
        };
        let syn::Expr::Path(pin) = *call.func else {
            return None;
        };
        let mut path = pin.path.segments.iter().rev();
        let is_box_pin = path.next().is_some_and(|last| last.ident == "pin")
            && path.next().is_some_and(|owner| owner.ident == "Box");
        let mut call_args = call.args.into_iter();
        let (Some(syn::Expr::Async(future)), None) = (call_args.next(), call_args.next()) else {
            return None;
        };
        let capture = future.capture?;
        is_box_pin.then(|| AsyncTraitBody {
            pin,
            async_token: future.async_token,
            capture,
            stmts: future
                .block
                .stmts
                .iter()
                .map(ToTokens::to_token_stream)
                .collect(),
            output: Box::new(output.clone()),
        })
    }

    /// `Box::pin(async move { .. })` around the expansion. Its first statement fixes the
    /// future's output type (as `#[async_trait]` does), before any `return` in the expansion
    /// needs it.
    fn wrap(
        &self,
        expansion: &TokenStream,
        output: &TokenStream,
        private: &TokenStream,
    ) -> TokenStream {
        let AsyncTraitBody {
            pin,
            async_token,
            capture,
            ..
        } = self;
        quote! {
            #pin(#async_token #capture {
                if false {
                    return #private::Tag::<#output>::new().output();
                }
                #expansion
            })
        }
    }
}

/// `T` in `Pin<Box<dyn Future<Output = T> + ..>>` (any paths to `Pin`, `Box` and `Future`).
fn boxed_future_output(output: &ReturnType) -> Option<&Type> {
    fn only_type_argument<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
        let Type::Path(path) = ty else {
            return None;
        };
        let last = path.path.segments.last()?;
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        match args.args.first() {
            Some(syn::GenericArgument::Type(ty)) if last.ident == name && args.args.len() == 1 => {
                Some(ty)
            }
            _ => None,
        }
    }
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let boxed = only_type_argument(ty, "Pin")?;
    let Type::TraitObject(future) = only_type_argument(boxed, "Box")? else {
        return None;
    };
    future.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let last = bound.path.segments.last()?;
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        if last.ident != "Future" {
            return None;
        }
        args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

/// The body's inner attributes, and the rest of it as unparsed tokens (all of it when the inner
/// attributes do not parse: the compiler reports them where they are).
fn split_body(body: &Group) -> (Vec<Attribute>, TokenStream) {
    let parser = |input: ParseStream<'_>| {
        let inner = input.call(Attribute::parse_inner)?;
        let rest: TokenStream = input.parse()?;
        Ok((inner, rest))
    };
    syn::parse::Parser::parse2(parser, body.stream())
        .unwrap_or_else(|_: syn::Error| (Vec::new(), body.stream()))
}

/// A function item whose body is kept as unparsed tokens.
struct ItemFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    body: Group,
    /// Set when this is an `async fn` as `#[async_trait]` rewrote it.
    async_trait: Option<AsyncTraitBody>,
    /// What the caller gets: the declared return type, or the future's output for
    /// `#[async_trait]`.
    output: ReturnType,
}

impl Parse for ItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        if input.fork().parse::<Signature>().is_err() {
            let found = input
                .cursor()
                .token_tree()
                .map(|(tt, _)| tt)
                .ok_or_else(|| input.error("`#[mutex]` must be applied to a function"))?;
            return Err(syn::Error::new(
                found.span(),
                format!(
                    "`#[mutex]` can only be applied to a function (`fn` or `async fn`), not to \
                     `{}`: put it on the function that must run under the lock",
                    describe(&found)
                ),
            ));
        }
        let sig: Signature = input.parse()?;
        if input.peek(Token![;]) {
            let semi: Token![;] = input.parse()?;
            return Err(syn::Error::new(
                semi.span,
                "`#[mutex]` needs a function body: in a trait, put it on the method in each \
                 `impl` (or on a default body)",
            ));
        }
        let body: Group = input.parse()?;
        if body.delimiter() != proc_macro2::Delimiter::Brace {
            return Err(syn::Error::new(body.span(), "expected the function body"));
        }
        let async_trait = AsyncTraitBody::of(&sig, &body);
        let output = match &async_trait {
            Some(async_trait) => {
                ReturnType::Type(Token![->](sig.fn_token.span), async_trait.output.clone())
            }
            None => sig.output.clone(),
        };
        Ok(ItemFn {
            attrs,
            vis,
            sig,
            body,
            async_trait,
            output,
        })
    }
}

fn describe(token: &proc_macro2::TokenTree) -> String {
    match token {
        proc_macro2::TokenTree::Ident(ident) => ident.to_string(),
        other => other.to_string(),
    }
}

impl ItemFn {
    /// Checks what needs the signature: `const fn`, placeholders, the guard name.
    fn validate(&self, args: &Args, errors: &mut Errors) {
        if let Some(constness) = &self.sig.constness {
            errors.push(syn::Error::new(
                constness.span,
                "`#[mutex]` cannot be applied to a `const fn`: taking a lock is I/O at run \
                 time; remove `const`",
            ));
        }
        if !self.is_async()
            && let Some(future) = returned_future(&self.sig.output)
        {
            errors.push(syn::Error::new_spanned(
                future,
                "`#[mutex]` on a function that returns a future would hold the lock only \
                     while the future is created, not while it runs: write an `async fn` \
                     instead (in traits too, natively or under `#[async_trait]`)",
            ));
        }
        if let Some(on_lost) = &args.on_lost
            && on_lost.value.policy == OnLost::Cancel
        {
            // The whole option, `on_lost = "cancel"`, is underlined.
            let keyword = Ident::new("on_lost", on_lost.keyword);
            let lit = &on_lost.value.lit;
            let option = quote!(#keyword = #lit);
            if !self.is_async() {
                errors.push(syn::Error::new_spanned(
                    option,
                    "`on_lost = \"cancel\"` needs an `async fn`: a plain `fn` cannot be \
                         interrupted; check `guard.is_held()` between steps (bind it with \
                         `guard = lock`) and stop when it turns `false`, or make it `async fn`",
                ));
            } else if !may_carry_error(&self.output) {
                let found = match &self.output {
                    ReturnType::Default => "()".to_owned(),
                    ReturnType::Type(_, ty) => ty.to_token_stream().to_string(),
                };
                errors.push(syn::Error::new_spanned(
                    option,
                    format!(
                        "`on_lost = \"cancel\"` needs a return type that can carry the \
                             lost-lock error, and `{found}` cannot: return `Result<T, E>` with \
                             `E: From<redis_mutex::Error>` (such as `redis_mutex::Result<T>`), \
                             or write `on_lost = \"continue\"` to let the body finish"
                    ),
                ));
            }
        }
        let bindings = bindings(&self.sig);
        for template in &args.names {
            for placeholder in template.placeholders() {
                if !bindings.contains(&placeholder.root) {
                    errors.push(unknown_placeholder(
                        template,
                        &placeholder.source,
                        &placeholder.root,
                        &self.sig.ident,
                        &bindings,
                    ));
                }
            }
        }
        if let Some(guard) = &args.guard {
            let name = guard.value.to_string();
            if bindings.contains(&name) {
                errors.push(syn::Error::new(
                    guard.value.span(),
                    format!(
                        "`guard = {name}` would shadow the argument `{name}`: pick another \
                         name, as in `guard = lock`"
                    ),
                ));
            }
        }
    }

    /// An `async fn`, written so or rewritten by `#[async_trait]`.
    fn is_async(&self) -> bool {
        self.sig.asyncness.is_some() || self.async_trait.is_some()
    }

    fn expand(&self, args: &Args) -> TokenStream {
        let ItemFn {
            attrs,
            vis,
            sig,
            body,
            async_trait,
            output,
        } = self;
        let krate = args.krate.as_ref().map_or_else(
            || quote!(::redis_mutex),
            |krate| krate.value.to_token_stream(),
        );
        let private = quote!(#krate::__private);

        let held = Ident::new("__redis_mutex_held", Span::mixed_site());
        let names = Ident::new("__redis_mutex_names", Span::mixed_site());
        let options = Ident::new("__redis_mutex_options", Span::mixed_site());
        let error = Ident::new("__redis_mutex_error", Span::mixed_site());

        let name_exprs = args.names.iter().map(Template::to_expr);
        let client = client_expr(args, &private);
        let function = sig.ident.to_string();
        let ttl = option_tokens(args.ttl.as_ref().map(|ttl| duration(ttl.value)));
        let wait = match args.wait.as_ref().map(|wait| &wait.value) {
            None => quote!(#private::Wait::Default),
            Some(Wait::Forever) => quote!(#private::Wait::Forever),
            Some(Wait::Try) => quote!(#private::Wait::Try),
            Some(Wait::For(wait)) => {
                let wait = duration(*wait);
                quote!(#private::Wait::For(#wait))
            }
        };
        let renew = option_tokens(args.renew.as_ref().map(|renew| renew.value));
        let fencing = option_tokens(args.fencing.as_ref().map(|fencing| fencing.value));
        let fail = failure(output, &private, &error, &names, &options);
        let is_async = self.is_async();
        let enter = if is_async {
            quote!(#private::enter(#client, &#names, #options).await)
        } else {
            quote!(#private::enter_blocking(#client, &#names, #options))
        };

        let acquire = quote! {
            let #held = {
                let #names = [#(#name_exprs),*];
                let #options = &#private::Options {
                    function: ::core::concat!(::core::module_path!(), "::", #function),
                    ttl: #ttl,
                    wait: #wait,
                    renew: #renew,
                    fencing: #fencing,
                };
                match #enter {
                    ::core::result::Result::Ok(#held) => #held,
                    ::core::result::Result::Err(#error) => #fail,
                }
            };
        };
        let bind_guard = args.guard.as_ref().map(|guard| {
            let name = &guard.value;
            quote!(let #name = #held.guard();)
        });

        // The body's statements are spliced in, not nested as a block of their own: a one-line
        // block as the value of another (`{ x }`) trips `unused_braces` in the user's crate. Its
        // inner attributes (`#![allow(..)]`) go first, where they were: they cover the function.
        let (inner_attrs, stmts) = match async_trait {
            Some(async_trait) => (Vec::new(), async_trait.stmts.clone()),
            None => split_body(body),
        };
        let block = if is_async {
            // The body runs as its own future so that `return` and `?` come back here, where the
            // lock is released with `.await`; `Drop` only covers panics and cancellation. Its
            // items and `use`s stay inside the `async move` block, out of the generated code's
            // way.
            let on_lost = on_lost_policy(args, output, &body_output(output), &private);
            let output = body_output(output);
            let ret = Ident::new("__redis_mutex_ret", Span::mixed_site());
            quote! {
                #acquire
                let #ret = {
                    #bind_guard
                    #held.scope::<#output, _>(async move { #stmts }, #on_lost).await
                };
                #held.release().await;
                #ret
            }
        } else {
            // The guard is a local declared before the body's statements: it is dropped after the
            // body's value is computed, and every exit (return, `?`, panic) releases it through
            // `Drop`. The body's items and `use`s share this block, so the generated code names
            // no type the body could shadow (see `failure`).
            quote! {
                #acquire
                #bind_guard
                #stmts
            }
        };
        let block = match async_trait {
            None => quote!(#(#inner_attrs)* #block),
            Some(async_trait) => async_trait.wrap(&block, &body_output(output), &private),
        };
        let mut out = TokenStream::new();
        for attr in attrs {
            attr.to_tokens(&mut out);
        }
        vis.to_tokens(&mut out);
        sig.to_tokens(&mut out);
        // The original braces' span: the item keeps pointing at user code, so lints such as
        // `dead_code` still fire on it.
        let mut braces = Group::new(proc_macro2::Delimiter::Brace, block);
        braces.set_span(body.span());
        braces.to_tokens(&mut out);
        out
    }
}

/// The expression giving a `Result<Client>` for this call.
fn client_expr(args: &Args, private: &TokenStream) -> TokenStream {
    let prefix = option_tokens(args.prefix.as_ref().map(|prefix| prefix.value.clone()));
    if let Some(client) = &args.client {
        let expr = &client.value;
        let client = quote_spanned!(expr.span()=> #private::IntoClient::into_client(#expr));
        return match &args.prefix {
            // The same server and connections under another prefix (`Client::with_prefix`).
            Some(prefix) => {
                let prefix = &prefix.value;
                quote!(#private::with_prefix(#client, #prefix))
            }
            None => client,
        };
    }
    if args.server.is_none() && args.prefix.is_none() {
        return quote!(#private::default_client());
    }
    let server = option_tokens(args.server.as_ref().map(|server| server.value.clone()));
    // One client per annotated function, opened on first use and reused by every later call.
    quote!({
        static __REDIS_MUTEX_CLIENT: #private::ClientCell = #private::ClientCell::new();
        __REDIS_MUTEX_CLIENT.get_or_open(#server, #prefix)
    })
}

fn option_tokens<T: ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

fn duration(duration: std::time::Duration) -> TokenStream {
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    quote!(::core::time::Duration::new(#secs, #nanos))
}

/// The value returned when the locks cannot be taken: `Err(e.into())` when the function returns
/// `Result<_, E>` with `E: From<redis_mutex::Error>` (any alias), otherwise a panic. Chosen by
/// autoref-based dispatch on the declared return type, not by its name.
fn failure(
    output: &ReturnType,
    private: &TokenStream,
    error: &Ident,
    names: &Ident,
    options: &Ident,
) -> TokenStream {
    let ty = match output {
        ReturnType::Type(_, ty) if !matches!(**ty, Type::ImplTrait(_) | Type::Never(_)) => ty,
        // Cannot be a `Result`: panic (`fail` returns `!`, so no `return`).
        _ => return quote!(#private::fail(#error, &#names, #options)),
    };
    // The tag's type is fixed by a `return` the type checker sees first (never taken), so the
    // return type is not named here: inside the body's block, a name from the signature could
    // resolve to one of the body's items or glob imports instead.
    let tag = Ident::new("__redis_mutex_tag", Span::mixed_site());
    quote_spanned! {ty.span()=>
        {
            let #tag = #private::Tag::new();
            if false {
                return #tag.output();
            }
            return {
                #[allow(unused_imports)]
                use #private::{ViaPanic as _, ViaResult as _};
                (&#tag).__redis_mutex_fail(#error, &#names, #options)
            };
        }
    }
}

/// What an `async fn`'s body does when its lock is lost, as an
/// `Option<fn(redis_mutex::Error) -> Output>`: `None` lets it run on; `Some` cancels it and
/// returns that function's value.
///
/// * `on_lost = "continue"`: `None`.
/// * `on_lost = "cancel"`: `__private::cancel::<Output>()`, whose `CarriesLost` bound turns a
///   return type that cannot carry the error into a compile error at the return type.
/// * by default: cancel when the return type can carry the error, chosen by the same autoref
///   dispatch as lock errors (so aliases count); `None` for return types that cannot be a
///   `Result` at all (`()`, `!`, `impl Trait`, ...).
fn on_lost_policy(
    args: &Args,
    output: &ReturnType,
    output_ty: &TokenStream,
    private: &TokenStream,
) -> TokenStream {
    let policy = args.on_lost.as_ref().map(|on_lost| on_lost.value.policy);
    let ReturnType::Type(_, ty) = output else {
        return quote!(::core::option::Option::None);
    };
    match policy {
        Some(OnLost::Continue) => quote!(::core::option::Option::None),
        // Not reached for the return types `validate` rejects.
        Some(OnLost::Cancel) => quote_spanned! {ty.span()=>
            #private::cancel::<#output_ty>()
        },
        None if !may_carry_error(output) => quote!(::core::option::Option::None),
        None => quote_spanned! {ty.span()=>
            {
                #[allow(unused_imports)]
                use #private::{ViaPanic as _, ViaResult as _};
                (&#private::Tag::<#output_ty>::new()).__redis_mutex_on_lost()
            }
        },
    }
}

/// Whether the declared return type might be a `Result` (a path such as `Result<T, E>` or an
/// alias, decided by the type checker later): not `()`, `!`, `impl Trait`, a reference, ...
fn may_carry_error(output: &ReturnType) -> bool {
    fn may_carry(ty: &Type) -> bool {
        match ty {
            Type::Path(_) | Type::Macro(_) | Type::Verbatim(_) => true,
            Type::Paren(paren) => may_carry(&paren.elem),
            Type::Group(group) => may_carry(&group.elem),
            // `()` and other tuples, `!`, `impl Trait`, references, arrays, pointers, `dyn`.
            _ => false,
        }
    }
    match output {
        ReturnType::Default => false,
        ReturnType::Type(_, ty) => may_carry(ty),
    }
}

/// The declared output type as a type argument, with `impl Trait` erased to `_`.
fn body_output(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            EraseImplTrait.visit_type_mut(&mut ty);
            if matches!(ty, Type::Never(_)) {
                quote!(_)
            } else {
                ty.to_token_stream()
            }
        }
    }
}

/// Replaces `impl Trait` with `_`: it cannot be named inside the body (tracing's
/// `erase_impl_trait`).
struct EraseImplTrait;

impl VisitMut for EraseImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(impl_trait) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: Token![_](impl_trait.impl_token.span),
            });
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}

/// `impl Future<..>`, `Pin<Box<dyn Future<..>>>` or `BoxFuture<..>` returned by a non-async fn.
fn returned_future(output: &ReturnType) -> Option<&Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mentions_future = |bounds: &syn::punctuated::Punctuated<syn::TypeParamBound, Token![+]>| {
        bounds.iter().any(|bound| match bound {
            syn::TypeParamBound::Trait(t) => t
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "Future" || s.ident == "IntoFuture"),
            _ => false,
        })
    };
    let is_future = match &**ty {
        Type::ImplTrait(t) => mentions_future(&t.bounds),
        Type::Path(path) => {
            let last = path.path.segments.last()?;
            if last.ident == "BoxFuture" || last.ident == "LocalBoxFuture" {
                true
            } else if last.ident == "Pin" {
                let text = last.arguments.to_token_stream().to_string();
                text.contains("dyn") && text.contains("Future")
            } else {
                false
            }
        }
        _ => false,
    };
    is_future.then_some(&**ty)
}

/// Every name the signature binds: `self` and the identifiers in the argument patterns.
fn bindings(sig: &Signature) -> Vec<String> {
    let mut names = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(_) => names.push("self".to_owned()),
            FnArg::Typed(typed) => pattern_bindings(&typed.pat, &mut names),
        }
    }
    names
}

fn pattern_bindings(pat: &Pat, names: &mut Vec<String>) {
    match pat {
        Pat::Ident(ident) => {
            names.push(unraw(&ident.ident));
            if let Some((_, sub)) = &ident.subpat {
                pattern_bindings(sub, names);
            }
        }
        Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| pattern_bindings(p, names)),
        Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| pattern_bindings(p, names)),
        Pat::Struct(s) => s
            .fields
            .iter()
            .for_each(|field| pattern_bindings(&field.pat, names)),
        Pat::Slice(slice) => slice.elems.iter().for_each(|p| pattern_bindings(p, names)),
        Pat::Reference(reference) => pattern_bindings(&reference.pat, names),
        Pat::Paren(paren) => pattern_bindings(&paren.pat, names),
        Pat::Type(typed) => pattern_bindings(&typed.pat, names),
        Pat::Or(or) => or.cases.iter().for_each(|p| pattern_bindings(p, names)),
        _ => {}
    }
}

fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map_or(name.clone(), str::to_owned)
}

fn unknown_placeholder(
    template: &Template,
    source: &str,
    root: &str,
    function: &Ident,
    bindings: &[String],
) -> syn::Error {
    let message = if root == "self" {
        format!(
            "`{{{source}}}` needs a method: `fn {function}` has no `self` argument; name one of \
             its arguments instead"
        )
    } else if bindings.is_empty() {
        format!(
            "`{{{source}}}` names no argument: `fn {function}` takes no arguments; add the \
             argument, or write `{{{{{root}}}}}` for literal braces"
        )
    } else {
        let list = bindings
            .iter()
            .map(|b| format!("`{{{b}}}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let suggestion = bindings
            .iter()
            .filter(|b| b.as_str() != "self")
            .map(|b| {
                (
                    crate::args::edit_distance(&b.to_lowercase(), &root.to_lowercase()),
                    b,
                )
            })
            .filter(|(distance, _)| *distance <= 2)
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, b)| b);
        match suggestion {
            Some(s) => format!(
                "`{{{source}}}` names no argument of `fn {function}`: did you mean `{{{s}}}`? \
                 (placeholders: {list})"
            ),
            None => format!(
                "`{{{source}}}` names no argument of `fn {function}`: write one of {list}, or \
                 `{{{{{root}}}}}` for literal braces"
            ),
        }
    };
    syn::Error::new(template.lit.span(), message)
}
