use redis_mutex::mutex;

#[mutex("report", on_lost = "cancel")]
fn report() -> redis_mutex::Result<()> {
    Ok(())
}

fn main() {
    let _ = report();
}
