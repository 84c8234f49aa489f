//! `#[mutex]` stacked with `#[test]`, `#[tokio::test]` and `#[tracing::instrument]`, in both
//! orders, run for real: the lock is held while the body runs.

mod common;
mod support;

use common::{lock_held as held, shared_client as locks};
use redis_mutex::mutex;

#[mutex("stacking-mutex-then-test", client = locks())]
#[test]
fn mutex_then_test() {
    assert!(held("stacking-mutex-then-test"));
}

#[test]
#[mutex("stacking-test-then-mutex", client = locks())]
fn test_then_mutex() {
    assert!(held("stacking-test-then-mutex"));
}

#[mutex("stacking-mutex-then-tokio-test", client = locks())]
#[tokio::test]
async fn mutex_then_tokio_test() {
    assert!(held("stacking-mutex-then-tokio-test"));
}

#[tokio::test]
#[mutex("stacking-tokio-test-then-mutex", client = locks())]
async fn tokio_test_then_mutex() {
    assert!(held("stacking-tokio-test-then-mutex"));
}

#[mutex("stacking-instrument:{id}", client = locks())]
#[tracing::instrument]
fn mutex_then_instrument(id: u32) -> bool {
    held(&format!("stacking-instrument:{id}"))
}

#[tracing::instrument(ret)]
#[mutex("stacking-instrument:{id}", client = locks())]
async fn instrument_then_mutex(id: u32) -> bool {
    held(&format!("stacking-instrument:{id}"))
}

#[tokio::test]
async fn with_tracing_instrument() {
    assert!(mutex_then_instrument(1));
    assert!(instrument_then_mutex(2).await);
    assert!(!held("stacking-instrument:1") && !held("stacking-instrument:2"));
}
