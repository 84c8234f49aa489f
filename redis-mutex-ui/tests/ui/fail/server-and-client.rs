use redis_mutex::{Client, mutex};

fn locks() -> Client {
    Client::open("redis://127.0.0.1/").unwrap()
}

#[mutex("orders", server = "redis://127.0.0.1:6380/", client = locks())]
fn both() {}

fn main() {
    both();
}
