//! Lock-name templates: `"account:{id}"` and friends.
//!
//! A name is a string literal in which `{arg}` (or `{arg.field}`, `{arg.0}`) stands for the
//! `Display` of a function argument, and `{{` / `}}` are literal braces, as in `format!`.
//! Parsing happens here; checking the placeholders against the function's parameters happens in
//! `expand.rs`, which knows the signature.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, quote_spanned};
use syn::LitStr;
use syn::ext::IdentExt;

/// A parsed lock name.
pub(crate) struct Template {
    /// The user's literal: errors about the name point at it.
    pub(crate) lit: LitStr,
    pub(crate) pieces: Vec<Piece>,
}

pub(crate) enum Piece {
    /// Text taken as is (braces already unescaped).
    Text(String),
    /// `{root.path...}`: an argument, optionally followed by field accesses.
    Arg(Placeholder),
}

pub(crate) struct Placeholder {
    /// The argument name (without any `r#`).
    pub(crate) root: String,
    /// Field names or tuple indices after the root.
    pub(crate) path: Vec<String>,
    /// The placeholder as written between the braces, for messages.
    pub(crate) source: String,
}

impl Template {
    /// Parses one lock-name literal, reporting the first mistake in it.
    pub(crate) fn parse(lit: &LitStr) -> syn::Result<Self> {
        let value = lit.value();
        if value.is_empty() {
            return Err(syn::Error::new(
                lit.span(),
                "empty lock name: write the name of the lock, e.g. `\"orders\"` or `\"account:{id}\"`",
            ));
        }
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = value.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => {
                    return Err(syn::Error::new(
                        lit.span(),
                        "unmatched `}` in lock name: write `}}` for a literal brace",
                    ));
                }
                '{' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err(syn::Error::new(
                            lit.span(),
                            "unclosed `{` in lock name: close the placeholder, as in `\"account:{id}\"`, \
                             or write `{{` for a literal brace",
                        ));
                    }
                    let placeholder = parse_placeholder(&inner)
                        .map_err(|message| syn::Error::new(lit.span(), message))?;
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Arg(placeholder));
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template {
            lit: lit.clone(),
            pieces,
        })
    }

    pub(crate) fn placeholders(&self) -> impl Iterator<Item = &Placeholder> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Arg(placeholder) => Some(placeholder),
            Piece::Text(_) => None,
        })
    }

    /// An expression of type `String` building the name at run time. Spanned at the literal, so
    /// that "`T` doesn't implement `Display`" points at the user's name.
    pub(crate) fn to_expr(&self) -> TokenStream {
        let span = self.lit.span();
        let mut format = String::new();
        let mut args = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => format.push_str(&text.replace('{', "{{").replace('}', "}}")),
                Piece::Arg(placeholder) => {
                    format.push_str("{}");
                    args.push(placeholder.to_expr(span));
                }
            }
        }
        if args.is_empty() {
            quote_spanned!(span=> ::std::string::String::from(#format))
        } else {
            quote_spanned!(span=> ::std::format!(#format, #(#args),*))
        }
    }
}

impl Placeholder {
    fn to_expr(&self, span: Span) -> TokenStream {
        let mut expr = ident(&self.root, span).into_token_stream();
        for segment in &self.path {
            let member = if segment.bytes().all(|b| b.is_ascii_digit()) {
                syn::Member::Unnamed(syn::Index {
                    index: segment.parse().unwrap_or_default(),
                    span,
                })
            } else {
                syn::Member::Named(ident(segment, span))
            };
            expr = quote_spanned!(span=> #expr.#member);
        }
        // A reference, so formatting never moves the argument.
        quote_spanned!(span=> &#expr)
    }
}

fn ident(name: &str, span: Span) -> Ident {
    if is_keyword(name) && name != "self" {
        Ident::new_raw(name, span)
    } else {
        Ident::new(name, span)
    }
}

/// Keywords that can be parameter names only as raw identifiers (`r#type`).
fn is_keyword(name: &str) -> bool {
    syn::parse_str::<Ident>(name).is_err()
}

/// Parses what is between the braces: `arg`, `arg.field`, `arg.0`, `r#type`.
fn parse_placeholder(inner: &str) -> Result<Placeholder, String> {
    let source = inner.to_owned();
    if inner.trim().is_empty() {
        return Err(
            "empty placeholder `{}` in lock name: name a function argument, \
             as in `\"account:{id}\"`, or write `{{` for a literal brace"
                .to_owned(),
        );
    }
    if let Some((name, _spec)) = inner.split_once(':') {
        return Err(format!(
            "format specs are not supported in lock names: write `{{{name}}}` \
             (arguments are formatted with `Display`)"
        ));
    }
    if inner.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "positional placeholder `{{{inner}}}` in lock name: name the argument instead, \
             as in `{{id}}`"
        ));
    }
    let mut segments = inner.split('.');
    let root = segments.next().unwrap_or_default();
    let root = root.strip_prefix("r#").unwrap_or(root);
    let path: Vec<String> = segments.map(str::to_owned).collect();
    let valid_root = is_identifier(root) && (root == "self" || !is_path_keyword(root));
    let valid_path = path
        .iter()
        .all(|segment| (is_identifier(segment) && !is_path_keyword(segment)) || is_index(segment));
    if !valid_root || !valid_path {
        return Err(format!(
            "`{{{inner}}}` is not a placeholder: write `{{argument}}` or `{{argument.field}}` \
             (expressions are not supported; compute the value in the caller and pass it in), \
             or `{{{{` for a literal brace"
        ));
    }
    Ok(Placeholder {
        root: root.to_owned(),
        path,
        source,
    })
}

/// Whether `s` is an identifier (keywords included) by Rust's rules (Unicode `XID_Start` then
/// `XID_Continue`): `char::is_alphanumeric` also admits characters such as `²` that no
/// identifier may contain, and building an `Ident` from one panics.
fn is_identifier(s: &str) -> bool {
    // Exactly one plain identifier: not `r#…`, no surrounding whitespace or comments.
    s != "_"
        && !s.starts_with("r#")
        && syn::parse::Parser::parse_str(Ident::parse_any, s).is_ok_and(|ident| ident == s)
}

/// Keywords that cannot even be raw identifiers, so never name an argument or a field.
fn is_path_keyword(s: &str) -> bool {
    matches!(s, "self" | "Self" | "super" | "crate")
}

fn is_index(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(s: &str) -> Result<Vec<String>, String> {
        let lit = LitStr::new(s, Span::call_site());
        Template::parse(&lit)
            .map(|t| {
                t.pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Text(t) => format!("T({t})"),
                        Piece::Arg(a) => format!("A({}{})", a.root, {
                            a.path.iter().map(|s| format!(".{s}")).collect::<String>()
                        }),
                    })
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn plain_and_escapes() {
        assert_eq!(pieces("orders").unwrap(), ["T(orders)"]);
        assert_eq!(pieces("a{{b}}c").unwrap(), ["T(a{b}c)"]);
        assert_eq!(
            pieces("account:{id}:{self.owner.0}").unwrap(),
            ["T(account:)", "A(id)", "T(:)", "A(self.owner.0)"]
        );
        assert_eq!(pieces("{r#type}").unwrap(), ["A(type)"]);
    }

    #[test]
    fn mistakes() {
        assert!(pieces("").unwrap_err().contains("empty lock name"));
        assert!(pieces("a{}").unwrap_err().contains("empty placeholder"));
        assert!(pieces("a{id:?}").unwrap_err().contains("write `{id}`"));
        assert!(pieces("a{0}").unwrap_err().contains("positional"));
        assert!(pieces("a{id").unwrap_err().contains("unclosed"));
        assert!(pieces("a}").unwrap_err().contains("unmatched"));
        assert!(pieces("a{x+1}").unwrap_err().contains("not a placeholder"));
        assert!(pieces("a{x.01}").unwrap_err().contains("not a placeholder"));
        // Alphanumeric, yet no identifier may contain it: a message, not a panicking macro.
        for not_ident in [
            "a{x.a²}", "a{x²}", "a{x.①}", "a{x. y}", "a{x/**/}", "a{x.r#y}", "a{r#}",
        ] {
            assert!(
                pieces(not_ident).unwrap_err().contains("not a placeholder"),
                "{not_ident}"
            );
        }
        assert_eq!(pieces("{été.ñ}").unwrap(), ["A(été.ñ)"]);
    }

    #[test]
    fn format_string_reescapes_braces() {
        let lit = LitStr::new("{{x}}:{id}", Span::call_site());
        let expr = Template::parse(&lit).unwrap().to_expr().to_string();
        assert!(expr.contains("\"{{x}}:{}\""), "{expr}");
    }
}
