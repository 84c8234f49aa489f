use redis_mutex::mutex;

#[mutex([])]
fn nothing_to_lock() {}

fn main() {
    nothing_to_lock();
}
