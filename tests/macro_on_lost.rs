//! `on_lost` against a real Redis: an `async fn` whose lock key is deleted or overwritten
//! behind its back while its body is parked on an `.await`.
//!
//! * By default (return type can carry the error) and with `on_lost = "cancel"`, the body is
//!   dropped at that await and the call returns `Err(Error::Lost)` within a renewal period or
//!   two; the code after the await never runs.
//! * With `on_lost = "continue"`, or when the return type cannot carry the error, the body runs
//!   to completion.
//!
//! The locks use a 600 ms TTL, so renewal (every 200 ms) notices the loss quickly.

mod common;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::shared_client as locks;
use redis_mutex::mutex;

/// What the test does to the lock key behind the holder's back.
#[derive(Clone, Copy, Debug)]
enum Tamper {
    /// `DEL`: the lock is gone.
    Delete,
    /// `SET` another owner's token: the lock was taken over.
    Overwrite,
}

const OTHER_OWNER: &str = "another-owner";

/// Waits (on a thread of its own) until `name`'s key exists, then tampers with it.
fn behind_its_back(name: &str, tamper: Tamper) -> thread::JoinHandle<()> {
    let key = format!("MUTEX_{name}");
    thread::spawn(move || {
        let mut redis = support::shared().raw();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let exists: bool = redis::cmd("EXISTS")
                .arg(&key)
                .query(&mut redis)
                .expect("EXISTS");
            if exists {
                break;
            }
            assert!(Instant::now() < deadline, "the lock {key} was never taken");
            thread::sleep(Duration::from_millis(5));
        }
        // Let the body reach its long await first.
        thread::sleep(Duration::from_millis(100));
        match tamper {
            Tamper::Delete => redis::cmd("DEL").arg(&key).exec(&mut redis),
            Tamper::Overwrite => redis::cmd("SET")
                .arg(&key)
                .arg(OTHER_OWNER)
                .arg("PX")
                .arg(60_000)
                .exec(&mut redis),
        }
        .expect("tamper with the lock key");
    })
}

fn get(name: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(format!("MUTEX_{name}"))
        .query(&mut support::shared().raw())
        .expect("GET")
}

/// Default policy: the return type can carry the error, so loss cancels the body.
#[mutex("{name}", client = locks(), ttl = "600ms")]
async fn by_default(name: String, reached_end: Arc<AtomicBool>) -> redis_mutex::Result<()> {
    tokio::time::sleep(Duration::from_secs(10)).await;
    reached_end.store(true, Ordering::SeqCst);
    Ok(())
}

/// Written out, with another error type that converts from `redis_mutex::Error`.
#[mutex("{name}", client = locks(), ttl = "600ms", on_lost = "cancel")]
async fn explicitly(name: String, reached_end: Arc<AtomicBool>) -> std::io::Result<()> {
    tokio::time::sleep(Duration::from_secs(10)).await;
    reached_end.store(true, Ordering::SeqCst);
    Ok(())
}

#[mutex("{name}", client = locks(), ttl = "600ms", on_lost = "continue", guard = lock)]
async fn continuing(name: String, reached_end: Arc<AtomicBool>) -> redis_mutex::Result<bool> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    reached_end.store(true, Ordering::SeqCst);
    Ok(lock.expect("taken here").is_held())
}

/// The default policy, with nothing lost: outlives its 600 ms lease thanks to renewal.
#[mutex("{name}", client = locks(), ttl = "600ms", guard = lock)]
async fn renewed(name: String) -> redis_mutex::Result<bool> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    Ok(lock.expect("taken here").is_held())
}

/// Cannot return the error: runs on (the runtime logs the loss as a warning).
#[mutex("{name}", client = locks(), ttl = "600ms")]
async fn without_result(name: String, reached_end: Arc<AtomicBool>) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    reached_end.store(true, Ordering::SeqCst);
}

/// A reentrant call takes no guard of its own: its caller's loss cancels it, with the caller.
#[mutex("{name}", client = locks(), ttl = "600ms")]
async fn outer(name: String, reached_end: Arc<AtomicBool>) -> redis_mutex::Result<()> {
    inner(name, reached_end.clone()).await?;
    reached_end.store(true, Ordering::SeqCst);
    Ok(())
}

#[mutex("{name}", client = locks(), guard = lock)]
async fn inner(name: String, reached_end: Arc<AtomicBool>) -> redis_mutex::Result<()> {
    assert!(lock.is_none(), "re-entered: the caller's guard covers it");
    tokio::time::sleep(Duration::from_secs(10)).await;
    reached_end.store(true, Ordering::SeqCst);
    Ok(())
}

