//! Compile-time behaviour of `#[mutex]`, through the `redis_mutex` facade as users see it.
//!
//! * `ui/pass`: every supported function shape expands, under `#![deny(warnings)]`.
//! * `ui/fail`: one mistake per file; the `.stderr` next to it is the exact diagnostic, with the
//!   caret under the guilty token.
//!
//! The `.stderr` files are generated, never hand-written: after changing a message, run
//! `TRYBUILD=overwrite cargo test --test ui`, read the diff, commit it. They match the
//! toolchain CI uses (the machine's stable `rustc`); another compiler version may word its own
//! notes differently.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
