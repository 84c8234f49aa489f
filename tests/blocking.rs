//! The blocking API works from any thread: plain threads without a runtime, and inside async
//! code on both tokio flavors (where `block_on`-style facades panic). Clients outlive the
//! runtimes that first used them.

mod common;
mod support;

use std::thread;
use std::time::Duration;

use common::{key, name};

/// Panics unless `client` can take lock `name` at once (and gives it back).
fn assert_free(client: &redis_mutex::blocking::Client, name: &str) {
    let guard = client.mutex(name).unwrap().try_lock();
    guard.expect("the lock is free").release().unwrap();
}

fn lock_release_and_busy(client: &redis_mutex::blocking::Client, tag: &str) {
    let server = support::shared();
    let lock_name = name(tag);
    let m = client.mutex(&lock_name).unwrap();
    let guard = m.lock().unwrap();
    common::assert_key_holds(server, &key(&lock_name), &guard);
    assert!(m.try_lock().unwrap_err().is_busy());
    assert!(
        m.try_lock_for(Duration::from_millis(50))
            .unwrap_err()
            .is_timeout()
    );
    guard.release().unwrap();
    let guard = m.try_lock().unwrap();
    drop(guard); // Drop releases from this context too
    assert!(common::eventually(common::PROMPTLY, || m
        .try_lock()
        .map(drop)
        .is_ok()));
}

#[test]
fn works_from_a_plain_thread_without_a_runtime() {
    assert!(tokio::runtime::Handle::try_current().is_err());
    let client = common::blocking_client(support::shared());
    lock_release_and_busy(&client, "blocking-plain");
}

#[test]
fn works_from_many_threads_sharing_a_client() {
    let client = common::blocking_client(support::shared());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let client = client.clone();
            thread::spawn(move || lock_release_and_busy(&client, &format!("blocking-shared-{i}")))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn works_inside_a_current_thread_runtime() {
    let client = common::blocking_client(support::shared());
    lock_release_and_busy(&client, "blocking-in-current-thread");
    // Also a blocking client derived from an async one, used next to async calls.
    let async_client = common::client(support::shared());
    let lock_name = name("blocking-in-current-thread-mixed");
    let async_guard = async_client.mutex(&lock_name).unwrap().lock().await;
    let async_guard = async_guard.unwrap();
    let blocking = async_client.blocking();
    let err = blocking.mutex(&lock_name).unwrap().try_lock().unwrap_err();
    assert!(err.is_busy(), "{err:?}");
    async_guard.release().await.unwrap();
    assert_free(&blocking, &lock_name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_inside_a_multi_thread_runtime() {
    let client = common::blocking_client(support::shared());
    lock_release_and_busy(&client, "blocking-in-multi-thread");
    // And from a spawned task.
    tokio::spawn(async move { lock_release_and_busy(&client, "blocking-in-task") })
        .await
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_blocking_guard_dropped_inside_a_runtime_releases() {
    let server = support::shared();
    let client = common::blocking_client(server);
    let lock_name = name("blocking-drop-in-runtime");
    let guard = client.mutex(&lock_name).unwrap().lock().unwrap();
    drop(guard);
    let released = common::eventually_async(common::PROMPTLY, || async {
        common::get(server, &key(&lock_name)).is_none()
    })
    .await;
    assert!(released);
}

#[test]
fn an_async_client_outlives_the_runtime_that_first_used_it() {
    // The connection for a URL is cached process-wide: it must not die with the runtime of
    // the first caller (redis-rs ties connection tasks to the runtime they were created on).
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("outlives-runtime");
    for _ in 0..3 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let m = client.mutex(&lock_name).unwrap();
            let guard = m.lock().await.unwrap();
            assert!(m.try_lock().await.unwrap_err().is_busy());
            guard.release().await.unwrap();
        });
        drop(runtime);
        // A brand-new client of the same URL, and the blocking API, still work.
        assert_free(&common::blocking_client(server), &lock_name);
    }
}

#[test]
fn an_async_guard_outlives_its_runtime_and_releases_on_drop() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("guard-outlives-runtime");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let guard = runtime
        .block_on(client.mutex(&lock_name).unwrap().lock())
        .unwrap();
    drop(runtime);
    assert!(guard.is_held());
    drop(guard); // no runtime around: the release still happens
    assert!(common::eventually(common::PROMPTLY, || common::get(
        server,
        &key(&lock_name)
    )
    .is_none()));
}

#[test]
fn async_calls_work_on_a_runtime_other_than_tokio() {
    // The async API only awaits a channel answered by the crate's own runtime thread;
    // `common::block_on` is a minimal executor (thread parking), standing in for a non-tokio
    // runtime.
    let client = common::client(support::shared());
    let m = client.mutex(name("foreign-executor")).unwrap();
    let guard = common::block_on(m.lock()).unwrap();
    let err = common::block_on(m.try_lock()).unwrap_err();
    assert!(err.is_busy(), "{err:?}");
    common::block_on(guard.release()).unwrap();
}
