//! With `#[tracing::instrument]`, in both orders, sync and async.
#![deny(warnings)]

use redis_mutex::mutex;

#[mutex("traced:{id}")]
#[tracing::instrument]
fn mutex_then_instrument(id: u64) -> u64 {
    id
}

#[tracing::instrument]
#[mutex("traced:{id}")]
fn instrument_then_mutex(id: u64) -> u64 {
    id
}

#[mutex("traced:{id}")]
#[tracing::instrument(err)]
async fn async_mutex_then_instrument(id: u64) -> Result<u64, redis_mutex::Error> {
    Ok(id)
}

#[tracing::instrument(ret)]
#[mutex("traced:{id}", guard = lock)]
async fn async_instrument_then_mutex(id: u64) -> u64 {
    lock.map_or(id, |_| id + 1)
}

fn assert_send<T: Send>(_: T) {}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    if std::env::args().len() > 1000 {
        let _ = (mutex_then_instrument(1), instrument_then_mutex(2));
        assert_send(async_mutex_then_instrument(3));
        assert_send(async_instrument_then_mutex(4));
    }
}
