use redis_mutex::mutex;

#[mutex("orders", ttl = "10 seconds please")]
fn words() {}

#[mutex("orders", wait = 5)]
fn bare_number() {}

#[mutex("orders", ttl = "0s")]
fn zero_ttl() {}

fn main() {
    words();
    bare_number();
    zero_ttl();
}
