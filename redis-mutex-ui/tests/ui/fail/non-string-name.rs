use redis_mutex::mutex;

#[mutex(orders)]
fn identifier() {}

#[mutex(42)]
fn number() {}

fn main() {
    identifier();
    number();
}
