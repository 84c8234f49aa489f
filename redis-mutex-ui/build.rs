//! Build script of the (unpublished) UI test package: one cfg for tests/ui.rs.
//!
//! The `.stderr` files of the UI fail cases hold the exact diagnostics of one `rustc` release
//! ([`UI_STDERR_RUSTC`]); another release may word its own notes differently. On any other
//! compiler this sets `ui_stderr_other_rustc`, which marks the `ui_fail` test `#[ignore]`d, so
//! the test summary counts it as skipped instead of passing it without checking anything.

/// The `rustc` release the `.stderr` files under tests/ui/fail were recorded with.
const UI_STDERR_RUSTC: &str = "1.95.";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(ui_stderr_other_rustc)");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    if !version.starts_with(&format!("rustc {UI_STDERR_RUSTC}")) {
        println!("cargo::rustc-cfg=ui_stderr_other_rustc");
    }
}
