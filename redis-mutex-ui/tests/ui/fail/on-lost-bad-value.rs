use redis_mutex::mutex;

#[mutex("report", on_lost = "abort")]
async fn report() -> redis_mutex::Result<()> {
    Ok(())
}

fn main() {
    drop(report());
}
