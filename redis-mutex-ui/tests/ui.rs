//! Compile-time behaviour of `#[mutex]`, through the `redis_mutex` facade as users see it.
//!
//! * `ui_pass` (`ui/pass`): every supported function shape expands, under `#![deny(warnings)]`.
//!   The cases are modules of one program, this package's `ui-pass` binary
//!   (tests/ui/pass/main.rs), which Cargo builds with this test, outside test mode; this test
//!   runs it. A case that stops compiling fails the build, with the compiler's diagnostic.
//!   Runs on every compiler.
//! * `ui_fail` (`ui/fail`): one mistake per file, checked by trybuild (`cargo check` of each
//!   file as a program of its own); the `.stderr` next to it is the exact diagnostic, with the
//!   caret under the guilty token.
//!
//! The `.stderr` files are generated, never hand-written: after changing a message, run
//! `TRYBUILD=overwrite cargo test -p redis-mutex-ui --test ui`, read the diff, commit it. They
//! were recorded with the `rustc` release named in the package's build.rs (`UI_STDERR_RUSTC`);
//! another release may word its own notes differently. On any other compiler, build.rs sets the cfg
//! `ui_stderr_other_rustc`, which makes `ui_fail` an ignored test: the test summary reports it
//! as skipped (`1 ignored`, with the reason), never as passed. To compare anyway:
//! `cargo test -p redis-mutex-ui --test ui -- --include-ignored`.

use std::process::Command;

#[test]
fn ui_pass() {
    let output = Command::new(env!("CARGO_BIN_EXE_ui-pass"))
        .output()
        .expect("the ui-pass binary runs");
    assert!(
        output.status.success(),
        "ui-pass failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

#[test]
#[cfg_attr(
    ui_stderr_other_rustc,
    ignore = "skipped: tests/ui/fail/*.stderr were recorded with another rustc release (build.rs)"
)]
fn ui_fail() {
    trybuild::TestCases::new().compile_fail("tests/ui/fail/*.rs");
}
