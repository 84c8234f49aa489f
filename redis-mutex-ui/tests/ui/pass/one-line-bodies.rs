//! One-line bodies, sync and async: the expansion must not make the user's braces look
//! unnecessary (`unused_braces`) or trip any other lint.
#![deny(warnings)]

use redis_mutex::mutex;

#[mutex("b")]
fn identity(x: u32) -> u32 { x }

#[mutex("b")]
fn literal() -> u32 { 3 }

#[mutex("b")]
fn unit() {}

#[mutex("b")]
fn call(x: u32) -> String { x.to_string() }

#[mutex("b")]
async fn identity_async(x: u32) -> u32 { x }

#[mutex("b")]
async fn literal_async() -> u32 { 3 }

#[mutex("b")]
async fn result_async(x: u32) -> redis_mutex::Result<u32> { Ok(x) }

#[mutex("b", guard = lock)]
fn guard_only() -> bool { lock.is_some() }

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    if std::env::args().len() > 1000 {
        let _ = (identity(1), literal(), call(2), guard_only());
        unit();
        drop((identity_async(1), literal_async(), result_async(2)));
    }
}
