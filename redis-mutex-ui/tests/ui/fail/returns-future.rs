use std::future::Future;
use std::pin::Pin;

use redis_mutex::mutex;

#[mutex("orders")]
fn impl_future() -> impl Future<Output = u32> {
    async { 3 }
}

#[mutex("orders")]
fn boxed_future() -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async { 3 })
}

fn main() {
    drop((impl_future(), boxed_future()));
}
