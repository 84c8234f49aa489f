//! Every mistake is reported in one build, and callers still compile (the function is kept).
use redis_mutex::mutex;

#[mutex("account:{acount}", ttl = 30, wait = "soon", tll = "1s", wait = "2s")]
fn transfer(account: u64) -> u64 {
    account
}

fn main() {
    let _ = transfer(1);
}
