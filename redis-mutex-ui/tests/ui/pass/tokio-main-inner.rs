//! `#[mutex]` below `#[tokio::main]`: it sees the generated sync `fn` and locks around the
//! whole runtime with the blocking API.
#![deny(warnings)]

use redis_mutex::mutex;

#[tokio::main(flavor = "current_thread")]
#[mutex("main")]
async fn run() {
    tokio::task::yield_now().await;
}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    let _ = run as fn();
}
