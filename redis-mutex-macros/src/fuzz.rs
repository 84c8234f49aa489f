//! Property tests: whatever tokens the attribute is given, parsing them ([`Args::parse`]) and
//! expanding the attribute on a function ([`expand::mutex`]) never panic; mistakes come out as
//! `syn::Error`s (compile errors), never as a crashed macro.
//!
//! Three kinds of input, a few hundred cases each (CI-sized: well under a second):
//! arbitrary text that happens to lex as Rust tokens, token soups drawn from the attribute's own
//! vocabulary (options, typos, keywords, literals, nested groups), and well-formed `key = value`
//! lists with arbitrary values.

use proc_macro2::TokenStream;
use proptest::prelude::*;
use quote::quote;

use crate::args::{Args, Errors};
use crate::expand;

/// Functions the attribute is expanded on: arguments to match placeholders against, `async`,
/// methods, results.
fn items() -> Vec<TokenStream> {
    vec![
        quote!(
            fn transfer(from: u64, to: u64, r#type: &str) {}
        ),
        quote!(
            async fn run(&self, job: Job, _unused: u8) -> Result<(), redis_mutex::Error> {
                Ok(())
            }
        ),
        quote!(
            pub fn plain() -> i32 {
                1
            }
        ),
        quote!(
            fn pattern((a, b): (u8, u8), Point { x, .. }: Point) {}
        ),
    ]
}

/// Parses `tokens` as the attribute's arguments, then expands the attribute with them on every
/// item of [`items`]. Panics only if the macro does.
fn parse_and_expand(tokens: &TokenStream) {
    let mut errors = Errors::default();
    let _ = Args::parse(tokens.clone(), &mut errors);
    let _: syn::Result<()> = errors.finish();
    for item in items() {
        let _ = expand::mutex(tokens.clone(), item);
    }
}

/// Strings that look like what goes in the attribute's literals: durations (also overflowing
/// ones), policies, URLs, placeholders, and anything at all.
fn literal_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,24} ?(ns|us|ms|s|m|min|h|d|w|y|M)?",
        "[0-9]{1,3}(s|ms) [0-9]{1,3}(s|ms)",
        Just("forever".to_owned()),
        Just("cancel".to_owned()),
        Just("continue".to_owned()),
        "(redis|rediss|redis\\+unix|http)?(://)?[a-z0-9.:@/]{0,20}",
        "[a-z:]{0,6}\\{[a-zA-Z0-9_.#: ]{0,8}\\}[a-z:{}]{0,6}",
        // Placeholders on the items' own arguments, with odd fields: indices, keywords, and
        // letters and digits in and out of Rust's identifier characters (`²`, `①`, `½` are not).
        "[a-z:]{0,4}\\{(r#)?(from|to|type|self|job|x)(\\.([a-z0-9_²³①½ⅰªé٣]{1,3}|[\\PC]{1,2})){0,2}\\}",
        "\\{[\\PC]{0,4}\\}",
        any::<String>(),
    ]
}

/// One token or a few, as source text: option names and near misses, keywords, punctuation,
/// literals of every kind.
fn leaf() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "server", "client", "ttl", "wait", "prefix", "guard", "renew", "fencing", "on_lost",
        "crate", "tll", "timeout", "blocking", "lock", "self", "Self", "super", "fn", "async",
        "r#type", "_", "true", "false", "cancel", "continue", "x", "c", "::", ":", "=", "==", ",",
        ",", ",", "=", "=", ";", "#", "!", "&", "*", "-", "..", ".", "'a", "?", "$",
    ])
    .prop_map(str::to_owned);
    prop_oneof![
        4 => words,
        2 => literal_text().prop_map(|text| format!("{text:?}")),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i128>().prop_map(|n| format!("{n}u128")),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:?}")),
        1 => any::<char>().prop_map(|c| format!("{c:?}")),
        1 => any::<Vec<u8>>().prop_map(|bytes| format!("b{:?}", String::from_utf8_lossy(&bytes))),
        1 => "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
    ]
}

/// Token soups: leaves and nested `[...]`, `(...)`, `{...}` groups, joined by spaces.
fn soup() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 48, 8, |inner| {
        (
            prop::collection::vec(inner, 0..8),
            prop::sample::select(vec![("[", "]"), ("(", ")"), ("{", "}"), ("", "")]),
        )
            .prop_map(|(parts, (open, close))| format!("{open}{}{close}", parts.join(" ")))
    })
}

/// Well-formed attribute arguments with arbitrary values: a name (or a list) and options.
fn well_formed() -> impl Strategy<Value = TokenStream> {
    let name = prop_oneof![
        literal_text().prop_map(|text| quote!(#text)),
        prop::collection::vec(literal_text(), 0..4).prop_map(|names| quote!([#(#names),*])),
    ];
    let option = (
        prop::sample::select(vec![
            "server", "ttl", "wait", "prefix", "on_lost", "crate", "renew", "fencing", "guard",
        ]),
        literal_text(),
        any::<bool>(),
    )
        .prop_map(|(key, text, flag)| {
            let key = syn::Ident::new(key, proc_macro2::Span::call_site());
            match key.to_string().as_str() {
                "renew" | "fencing" => quote!(#key = #flag),
                "guard" => quote!(#key = lock),
                _ => quote!(#key = #text),
            }
        });
    (name, prop::collection::vec(option, 0..6))
        .prop_map(|(name, options)| quote!(#name #(, #options)*))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(text in "[\\PC]{0,40}|[a-z_ \"=,\\[\\]{}():.0-9#!]{0,60}") {
        // Only text that lexes as Rust tokens can reach an attribute.
        if let Ok(tokens) = text.parse::<TokenStream>() {
            parse_and_expand(&tokens);
        }
    }

    #[test]
    fn token_soups_never_panic(parts in prop::collection::vec(soup(), 0..10)) {
        if let Ok(tokens) = parts.join(" ").parse::<TokenStream>() {
            parse_and_expand(&tokens);
        }
    }

    #[test]
    fn well_formed_arguments_with_any_values_never_panic(tokens in well_formed()) {
        parse_and_expand(&tokens);
        // The same arguments written as source text parse the same way.
        let reparsed = syn::parse_str::<TokenStream>(&tokens.to_string()).unwrap();
        parse_and_expand(&reparsed);
    }
}
