//! Parsing and validating `#[mutex(...)]` arguments.
//!
//! Parsing never stops at the first mistake: each bad option is recorded, the parser skips to the
//! next top-level comma and goes on, so one build reports every mistake (folded with
//! `syn::Error::combine`).

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitBool, LitStr, Path, Token};

use crate::names::Template;

/// One custom keyword per option.
pub(crate) mod kw {
    syn::custom_keyword!(server);
    syn::custom_keyword!(client);
    syn::custom_keyword!(ttl);
    syn::custom_keyword!(wait);
    syn::custom_keyword!(prefix);
    syn::custom_keyword!(guard);
    syn::custom_keyword!(renew);
    syn::custom_keyword!(fencing);
    syn::custom_keyword!(on_lost);
}

/// Every option, in the order the docs list them (for "expected one of").
const OPTIONS: &[&str] = &[
    "server", "client", "ttl", "wait", "prefix", "guard", "renew", "fencing", "on_lost", "crate",
];

/// Accumulates errors so that all of them are reported at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// How long to wait for the locks.
pub(crate) enum Wait {
    /// `wait = "forever"`: no limit, whatever the client's default.
    Forever,
    /// `wait = "0s"`: one attempt.
    Try,
    /// `wait = "2s"`.
    For(Duration),
}

/// What an `async fn` does when its lock is lost while the body runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnLost {
    /// `on_lost = "cancel"`: drop the body at its next await, return the lost-lock error.
    Cancel,
    /// `on_lost = "continue"`: let the body finish.
    Continue,
}

/// `on_lost = "..."` as written: the policy and its literal (to point at the option).
pub(crate) struct OnLostArg {
    pub(crate) policy: OnLost,
    pub(crate) lit: LitStr,
}

/// An option value together with the keyword that introduced it (for "given twice" and
/// "cannot be combined" messages that point at the right place).
pub(crate) struct Opt<T> {
    pub(crate) keyword: Span,
    pub(crate) value: T,
    /// Position among the options, to point at the later of two conflicting ones.
    order: usize,
}

/// The keyword of whichever option was written second.
fn later<A, B>(a: &Opt<A>, b: &Opt<B>) -> Span {
    if a.order > b.order {
        a.keyword
    } else {
        b.keyword
    }
}

/// The parsed arguments of `#[mutex(...)]`.
#[derive(Default)]
pub(crate) struct Args {
    /// The lock names (already parsed as templates; placeholders not yet checked).
    pub(crate) names: Vec<Template>,
    pub(crate) server: Option<Opt<LitStr>>,
    pub(crate) client: Option<Opt<Expr>>,
    pub(crate) ttl: Option<Opt<Duration>>,
    pub(crate) wait: Option<Opt<Wait>>,
    pub(crate) prefix: Option<Opt<LitStr>>,
    pub(crate) guard: Option<Opt<Ident>>,
    pub(crate) renew: Option<Opt<bool>>,
    pub(crate) fencing: Option<Opt<bool>>,
    pub(crate) on_lost: Option<Opt<OnLostArg>>,
    pub(crate) krate: Option<Opt<Path>>,
    /// How many options were read so far.
    count: usize,
    /// The options met so far, valid or not.
    seen: Vec<String>,
}

