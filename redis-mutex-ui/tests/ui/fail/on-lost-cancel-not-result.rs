use redis_mutex::mutex;

#[mutex("report", on_lost = "cancel")]
async fn report() -> Option<u32> {
    Some(1)
}

fn main() {
    drop(report());
}