/// Asserts the call was cut short: well before the body's 10 s sleep, and the code after the
/// await never ran (not even later).
async fn assert_cancelled(started: Instant, reached_end: &AtomicBool) {
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !reached_end.load(Ordering::SeqCst),
        "code after the await ran without the lock"
    );
}

#[tokio::test]
async fn deleted_key_cancels_by_default() {
    let name = support::unique("on-lost-deleted");
    let reached_end = Arc::new(AtomicBool::new(false));
    let tamper = behind_its_back(&name, Tamper::Delete);
    let started = Instant::now();
    let error = by_default(name.clone(), reached_end.clone())
        .await
        .expect_err("the lock was lost");
    assert!(error.is_lost(), "{error}");
    assert!(
        error
            .lock_names()
            .is_some_and(|names| names.to_string().contains(&name)),
        "{error}"
    );
    assert_cancelled(started, &reached_end).await;
    tamper.join().expect("tamper thread");
    assert_eq!(get(&name), None);
}

#[tokio::test]
async fn overwritten_key_cancels_by_default() {
    let name = support::unique("on-lost-overwritten");
    let reached_end = Arc::new(AtomicBool::new(false));
    let tamper = behind_its_back(&name, Tamper::Overwrite);
    let started = Instant::now();
    let error = by_default(name.clone(), reached_end.clone())
        .await
        .expect_err("the lock was taken over");
    assert!(error.is_lost(), "{error}");
    assert_cancelled(started, &reached_end).await;
    tamper.join().expect("tamper thread");
    assert_eq!(
        get(&name).as_deref(),
        Some(OTHER_OWNER),
        "the new owner's lock is left alone"
    );
}

#[tokio::test]
async fn explicit_cancel_converts_the_error() {
    for tamper in [Tamper::Delete, Tamper::Overwrite] {
        let name = support::unique("on-lost-explicit");
        let reached_end = Arc::new(AtomicBool::new(false));
        let tampering = behind_its_back(&name, tamper);
        let started = Instant::now();
        let error = explicitly(name, reached_end.clone())
            .await
            .expect_err("the lock was lost");
        let lost = error
            .get_ref()
            .and_then(|source| source.downcast_ref::<redis_mutex::Error>());
        assert!(
            lost.is_some_and(redis_mutex::Error::is_lost),
            "{tamper:?}: {error}"
        );
        assert_cancelled(started, &reached_end).await;
        tampering.join().expect("tamper thread");
    }
}

#[tokio::test]
async fn continue_runs_to_completion() {
    for tamper in [Tamper::Delete, Tamper::Overwrite] {
        let name = support::unique("on-lost-continue");
        let reached_end = Arc::new(AtomicBool::new(false));
        let tampering = behind_its_back(&name, tamper);
        let still_held = continuing(name, reached_end.clone())
            .await
            .expect("runs to completion");
        assert!(reached_end.load(Ordering::SeqCst), "{tamper:?}");
        assert!(!still_held, "{tamper:?}: the guard saw the loss");
        tampering.join().expect("tamper thread");
    }
}

#[tokio::test]
async fn without_a_result_runs_to_completion() {
    let name = support::unique("on-lost-no-result");
    let reached_end = Arc::new(AtomicBool::new(false));
    let tamper = behind_its_back(&name, Tamper::Delete);
    without_result(name, reached_end.clone()).await;
    assert!(reached_end.load(Ordering::SeqCst));
    tamper.join().expect("tamper thread");
}

#[tokio::test]
async fn reentrant_calls_are_cancelled_with_their_caller() {
    let name = support::unique("on-lost-reentrant");
    let reached_end = Arc::new(AtomicBool::new(false));
    let tamper = behind_its_back(&name, Tamper::Delete);
    let started = Instant::now();
    let error = outer(name, reached_end.clone())
        .await
        .expect_err("the lock was lost");
    assert!(error.is_lost(), "{error}");
    assert_cancelled(started, &reached_end).await;
    tamper.join().expect("tamper thread");
}

/// Without a loss nothing changes: the body's own result comes back, and the lock is free.
#[tokio::test]
async fn a_held_lock_lets_the_body_finish() {
    let name = support::unique("on-lost-kept");
    let started = Instant::now();
    let still_held = renewed(name.clone()).await.expect("no loss");
    assert!(still_held, "renewal kept the 600 ms lease for 1.5 s");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(get(&name), None, "released");
}
