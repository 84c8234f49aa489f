use redis_mutex::mutex;

#[mutex("orders:{id}", guard = id)]
fn shadow(id: u64) {}

#[mutex("orders", guard = "lock")]
fn string(id: u64) {}

fn main() {
    shadow(1);
    string(1);
}
