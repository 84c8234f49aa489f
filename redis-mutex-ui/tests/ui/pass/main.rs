//! The UI pass cases of `#[mutex]`: every supported function shape expands and compiles, under
//! `#![deny(warnings)]`, through the `redis_mutex` facade as users see it. One module per file
//! of this directory, each with its own `#![deny(warnings)]`; `main` runs each module's `main`.
//!
//! Built as the `ui-pass` binary of the redis-mutex-ui package (its Cargo.toml), so a plain
//! `cargo build` or `cargo test` compiles it with the workspace's other targets and their
//! already-built dependencies, outside test mode (`#[test]` functions are configured out, as for
//! any program); tests/ui.rs (`ui_pass`) runs it. Before, trybuild built and ran each file as a
//! program of its own: a second build of every dependency and one build, link and `cargo run`
//! per file.
//!
//! The lints are those trybuild's programs had: rustc's defaults (made errors by
//! `deny(warnings)`), with `dead_code` allowed (trybuild passes `-A dead_code`); the workspace's
//! own `[lints]` (missing docs, unreachable `pub`, missing `Debug`) are for the crates' code and
//! are allowed here, except where a case turns one back on (docs-and-attributes-kept.rs:
//! `missing_docs`).
//!
//! The cases are kept as written, not as rustfmt would write them (one-line bodies, long
//! attribute arguments are part of what they check): each module is `#[rustfmt::skip]`.
#![deny(warnings)]
#![allow(
    dead_code,
    missing_docs,
    unreachable_pub,
    missing_debug_implementations
)]
// Clippy checks the cases too (trybuild's programs were never linted by it); `self: Box<Self>`
// is a shape under test (methods.rs), not a needless box.
#![allow(clippy::boxed_local)]

#[rustfmt::skip]
#[path = "async-trait.rs"]
pub mod async_trait_impls;
#[rustfmt::skip]
#[path = "docs-and-attributes-kept.rs"]
pub mod docs_and_attributes_kept;
#[rustfmt::skip]
#[path = "free-fns.rs"]
pub mod free_fns;
#[rustfmt::skip]
#[path = "generics.rs"]
pub mod generics;
#[rustfmt::skip]
#[path = "methods.rs"]
pub mod methods;
#[rustfmt::skip]
#[path = "on-lost.rs"]
pub mod on_lost;
#[rustfmt::skip]
#[path = "one-line-bodies.rs"]
pub mod one_line_bodies;
#[rustfmt::skip]
#[path = "redlock-server.rs"]
pub mod redlock_server;
#[rustfmt::skip]
#[path = "result-aliases.rs"]
pub mod result_aliases;
#[rustfmt::skip]
#[path = "tests-both-orders.rs"]
pub mod tests_both_orders;
#[rustfmt::skip]
#[path = "tokio-main-inner.rs"]
pub mod tokio_main_inner;
#[rustfmt::skip]
#[path = "tokio-main-outer.rs"]
pub mod tokio_main_outer;
#[rustfmt::skip]
#[path = "tracing-instrument.rs"]
pub mod tracing_instrument;
#[rustfmt::skip]
#[path = "trait-impls.rs"]
pub mod trait_impls;
#[rustfmt::skip]
#[path = "type-shadowing.rs"]
pub mod type_shadowing;
#[rustfmt::skip]
#[path = "unsafe-fn.rs"]
pub mod unsafe_fn;

/// Runs every case: each checks that its functions are usable as they are declared.
fn main() {
    async_trait_impls::main();
    docs_and_attributes_kept::main();
    free_fns::main();
    generics::main();
    methods::main();
    on_lost::main();
    one_line_bodies::main();
    redlock_server::main();
    result_aliases::main();
    tests_both_orders::main();
    tokio_main_inner::main();
    tokio_main_outer::main();
    tracing_instrument::main();
    trait_impls::main();
    type_shadowing::main();
    unsafe_fn::main();
}
