//! Guards: `Send + 'static`, released from another thread or task, and released promptly by
//! `Drop` on every way out of a scope (end of scope, early return, `?`, panic, aborted task).
//! (A waiter woken by a `Drop` is in `acquire.rs`.)
//!
//! The scenarios named in `twin_tests!` run through both APIs: `scenario::async_api` (moving
//! guards between tasks) and `scenario::blocking_api` (between threads).

mod common;
mod support;

use std::thread;

use common::{Api, ApiClient, ApiGuard, ApiMutex, PROMPTLY, key, name, twin_tests};

twin_tests!(
    a_guard_is_released_by_another_task_or_thread(flavor = "multi_thread", worker_threads = 2),
    a_guard_is_dropped_by_another_task_or_thread(flavor = "multi_thread", worker_threads = 2),
    dropping_a_guard_releases_promptly,
    an_early_return_releases_promptly,
    a_panicking_holder_releases_promptly(flavor = "multi_thread", worker_threads = 2),
);

fn assert_send_static<T: Send + 'static>() {}

#[test]
fn guards_and_handles_are_send_and_static() {
    assert_send_static::<redis_mutex::Guard>();
    assert_send_static::<redis_mutex::Mutex>();
    assert_send_static::<redis_mutex::Client>();
    assert_send_static::<redis_mutex::blocking::Guard>();
    assert_send_static::<redis_mutex::blocking::Mutex>();
    assert_send_static::<redis_mutex::blocking::Client>();
    assert_send_static::<redis_mutex::Error>();
}

/// The lock can be taken again by someone else within [`PROMPTLY`].
async fn becomes_free<A: Api>(m: &A::Mutex) -> bool {
    common::eventually_in::<A, _, _>(PROMPTLY, || async {
        match m.try_lock().await {
            Ok(guard) => {
                guard.release().await.unwrap();
                true
            }
            Err(err) if err.is_busy() => false,
            Err(err) => panic!("{err:?}"),
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Moving guards

async fn a_guard_is_released_by_another_task_or_thread<A: Api>() {
    let server = support::shared();
    let lock_name = name("move-release");
    let m = A::client(server).mutex(&lock_name).unwrap();
    let guard = m.lock().await.unwrap();
    let token = guard.token().to_owned();
    A::spawn(async move {
        assert_eq!(guard.token(), token);
        guard.release().await.unwrap();
    })
    .join()
    .await
    .unwrap();
    assert_eq!(common::get(server, &key(&lock_name)), None);
    m.try_lock().await.unwrap().release().await.unwrap();
}

async fn a_guard_is_dropped_by_another_task_or_thread<A: Api>() {
    let client = A::client(support::shared());
    let m = client.mutex(name("move-drop")).unwrap();
    let guard = m.lock().await.unwrap();
    A::spawn(async move { drop(guard) }).join().await.unwrap();
    assert!(becomes_free::<A>(&m).await, "Drop did not release");
}

#[test]
fn an_async_guard_is_released_from_a_plain_thread_runtime() {
    let client = common::client(support::shared());
    let m = client.mutex(name("move-runtime")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let guard = rt.block_on(m.lock()).unwrap();
    thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(guard.release()).unwrap();
    })
    .join()
    .unwrap();
    rt.block_on(async { m.try_lock().await.unwrap().release().await.unwrap() });
}

// ---------------------------------------------------------------------------------------------
// Drop releases promptly

async fn dropping_a_guard_releases_promptly<A: Api>() {
    let client = A::client(support::shared());
    let m = client.mutex(name("drop")).unwrap();
    {
        let _guard = m.lock().await.unwrap();
        assert!(m.try_lock().await.unwrap_err().is_busy());
    }
    assert!(becomes_free::<A>(&m).await, "Drop did not release");
}

async fn an_early_return_releases_promptly<A: Api>() {
    async fn work<M: ApiMutex>(m: &M, fail: bool) -> Result<u32, String> {
        let _guard = m.lock().await.map_err(|e| e.to_string())?;
        if fail {
            return Err("early return".into());
        }
        let parsed: u32 = "not a number".parse().map_err(|_| "bad input".to_owned())?;
        Ok(parsed)
    }
    let client = A::client(support::shared());
    let m = client.mutex(name("early-return")).unwrap();
    assert!(work(&m, true).await.is_err());
    assert!(becomes_free::<A>(&m).await, "early return did not release");
    assert!(work(&m, false).await.is_err()); // `?` on the second error
    assert!(becomes_free::<A>(&m).await, "`?` did not release");
}

async fn a_panicking_holder_releases_promptly<A: Api>() {
    let client = A::client(support::shared());
    let m = client.mutex(name("panic")).unwrap();
    let holder = {
        let m = m.clone();
        A::spawn(async move {
            let _guard = m.lock().await.unwrap();
            panic!("{} holder failed while holding the lock", A::NAME);
        })
    };
    assert!(holder.join().await.is_err(), "the holder did not panic");
    assert!(becomes_free::<A>(&m).await, "panic did not release");
}
