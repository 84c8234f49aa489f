use redis_mutex::mutex;

#[mutex("orders", client = "redis://127.0.0.1/")]
fn url_string() {}

fn main() {
    url_string();
}
