//! `#[mutex]` above `#[tokio::main]`: the lock is awaited inside the runtime.
#![deny(warnings)]

use redis_mutex::mutex;

#[mutex("main")]
#[tokio::main]
async fn run() -> Result<(), redis_mutex::Error> {
    tokio::task::yield_now().await;
    Ok(())
}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    let _ = run as fn() -> Result<(), redis_mutex::Error>;
}
