use redis_mutex::mutex;

#[mutex("orders")]
const fn limit() -> u32 {
    3
}

fn main() {
    let _ = limit();
}
