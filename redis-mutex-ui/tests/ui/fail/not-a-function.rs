use redis_mutex::mutex;

#[mutex("orders")]
struct Orders;

#[mutex("orders")]
const LIMIT: u32 = 3;

fn main() {
    let _ = (Orders, LIMIT);
}
