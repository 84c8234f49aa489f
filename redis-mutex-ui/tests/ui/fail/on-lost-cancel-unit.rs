use redis_mutex::mutex;

#[mutex("report", on_lost = "cancel")]
async fn report() {}

fn main() {
    drop(report());
}