impl Args {
    /// Parses the attribute's arguments, collecting every mistake into `errors`. Never fails
    /// itself: whatever could be understood is returned.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = Args::default();
        let parser = |input: ParseStream<'_>| {
            args.parse_all(input, errors);
            Ok(())
        };
        if let Err(error) = syn::parse::Parser::parse2(parser, tokens) {
            errors.push(error);
        }
        args
    }

    fn parse_all(&mut self, input: ParseStream<'_>, errors: &mut Errors) {
        if input.is_empty() {
            errors.push(syn::Error::new(
                Span::call_site(),
                "missing lock name: write `#[mutex(\"name\")]`, or `#[mutex([\"a\", \"b\"])]` \
                 to hold several locks",
            ));
            return;
        }
        if let Err(error) = self.parse_names(input, errors) {
            errors.push(error);
            skip_to_comma(input);
        }
        while !input.is_empty() {
            if let Err(error) = input.parse::<Token![,]>() {
                errors.push(error);
                return;
            }
            if input.is_empty() {
                break;
            }
            if let Err(error) = self.parse_option(input) {
                errors.push(error);
                skip_to_comma(input);
            }
        }
        self.cross_check(errors);
    }

    fn parse_names(&mut self, input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<()> {
        if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            self.push_name(&lit, errors);
            return Ok(());
        }
        if input.peek(syn::token::Bracket) {
            let content;
            let bracket = syn::bracketed!(content in input);
            let elements = content.parse_terminated(Expr::parse, Token![,])?;
            if elements.is_empty() {
                return Err(syn::Error::new(
                    bracket.span.join(),
                    "empty list of lock names: write at least one name, as in `[\"a\", \"b\"]`",
                ));
            }
            for element in elements {
                match element {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(lit), ..
                    }) => self.push_name(&lit, errors),
                    other => errors.push(not_a_name(&other)),
                }
            }
            return Ok(());
        }
        if (input.peek(Ident) || input.peek(Token![crate])) && input.peek2(Token![=]) {
            // `#[mutex(ttl = "1s")]`: the name was forgotten. Report it and read the options.
            let fork = input.fork();
            let option = fork.call(Ident::parse_any)?;
            errors.push(syn::Error::new(
                option.span(),
                format!(
                    "missing lock name: the name comes first, as in \
                     `#[mutex(\"name\", {option} = ...)]`"
                ),
            ));
            return self.parse_option(input);
        }
        let expr: Expr = input.parse()?;
        Err(not_a_name(&expr))
    }

    fn push_name(&mut self, lit: &LitStr, errors: &mut Errors) {
        match Template::parse(lit) {
            Ok(template) => self.names.push(template),
            Err(error) => errors.push(error),
        }
    }

    fn parse_option(&mut self, input: ParseStream<'_>) -> syn::Result<()> {
        // "Given twice" is decided on the keyword alone, so it is reported even when the first
        // occurrence had a bad value.
        if let Ok(keyword) = input.fork().call(Ident::parse_any) {
            let name = keyword.to_string();
            if OPTIONS.contains(&name.as_str()) {
                if self.seen.contains(&name) {
                    input.call(Ident::parse_any)?;
                    return Err(syn::Error::new(
                        keyword.span(),
                        format!("`{name}` is given twice: remove one of them"),
                    ));
                }
                self.seen.push(name);
            }
        }
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::server) {
            let keyword = input.parse::<kw::server>()?.span;
            let value = parse_value(input, "server", parse_server)?;
            set(&mut self.server, &mut self.count, keyword, value)
        } else if lookahead.peek(kw::client) {
            let keyword = input.parse::<kw::client>()?.span;
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            set(&mut self.client, &mut self.count, keyword, value)
        } else if lookahead.peek(kw::ttl) {
            let keyword = input.parse::<kw::ttl>()?.span;
            let value = parse_value(input, "ttl", parse_ttl)?;
            set(&mut self.ttl, &mut self.count, keyword, value)
        } else if lookahead.peek(kw::wait) {
            let keyword = input.parse::<kw::wait>()?.span;
            let value = parse_value(input, "wait", parse_wait)?;
            set(&mut self.wait, &mut self.count, keyword, value)
        } else if lookahead.peek(kw::prefix) {
            let keyword = input.parse::<kw::prefix>()?.span;
            let value = parse_value(input, "prefix", |input| {
                string_literal(input, "prefix", "\"MUTEX_\"")
            })?;
            set(&mut self.prefix, &mut self.count, keyword, value)
        } else if lookahead.peek(kw::guard) {
            let keyword = input.parse::<kw::guard>()?.span;
            let value = parse_value(input, "guard", parse_guard)?;
            set(&mut self.guard, &mut self.count, keyword, value)
        } else if lookahead.peek(kw::renew) {
            let keyword = input.parse::<kw::renew>()?.span;
            let value = parse_value(input, "renew", |input| parse_bool(input, "renew"))?;
            set(&mut self.renew, &mut self.count, keyword, value)
        } else if lookahead.peek(kw::fencing) {
            let keyword = input.parse::<kw::fencing>()?.span;
            let value = parse_value(input, "fencing", |input| parse_bool(input, "fencing"))?;
            set(&mut self.fencing, &mut self.count, keyword, value)
        } else if lookahead.peek(kw::on_lost) {
            let keyword = input.parse::<kw::on_lost>()?.span;
            let value = parse_value(input, "on_lost", parse_on_lost)?;
            set(&mut self.on_lost, &mut self.count, keyword, value)
        } else if lookahead.peek(Token![crate]) {
            let keyword = input.parse::<Token![crate]>()?.span;
            let value = parse_value(input, "crate", parse_crate_path)?;
            set(&mut self.krate, &mut self.count, keyword, value)
        } else if input.peek(Ident) {
            let unknown: Ident = input.parse()?;
            Err(unknown_option(&unknown))
        } else if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            Err(syn::Error::new(
                lit.span(),
                format!(
                    "several lock names go in one list: write `[\"first\", {}]` as the first \
                     argument",
                    quote::ToTokens::to_token_stream(&lit)
                ),
            ))
        } else {
            Err(lookahead.error())
        }
    }

    fn cross_check(&self, errors: &mut Errors) {
        if let (Some(server), Some(client)) = (&self.server, &self.client) {
            errors.push(syn::Error::new(
                later(server, client),
                "`server` and `client` cannot be used together: a client already knows its \
                 server; keep `client = ...` and open it with `Client::open(\"redis://...\")`, \
                 or drop `client` and keep `server = \"redis://...\"`",
            ));
        }
    }
}

