use redis_mutex::mutex;

// The Python original took a host: `@mutex("orders", server="10.0.0.5")`.
#[mutex("orders", server = "10.0.0.5")]
fn host_only() {}

fn main() {
    host_only();
}
