//! Guards: `Send + 'static`, released from another thread or task, and released promptly by
//! `Drop` on every way out of a scope (end of scope, early return, `?`, panic, aborted task).

mod common;
mod support;

use std::thread;
use std::time::Duration;

use common::{PROMPTLY, key, name};

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
fn becomes_free(m: &redis_mutex::blocking::Mutex) -> bool {
    common::eventually(PROMPTLY, || match m.try_lock() {
        Ok(guard) => {
            guard.release().unwrap();
            true
        }
        Err(err) if err.is_busy() => false,
        Err(err) => panic!("{err:?}"),
    })
}

async fn becomes_free_async(m: &redis_mutex::Mutex) -> bool {
    common::eventually_async(PROMPTLY, || async {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_guard_is_released_by_another_task() {
    let client = common::client(support::shared());
    let m = client.mutex(name("move-task").as_str()).unwrap();
    let guard = m.lock().await.unwrap();
    let token = guard.token().to_owned();
    tokio::spawn(async move {
        assert_eq!(guard.token(), token);
        guard.release().await.unwrap();
    })
    .await
    .unwrap();
    m.try_lock().await.unwrap().release().await.unwrap();
}

#[test]
fn an_async_guard_is_released_from_a_plain_thread_runtime() {
    let client = common::client(support::shared());
    let m = client.mutex(name("move-runtime").as_str()).unwrap();
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

#[test]
fn a_blocking_guard_is_released_by_another_thread() {
    let server = support::shared();
    let client = common::blocking_client(server);
    let lock_name = name("move-thread");
    let m = client.mutex(lock_name.as_str()).unwrap();
    let guard = m.lock().unwrap();
    thread::spawn(move || guard.release().unwrap())
        .join()
        .unwrap();
    assert_eq!(common::get(server, &key(&lock_name)), None);
    m.try_lock().unwrap().release().unwrap();
}

#[test]
fn a_blocking_guard_is_dropped_by_another_thread() {
    let client = common::blocking_client(support::shared());
    let m = client.mutex(name("move-thread-drop").as_str()).unwrap();
    let guard = m.lock().unwrap();
    thread::spawn(move || drop(guard)).join().unwrap();
    assert!(becomes_free(&m));
}

// ---------------------------------------------------------------------------------------------
// Drop releases promptly

#[tokio::test]
async fn dropping_an_async_guard_releases_promptly() {
    let client = common::client(support::shared());
    let m = client.mutex(name("drop-async").as_str()).unwrap();
    {
        let _guard = m.lock().await.unwrap();
        assert!(m.try_lock().await.unwrap_err().is_busy());
    }
    assert!(becomes_free_async(&m).await, "Drop did not release");
}

#[tokio::test]
async fn an_async_early_return_releases_promptly() {
    async fn work(m: &redis_mutex::Mutex, fail: bool) -> Result<u32, String> {
        let _guard = m.lock().await.map_err(|e| e.to_string())?;
        if fail {
            return Err("early return".into());
        }
        let parsed: u32 = "not a number".parse().map_err(|_| "bad input".to_owned())?;
        Ok(parsed)
    }
    let client = common::client(support::shared());
    let m = client.mutex(name("early-return-async").as_str()).unwrap();
    assert!(work(&m, true).await.is_err());
    assert!(becomes_free_async(&m).await, "early return did not release");
    assert!(work(&m, false).await.is_err()); // `?` on the second error
    assert!(becomes_free_async(&m).await, "`?` did not release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_releases_promptly() {
    let client = common::client(support::shared());
    let m = client.mutex(name("panic-task").as_str()).unwrap();
    let task = {
        let m = m.clone();
        tokio::spawn(async move {
            let _guard = m.lock().await.unwrap();
            panic!("task failed while holding the lock");
        })
    };
    assert!(task.await.unwrap_err().is_panic());
    assert!(becomes_free_async(&m).await, "panic did not release");
}

#[test]
fn dropping_a_blocking_guard_releases_promptly() {
    let client = common::blocking_client(support::shared());
    let m = client.mutex(name("drop-blocking").as_str()).unwrap();
    {
        let _guard = m.lock().unwrap();
        assert!(m.try_lock().unwrap_err().is_busy());
    }
    assert!(becomes_free(&m), "Drop did not release");
}

#[test]
fn a_blocking_early_return_releases_promptly() {
    fn work(m: &redis_mutex::blocking::Mutex) -> Result<(), Box<dyn std::error::Error>> {
        let _guard = m.lock()?;
        let _: u32 = "not a number".parse()?;
        Ok(())
    }
    let client = common::blocking_client(support::shared());
    let m = client
        .mutex(name("early-return-blocking").as_str())
        .unwrap();
    assert!(work(&m).is_err());
    assert!(becomes_free(&m), "`?` did not release");
}

#[test]
fn a_panicking_thread_releases_promptly() {
    let client = common::blocking_client(support::shared());
    let m = client.mutex(name("panic-thread").as_str()).unwrap();
    let holder = {
        let m = m.clone();
        thread::spawn(move || {
            let _guard = m.lock().unwrap();
            panic!("thread failed while holding the lock");
        })
    };
    assert!(holder.join().is_err());
    assert!(becomes_free(&m), "panic did not release");
}

#[test]
fn a_waiter_is_woken_by_a_drop() {
    let client = common::blocking_client(support::shared());
    let m = client
        .mutex(name("drop-wakes").as_str())
        .unwrap()
        .with_wait(Some(Duration::from_secs(10)));
    let guard = m.lock().unwrap();
    let waiter = {
        let m = m.clone();
        thread::spawn(move || {
            let start = std::time::Instant::now();
            m.lock().unwrap().release().unwrap();
            start.elapsed()
        })
    };
    thread::sleep(Duration::from_millis(200));
    drop(guard);
    let waited = waiter.join().unwrap();
    assert!(
        waited < Duration::from_millis(200) + PROMPTLY,
        "waited {waited:?}"
    );
}