fn set<T>(
    slot: &mut Option<Opt<T>>,
    order: &mut usize,
    keyword: Span,
    value: T,
) -> syn::Result<()> {
    *order += 1;
    *slot = Some(Opt {
        keyword,
        value,
        order: *order,
    });
    Ok(())
}

/// Parses `= value`, pointing at the option when the `=` is missing (a bare flag).
fn parse_value<T>(
    input: ParseStream<'_>,
    name: &str,
    value: impl FnOnce(ParseStream<'_>) -> syn::Result<T>,
) -> syn::Result<T> {
    if !input.peek(Token![=]) {
        let example = match name {
            "server" => "server = \"redis://127.0.0.1:6379/\"",
            "client" => "client = my_client()",
            "ttl" => "ttl = \"30s\"",
            "wait" => "wait = \"5s\"",
            "prefix" => "prefix = \"MUTEX_\"",
            "guard" => "guard = lock",
            "renew" => "renew = false",
            "fencing" => "fencing = true",
            "on_lost" => "on_lost = \"continue\"",
            _ => "crate = ::redis_mutex",
        };
        return Err(syn::Error::new(
            input.span(),
            format!("expected `=` after `{name}`: write `{example}`"),
        ));
    }
    input.parse::<Token![=]>()?;
    value(input)
}

fn string_literal(input: ParseStream<'_>, name: &str, example: &str) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    let expr: Expr = input.parse()?;
    Err(syn::Error::new_spanned(
        &expr,
        format!("`{name}` takes a string literal: write `{name} = {example}`"),
    ))
}

fn parse_server(input: ParseStream<'_>) -> syn::Result<LitStr> {
    if !input.peek(LitStr) {
        let expr: Expr = input.parse()?;
        return Err(syn::Error::new_spanned(
            &expr,
            "`server` takes a string literal URL, as in `server = \"redis://127.0.0.1:6379/\"`; \
             for a URL known only at run time, use `client = ...` with a `Client` opened from it",
        ));
    }
    let lit: LitStr = input.parse()?;
    let url = lit.value();
    if url.trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "empty `server`: write a URL such as `\"redis://127.0.0.1:6379/\"`, or drop \
             `server` to use the default (`REDIS_MUTEX_URL`, `REDIS_URL`, then \
             `redis://127.0.0.1:6379/`)",
        ));
    }
    if !url.contains("://") {
        // The seed took a bare host (`server="127.0.0.1"`): say what to write instead.
        return Err(syn::Error::new(
            lit.span(),
            format!("`server` takes a URL, not a host name: write `\"redis://{url}/\"`"),
        ));
    }
    if let Some(problem) = crate::cluster_url::problem(&url) {
        return Err(syn::Error::new(
            lit.span(),
            format!("invalid cluster URL in `server`: {problem}"),
        ));
    }
    check_redlock_url(&url).map_err(|reason| syn::Error::new(lit.span(), reason))?;
    if let Err(reason) = check_sentinel_url(&url) {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "invalid Sentinel URL: {reason}; write \
                 `\"redis+sentinel://host:port[,host:port…]/<master-name>[/<db>]\"`"
            ),
        ));
    }
    Ok(lit)
}

