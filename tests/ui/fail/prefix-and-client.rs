use redis_mutex::{Client, mutex};

fn locks() -> Client {
    Client::open("redis://127.0.0.1/").unwrap()
}

#[mutex("orders", client = locks(), prefix = "app:")]
fn both() {}

fn main() {
    both();
}
