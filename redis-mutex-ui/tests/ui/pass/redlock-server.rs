//! `server = "redis+redlock://…"` is accepted at compile time (tests/redlock.rs runs the
//! attribute against real masters through `client = …`, since their ports are known only at
//! run time).
#![deny(warnings)]

use redis_mutex::mutex;

#[mutex("orders", server = "redis+redlock://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002")]
fn on_three_masters() {}

#[mutex("jobs", server = "redis+redlock://app:pw@10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5/2")]
async fn on_five_masters() -> Result<(), redis_mutex::Error> {
    Ok(())
}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    // Compile-only: these would need the masters to run.
    let _ = (on_three_masters as fn(), on_five_masters);
}