/// The fewest masters a `redis+redlock://` URL may list (as `Client::open` checks).
const MIN_REDLOCK_MASTERS: usize = 3;

/// Checks the form of a `redis+redlock://` (or `rediss+redlock://`) URL: at least three
/// masters, each `host` or `host:port` with a valid port, none listed twice. Other URLs pass
/// (the client checks them when opened).
fn check_redlock_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(());
    };
    if !matches!(
        scheme.to_ascii_lowercase().as_str(),
        "redis+redlock" | "rediss+redlock"
    ) {
        return Ok(());
    }
    let example = "`\"redis+redlock://host1:6379,host2:6379,host3:6379\"`";
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hosts = authority
        .rsplit_once('@')
        .map_or(authority, |(_, hosts)| hosts);
    let mut seen = Vec::new();
    for host in hosts.split(',').map(str::trim) {
        let (name, port) = match host.strip_prefix('[') {
            // `[v6]` or `[v6]:port`
            Some(_) => host.split_once("]:").unwrap_or((host, "6379")),
            None => host.rsplit_once(':').unwrap_or((host, "6379")),
        };
        if name.is_empty() {
            return Err(format!(
                "a Redlock master's address is empty: write {example}"
            ));
        }
        if !port.parse::<u16>().is_ok_and(|port| port > 0) {
            return Err(format!(
                "the Redlock master `{host}` has no valid port (1-65535): write {example}"
            ));
        }
        if seen.contains(&host) {
            return Err(format!(
                "the Redlock master `{host}` is listed twice; each must be a different server"
            ));
        }
        seen.push(host);
    }
    if seen.len() < MIN_REDLOCK_MASTERS {
        return Err(format!(
            "Redlock needs at least {MIN_REDLOCK_MASTERS} independent masters, and this URL \
             lists {}: write {example}, or `\"redis://host:6379/\"` for one server",
            seen.len()
        ));
    }
    Ok(())
}

/// The syntax of a `redis+sentinel://` URL (other URLs pass): sentinels `host[:port]`, a
/// master name, an optional database. The run-time parser (`redis_mutex`'s
/// `client/sentinel_url.rs`) decides the rest; this catches at compile time what it would
/// refuse at run time.
fn check_sentinel_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(());
    };
    if !["redis+sentinel", "rediss+sentinel"]
        .iter()
        .any(|sentinel| scheme.eq_ignore_ascii_case(sentinel))
    {
        return Ok(());
    }
    if rest.contains(['?', '#']) {
        return Err("a Sentinel URL takes no query or fragment".into());
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let hosts = authority
        .rsplit_once('@')
        .map_or(authority, |(_, hosts)| hosts);
    for address in hosts.split(',') {
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) if !port.ends_with(']') => (host, Some(port)),
            _ => (address, None),
        };
        if host.is_empty() {
            return Err(format!("sentinel address `{address}` has no host"));
        }
        if port.is_some_and(|port| port.parse::<u16>().is_err() || port == "0") {
            return Err(format!(
                "sentinel address `{address}`: the port is not in 1-65535"
            ));
        }
    }
    let mut segments = path.split('/');
    if segments.next().unwrap_or_default().is_empty() {
        return Err("no master name after the sentinels".into());
    }
    if segments
        .next()
        .is_some_and(|db| !db.is_empty() && db.parse::<u32>().is_err())
    {
        return Err("the database after the master name is not a number".into());
    }
    if segments.any(|segment| !segment.is_empty()) {
        return Err("too many path segments".into());
    }
    Ok(())
}

