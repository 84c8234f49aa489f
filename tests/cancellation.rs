//! Cancellation safety: an acquire abandoned at any point (`tokio::time::timeout`, `select!`,
//! an aborted task) never leaves a lock key behind, even when it is abandoned just as the lock
//! became free. Leftover keys would block everyone until their TTL (30 s by default) ran out.

mod common;
mod support;

use std::time::Duration;

use common::{PROMPTLY, key, name};
use support::RedisServer;

/// The shared server, and a mutex (of a client of its own) on a lock name unique to the test,
/// which is also the prefix of every key the test may leave behind.
fn setup(tag: &str) -> (&'static RedisServer, String, redis_mutex::Mutex) {
    let server = support::shared();
    let prefix = name(tag);
    let m = common::client(server).mutex(&prefix).unwrap();
    (server, prefix, m)
}

/// After the dust settles, no key of `prefix` is left and the lock is immediately free.
async fn assert_no_key_left(server: &RedisServer, prefix: &str, lock_name: &str) {
    let clean = common::eventually_async(PROMPTLY, || async {
        common::lock_keys(server, prefix).is_empty()
    })
    .await;
    assert!(
        clean,
        "keys left behind by cancelled acquires: {:?}",
        common::lock_keys(server, prefix)
    );
    // A fresh client (no local state shared with the cancelled waiters) gets it at once.
    common::unqueued_client(server)
        .mutex(lock_name)
        .unwrap()
        .try_lock()
        .await
        .expect("the lock is still taken after every holder and waiter is gone")
        .release()
        .await
        .unwrap();
}

#[tokio::test]
async fn timeout_around_a_contended_lock_leaves_no_key() {
    let (server, prefix, m) = setup("cancel-timeout");
    let holder = m.try_lock().await.unwrap();

    for _ in 0..10 {
        let outcome = tokio::time::timeout(Duration::from_millis(50), m.lock()).await;
        assert!(outcome.is_err(), "a held lock was acquired");
    }
    holder.release().await.unwrap();
    assert_no_key_left(server, &prefix, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellations_racing_the_release_leave_no_key() {
    let server = support::shared();
    let prefix = name("cancel-race");
    let queued = common::client(server);
    let unqueued = common::unqueued_client(server);

    for round in 0..12u64 {
        let holder = queued.mutex(&prefix).unwrap().lock().await.unwrap();
        let mut waiters = tokio::task::JoinSet::new();
        for i in 0..8u64 {
            let client = if i % 2 == 0 { &queued } else { &unqueued };
            let m = client.mutex(&prefix).unwrap();
            // Deadlines spread around the moment the holder lets go (~30 ms).
            let patience = Duration::from_millis(5 + (i * 7 + round * 3) % 60);
            waiters.spawn(async move {
                if let Ok(Ok(guard)) = tokio::time::timeout(patience, m.lock()).await {
                    drop(guard);
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        holder.release().await.unwrap();
        while let Some(result) = waiters.join_next().await {
            result.unwrap();
        }
    }
    assert_no_key_left(server, &prefix, &prefix).await;
}

#[tokio::test]
async fn tiny_timeouts_around_an_uncontended_try_lock_leave_no_key() {
    // Abandon the acquire at every stage: before sending, in flight, just after it succeeded.
    let (server, prefix, m) = setup("cancel-try");
    for i in 0..40u64 {
        let patience = Duration::from_micros(i * 50);
        if let Ok(result) = tokio::time::timeout(patience, m.try_lock()).await {
            drop(result);
        }
        if let Ok(result) = tokio::time::timeout(patience, m.lock()).await {
            drop(result);
        }
    }
    assert_no_key_left(server, &prefix, &prefix).await;
}

#[tokio::test]
async fn select_cancelling_a_lock_leaves_no_key() {
    let (server, prefix, m) = setup("cancel-select");
    let holder = m.try_lock().await.unwrap();

    tokio::select! {
        result = m.lock() => panic!("a held lock was acquired: {result:?}"),
        () = tokio::time::sleep(Duration::from_millis(100)) => {}
    }

    // Two waiters raced in one select!: the winner holds it, the loser is cancelled.
    let release = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        holder.release().await.unwrap();
        std::future::pending::<()>().await;
    };
    let m2 = m.client().mutex(&prefix).unwrap();
    let winner = tokio::select! {
        guard = m.lock() => guard.unwrap(),
        guard = m2.lock() => guard.unwrap(),
        () = release => unreachable!(),
    };
    common::assert_key_holds(server, &key(&prefix), &winner);
    winner.release().await.unwrap();
    assert_no_key_left(server, &prefix, &prefix).await;
}

#[tokio::test]
async fn a_cancelled_multi_lock_wait_leaves_no_partial_keys() {
    let server = support::shared();
    let client = common::client(server);
    let prefix = name("cancel-multi");
    let a = format!("{prefix}-a");
    let b = format!("{prefix}-b");
    let holder = client.mutex(b.as_str()).unwrap().try_lock().await.unwrap();

    let ab = client.mutex([a.as_str(), b.as_str()]).unwrap();
    for _ in 0..5 {
        let outcome = tokio::time::timeout(Duration::from_millis(100), ab.lock()).await;
        assert!(outcome.is_err(), "got [a, b] while b was held");
        // The free name is not kept while waiting for the other.
        let a_free = common::eventually_async(PROMPTLY, || async {
            common::get(server, &key(&a)).is_none()
        })
        .await;
        assert!(a_free, "a cancelled multi-lock left {a:?} taken");
    }
    holder.release().await.unwrap();
    assert_no_key_left(server, &prefix, &a).await;
    assert_no_key_left(server, &prefix, &b).await;
}

#[tokio::test]
async fn an_aborted_task_holding_a_guard_releases_it() {
    let (server, prefix, m) = setup("cancel-abort");
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel();
    let task = {
        let m = m.clone();
        tokio::spawn(async move {
            let _guard = m.lock().await.unwrap();
            locked_tx.send(()).unwrap();
            std::future::pending::<()>().await;
        })
    };
    locked_rx.await.unwrap();
    assert!(m.try_lock().await.unwrap_err().is_busy());
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_no_key_left(server, &prefix, &prefix).await;
}

#[tokio::test]
async fn an_aborted_waiting_task_leaves_no_key() {
    let (server, prefix, m) = setup("cancel-abort-waiter");
    let holder = m.try_lock().await.unwrap();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move {
                let _guard = m.lock().await;
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for waiter in &waiters {
        waiter.abort();
    }
    holder.release().await.unwrap();
    for waiter in waiters {
        let _ = waiter.await;
    }
    assert_no_key_left(server, &prefix, &prefix).await;
}
