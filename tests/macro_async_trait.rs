//! `#[mutex]` on the methods of an `#[async_trait]` impl really locks: callers exclude each
//! other across tasks, the lock is held while the method's future runs (not only while it is
//! created), a busy lock is reported through the method's `Result`, and a nested call
//! re-enters.

mod common;
mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{OverlapDetector, lock_held as key_exists, shared_client as locks};
use redis_mutex::mutex;

#[async_trait]
trait Jobs {
    /// Runs one job under the lock `name`; returns whether the lock was held throughout.
    async fn run(&self, name: &str, detector: &OverlapDetector) -> redis_mutex::Result<bool>;

    /// One attempt at the lock `name`.
    async fn try_run(&self, name: &str) -> redis_mutex::Result<()>;

    /// Calls `run` while holding the same lock.
    async fn nested(&self, name: &str, detector: &OverlapDetector) -> redis_mutex::Result<bool>;
}

struct Worker;

#[async_trait]
impl Jobs for Worker {
    #[mutex("{name}", client = locks(), wait = "10s")]
    async fn run(&self, name: &str, detector: &OverlapDetector) -> redis_mutex::Result<bool> {
        let _inside = detector.enter();
        let before = key_exists(name);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(before && key_exists(name))
    }

    #[mutex("{name}", client = locks(), wait = "0s")]
    async fn try_run(&self, name: &str) -> redis_mutex::Result<()> {
        Ok(())
    }

    #[mutex("{name}", client = locks(), wait = "2s", guard = lock)]
    async fn nested(&self, name: &str, detector: &OverlapDetector) -> redis_mutex::Result<bool> {
        assert!(lock.is_some(), "the outer call takes the lock");
        self.run(name, detector).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_trait_methods_exclude_each_other() {
    let name = Arc::new(support::unique("async-trait-exclusion"));
    let detector = Arc::new(OverlapDetector::default());
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (name, detector) = (name.clone(), detector.clone());
            tokio::spawn(async move { Worker.run(&name, &detector).await })
        })
        .collect();
    for task in tasks {
        let held = task.await.expect("task").expect("lock");
        assert!(held, "the lock is held while the method's future runs");
    }
    assert_eq!(detector.max_seen(), 1, "two callers were inside at once");
    assert_eq!(detector.entries(), 6);
    assert!(!key_exists(&name), "released after the last call");
}

#[tokio::test]
async fn a_busy_lock_is_the_methods_error() {
    let name = support::unique("async-trait-busy");
    let guard = locks().mutex(name.as_str()).expect("mutex").lock().await;
    let guard = guard.expect("lock");
    let error = Worker.try_run(&name).await.expect_err("held elsewhere");
    assert!(error.is_busy(), "{error}");
    guard.release().await.expect("release");
    Worker.try_run(&name).await.expect("free now");
}

#[tokio::test]
async fn a_nested_call_reenters() {
    let name = support::unique("async-trait-nested");
    let detector = OverlapDetector::default();
    let held = Worker
        .nested(&name, &detector)
        .await
        .expect("re-entered, did not wait for itself");
    assert!(held);
    assert!(!key_exists(&name));
}