fn parse_duration(input: ParseStream<'_>, name: &str) -> syn::Result<(LitStr, Duration)> {
    if !input.peek(LitStr) {
        let expr: Expr = input.parse()?;
        let example = match &expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(int), ..
            }) => format!("\"{}s\"", int.base10_digits()),
            _ => "\"10s\"".to_owned(),
        };
        return Err(syn::Error::new_spanned(
            &expr,
            format!(
                "`{name}` takes a duration string with a unit: write `{name} = {example}` \
                 (units: `ms`, `s`, `m`, `h`; combine as in `\"1m 30s\"`)"
            ),
        ));
    }
    let lit: LitStr = input.parse()?;
    let text = lit.value();
    match humantime::parse_duration(text.trim()) {
        Ok(duration) => Ok((lit, duration)),
        Err(error) => Err(syn::Error::new(
            lit.span(),
            format!(
                "invalid duration `{text}` for `{name}` ({error}): write a number with a unit, \
                 as in `\"500ms\"`, `\"10s\"` or `\"1m 30s\"`"
            ),
        )),
    }
}

fn parse_ttl(input: ParseStream<'_>) -> syn::Result<Duration> {
    let (lit, ttl) = parse_duration(input, "ttl")?;
    // The runtime's minimum (`redis_mutex`'s `MIN_TTL`, checked against this one by the
    // workspace's tests/bad_input.rs).
    if ttl < Duration::from_millis(100) {
        return Err(syn::Error::new(
            lit.span(),
            "`ttl` must be at least 100ms (a shorter lease runs out before it can be renewed): \
             write a lease such as `\"30s\"`",
        ));
    }
    if ttl.as_millis() > (i64::MAX / 2) as u128 {
        return Err(syn::Error::new(
            lit.span(),
            "`ttl` is too large for Redis: write a lease such as `\"30s\"`",
        ));
    }
    Ok(ttl)
}

fn parse_wait(input: ParseStream<'_>) -> syn::Result<Wait> {
    if input.peek(LitStr) {
        let fork = input.fork();
        let lit: LitStr = fork.parse()?;
        if lit.value().trim() == "forever" {
            input.parse::<LitStr>()?;
            return Ok(Wait::Forever);
        }
    }
    let (_, wait) = parse_duration(input, "wait")?;
    Ok(if wait.is_zero() {
        Wait::Try
    } else {
        Wait::For(wait)
    })
}

fn parse_guard(input: ParseStream<'_>) -> syn::Result<Ident> {
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`guard` takes a variable name, not a string: write `guard = {}`",
                lit.value()
            ),
        ));
    }
    if input.peek(Token![_]) {
        let underscore: Token![_] = input.parse()?;
        return Err(syn::Error::new(
            underscore.span,
            "`guard = _` binds nothing: drop `guard`, or name the guard, as in `guard = lock`",
        ));
    }
    input.parse::<Ident>().map_err(|error| {
        syn::Error::new(
            error.span(),
            "`guard` takes a variable name: write `guard = lock`",
        )
    })
}

fn parse_bool(input: ParseStream<'_>, name: &str) -> syn::Result<bool> {
    if input.peek(LitBool) {
        return Ok(input.parse::<LitBool>()?.value);
    }
    let expr: Expr = input.parse()?;
    let hint = match &expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) if s.value() == "true" || s.value() == "false" => s.value(),
        _ => "true".to_owned(),
    };
    Err(syn::Error::new_spanned(
        &expr,
        format!("`{name}` takes `true` or `false`: write `{name} = {hint}`"),
    ))
}

