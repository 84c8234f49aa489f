//! Compile-time behaviour of `#[mutex]`, through the `redis_mutex` facade as users see it.
//!
//! * `ui/pass`: every supported function shape expands, under `#![deny(warnings)]`.
//! * `ui/fail`: one mistake per file; the `.stderr` next to it is the exact diagnostic, with the
//!   caret under the guilty token.
//!
//! The `.stderr` files are generated, never hand-written: after changing a message, run
//! `TRYBUILD=overwrite cargo test --test ui`, read the diff, commit it. They were recorded with
//! [`RECORDED_WITH`]; another compiler release may word its own notes differently, so there the
//! fail cases are skipped (with a message saying so), unless `REDIS_MUTEX_UI_EXACT=1` asks for
//! them. The pass cases run on every compiler.

use std::process::Command;

/// The `rustc` release the `.stderr` files were recorded with.
const RECORDED_WITH: &str = "1.95.";

fn rustc_release() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    Command::new(rustc)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

#[test]
fn ui() {
    let version = rustc_release();
    let exact = version.starts_with(&format!("rustc {RECORDED_WITH}"))
        || std::env::var_os("REDIS_MUTEX_UI_EXACT").is_some();
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    if exact {
        cases.compile_fail("tests/ui/fail/*.rs");
    } else {
        eprintln!(
            "ui: SKIPPED the fail cases: {} is not the rustc {RECORDED_WITH}x their .stderr files \
             were recorded with (set REDIS_MUTEX_UI_EXACT=1 to compare anyway)",
            version.trim()
        );
    }
}
