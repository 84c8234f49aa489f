use redis_mutex::mutex;

// A Redlock deployment needs a majority of at least three independent masters.
#[mutex("orders", server = "redis+redlock://127.0.0.1:7000,127.0.0.1:7001")]
fn two_masters() {}

fn main() {
    two_masters();
}