fn parse_on_lost(input: ParseStream<'_>) -> syn::Result<OnLostArg> {
    const EXPECTED: &str = "`on_lost` takes `\"cancel\"` (stop the body at its next `.await` and \
                            return the lost-lock error) or `\"continue\"` (let it finish)";
    if !input.peek(LitStr) {
        // `on_lost = cancel` or `on_lost = continue` (a keyword): say to quote it.
        let expr: Expr = input.parse()?;
        let written = quote::ToTokens::to_token_stream(&expr).to_string();
        let hint = match written.as_str() {
            "cancel" | "continue" => format!("write `on_lost = \"{written}\"`"),
            _ => "write `on_lost = \"cancel\"` or `on_lost = \"continue\"`".to_owned(),
        };
        return Err(syn::Error::new_spanned(
            &expr,
            format!("{EXPECTED}: {hint}"),
        ));
    }
    let lit: LitStr = input.parse()?;
    let text = lit.value();
    let policy = match text.trim() {
        "cancel" => OnLost::Cancel,
        "continue" => OnLost::Continue,
        other => {
            let hint = ["cancel", "continue"]
                .into_iter()
                .find(|policy| edit_distance(other, policy) <= 2)
                .map_or_else(String::new, |policy| {
                    format!("; did you mean `\"{policy}\"`?")
                });
            return Err(syn::Error::new(
                lit.span(),
                format!("{EXPECTED}, not `{text:?}`{hint}"),
            ));
        }
    };
    Ok(OnLostArg { policy, lit })
}

fn parse_crate_path(input: ParseStream<'_>) -> syn::Result<Path> {
    if input.peek(LitStr) {
        // Also accept serde's spelling, `crate = "path"`.
        let lit: LitStr = input.parse()?;
        return lit.parse_with(Path::parse_mod_style).map_err(|_| {
            syn::Error::new(
                lit.span(),
                "`crate` takes the path of the `redis_mutex` crate: write \
                 `crate = ::my_facade::redis_mutex`",
            )
        });
    }
    input.call(Path::parse_mod_style).map_err(|error| {
        syn::Error::new(
            error.span(),
            "`crate` takes the path of the `redis_mutex` crate: write \
             `crate = ::my_facade::redis_mutex`",
        )
    })
}

fn not_a_name(expr: &Expr) -> syn::Error {
    let message = match expr {
        Expr::Lit(syn::ExprLit { lit, .. }) => {
            let text = match lit {
                Lit::Int(int) => int.base10_digits().to_owned(),
                Lit::Float(float) => float.base10_digits().to_owned(),
                Lit::Char(c) => c.value().to_string(),
                Lit::Bool(b) => b.value.to_string(),
                _ => "orders".to_owned(),
            };
            format!("lock names are string literals: write `\"{text}\"`")
        }
        Expr::Path(path) if path.path.get_ident().is_some() => {
            let ident = path.path.segments[0].ident.to_string();
            format!(
                "lock names are string literals: write `\"{ident}\"`, or `\"{{{ident}}}\"` to \
                 use the value of the argument `{ident}`"
            )
        }
        Expr::Assign(_) => "missing lock name: the name comes first, as in \
             `#[mutex(\"name\", ttl = \"10s\")]`"
            .to_owned(),
        _ => "lock names are string literals, as in `\"orders\"`; to build a name from the \
              function's arguments, use placeholders, as in `\"account:{id}\"`"
            .to_owned(),
    };
    syn::Error::new(expr.span(), message)
}

