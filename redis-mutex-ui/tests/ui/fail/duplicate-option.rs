use redis_mutex::mutex;

#[mutex("orders", ttl = "10s", wait = "1s", ttl = "20s")]
fn twice() {}

fn main() {
    twice();
}
