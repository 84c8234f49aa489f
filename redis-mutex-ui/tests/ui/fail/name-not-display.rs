use redis_mutex::mutex;

struct Order {
    id: u64,
}

#[mutex("order:{order}")]
fn ship(order: Order) -> u64 {
    order.id
}

fn main() {
    let _ = ship(Order { id: 1 });
}
