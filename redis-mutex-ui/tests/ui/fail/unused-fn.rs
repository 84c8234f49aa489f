//! Lints on the user's function still fire through the expansion.
#![deny(dead_code)]

use redis_mutex::mutex;

#[mutex("orders")]
fn never_called() {}

fn main() {}