fn unknown_option(unknown: &Ident) -> syn::Error {
    let name = unknown.to_string();
    // Spellings users bring from the seed (Python), from other lock libraries or from typos.
    let hint = match name.as_str() {
        "blocking" | "nonblocking" | "non_blocking" | "try_lock" | "try" => {
            Some("for one attempt without waiting, write `wait = \"0s\"`".to_owned())
        }
        "timeout" | "wait_timeout" | "acquire_timeout" | "max_wait" => {
            Some("to bound the wait, write `wait = \"5s\"`".to_owned())
        }
        "ex" | "px" | "expire" | "expiry" | "lease" | "lease_time" | "timeout_ttl" => {
            Some("for the lease, write `ttl = \"30s\"`".to_owned())
        }
        "url" | "host" | "redis" | "addr" | "address" => {
            Some("for the server, write `server = \"redis://127.0.0.1:6379/\"`".to_owned())
        }
        "name" | "names" | "key" | "keys" => Some(
            "the lock name is the first argument, as in `#[mutex(\"orders\", ...)]`".to_owned(),
        ),
        "renewal" | "auto_renew" | "autorenew" | "refresh" => {
            Some("write `renew = false` to turn renewal off".to_owned())
        }
        "fence" | "fenced" | "fencing_token" => Some("write `fencing = true`".to_owned()),
        "cancel" | "on_loss" | "on_lose" | "if_lost" | "when_lost" | "cancel_on_lost"
        | "abort_on_lost" | "cancel_on_loss" => Some(
            "to choose what happens when the lock is lost, write `on_lost = \"cancel\"` or \
             `on_lost = \"continue\"`"
                .to_owned(),
        ),
        "krate" | "redis_mutex" => Some("write `crate = path::to::redis_mutex`".to_owned()),
        "bind" | "as_" | "lock" => Some("to reach the guard, write `guard = lock`".to_owned()),
        _ => closest(&name).map(|option| format!("did you mean `{option}`?")),
    };
    let expected = OPTIONS
        .iter()
        .map(|option| format!("`{option}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = match hint {
        Some(hint) => format!("unknown option `{name}`: {hint} (options: {expected})"),
        None => format!("unknown option `{name}`: expected one of {expected}"),
    };
    syn::Error::new(unknown.span(), message)
}

/// The option within edit distance 2 of `name`, if any.
fn closest(name: &str) -> Option<&'static str> {
    OPTIONS
        .iter()
        .map(|option| (edit_distance(name, option), *option))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, option)| option)
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Skips tokens up to (not including) the next top-level comma, to resume after a mistake.
fn skip_to_comma(input: ParseStream<'_>) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if let proc_macro2::TokenTree::Punct(punct) = &tt
                && punct.as_char() == ','
            {
                return Ok(((), rest));
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(tokens: &str) -> Vec<String> {
        let mut errors = Errors::default();
        let _ = Args::parse(tokens.parse().unwrap(), &mut errors);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_every_option() {
        let ok = errors(
            r#"["a", "b:{id}"], server = "redis://h/1", ttl = "10s", wait = "0s",
               prefix = "P_", guard = lock, renew = false, fencing = true, on_lost = "continue",
               crate = ::x::y,"#,
        );
        assert!(ok.is_empty(), "{ok:?}");
        assert!(errors(r#""a", client = crate::locks()"#).is_empty());
        assert!(errors(r#""a", client = crate::locks(), prefix = "app:""#).is_empty());
        assert!(errors(r#""a", on_lost = "cancel""#).is_empty());
        assert!(errors(r#""a", wait = "forever", crate = "::x""#).is_empty());
    }

    #[test]
    fn checks_redlock_urls() {
        for ok in [
            "redis+redlock://a:1,b:2,c:3",
            "rediss+redlock://u:p@a,b:2,[::1]:3/2",
            "REDIS+REDLOCK://a:1,b:1,c:1,d:1",
        ] {
            assert!(
                errors(&format!(r#""x", server = "{ok}""#)).is_empty(),
                "{ok}"
            );
        }
        for (url, says) in [
            ("redis+redlock://a:1,b:2", "at least 3 independent masters"),
            ("redis+redlock://a:1,a:1,b:2", "listed twice"),
            ("redis+redlock://a:1,b:x,c:3", "no valid port"),
            ("redis+redlock://a:1,,c:3", "empty"),
        ] {
            let error = errors(&format!(r#""x", server = "{url}""#));
            assert!(
                error.len() == 1 && error[0].contains(says),
                "{url}: {error:?}"
            );
        }
    }

    #[test]
    fn reports_every_mistake() {
        let all = errors(r#""a", tll = "1s", wait = "soon", ttl = 30, ttl = "1s", ttl = "2s""#);
        assert_eq!(all.len(), 5, "{all:?}");
        assert!(all[0].contains("did you mean `ttl`"), "{all:?}");
        assert!(all[1].contains("invalid duration `soon`"), "{all:?}");
        assert!(all[2].contains("write `ttl = \"30s\"`"), "{all:?}");
        assert!(all[3].contains("`ttl` is given twice"), "{all:?}");
        assert!(all[4].contains("`ttl` is given twice"), "{all:?}");
    }

    #[test]
    fn names() {
        assert!(errors("")[0].contains("missing lock name"));
        assert!(errors("[]")[0].contains("empty list"));
        assert!(errors(r#""""#)[0].contains("empty lock name"));
        assert!(errors("orders")[0].contains(r#"write `"orders"`"#));
        assert!(errors("42")[0].contains(r#"write `"42"`"#));
        assert!(errors(r#"ttl = "1s""#)[0].contains("the name comes first"));
        assert!(errors(r#""a", "b""#)[0].contains("one list"));
        assert!(errors(r#"["a", b]"#)[0].contains(r#"write `"b"`"#));
    }

    #[test]
    fn combinations_and_hints() {
        assert!(errors(r#""a", server = "redis://h", client = c()"#)[0].contains("together"));
        assert!(errors(r#""a", blocking = false"#)[0].contains(r#"wait = "0s""#));
        assert!(errors(r#""a", server = "10.0.0.5""#)[0].contains(r#""redis://10.0.0.5/""#));
        for (url, expected) in [
            ("redis+sentinel://h:26379", "no master name"),
            ("rediss+sentinel://h:26379/", "no master name"),
            ("redis+sentinel:///m", "has no host"),
            ("redis+sentinel://h:1,/m", "has no host"),
            ("redis+sentinel://h:70000/m", "not in 1-65535"),
            ("redis+sentinel://h:0/m", "not in 1-65535"),
            ("redis+sentinel://h:1/m/x", "not a number"),
            ("redis+sentinel://h:1/m/1/x", "too many"),
            ("redis+sentinel://h:1/m?db=1", "no query"),
        ] {
            let error = &errors(&format!(r#""a", server = "{url}""#))[0];
            assert!(error.contains(expected), "{url}: {error}");
            assert!(error.contains("invalid Sentinel URL"), "{url}: {error}");
        }
        for url in [
            "redis+sentinel://h:1,[::1]:2,h3/m",
            "REDIS+SENTINEL://u:p@h:1/m/2/",
            "redis://anything/goes",
        ] {
            assert!(
                errors(&format!(r#""a", server = "{url}""#)).is_empty(),
                "{url}"
            );
        }
        assert!(errors(r#""a", ttl = "0s""#)[0].contains("at least 100ms"));
        assert!(errors(r#""a", ttl = "99ms""#)[0].contains("at least 100ms"));
        assert!(errors(r#""a", ttl = "100ms""#).is_empty());
        assert!(errors(r#""a", fencing"#)[0].contains("fencing = true"));
        assert!(errors(r#""a", guard = "g""#)[0].contains("guard = g"));
    }

    #[test]
    fn on_lost() {
        assert!(errors(r#""a", on_lost = cancel"#)[0].contains(r#"write `on_lost = "cancel"`"#));
        assert!(
            errors(r#""a", on_lost = continue"#)[0].contains(r#"write `on_lost = "continue"`"#)
        );
        assert!(errors(r#""a", on_lost = "cancle""#)[0].contains(r#"did you mean `"cancel"`"#));
        let abort = &errors(r#""a", on_lost = "abort""#)[0];
        assert!(abort.contains(r#"not `"abort"`"#), "{abort}");
        assert!(!abort.contains("did you mean"), "{abort}");
        assert!(errors(r#""a", on_lost"#)[0].contains(r#"on_lost = "continue""#));
        assert!(errors(r#""a", on_loss = "cancel""#)[0].contains(r#"on_lost = "cancel""#));
        assert!(errors(r#""a", on_lost = "cancel", on_lost = "continue""#)[0].contains("twice"));
    }
}
