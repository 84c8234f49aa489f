//! Lock names never collide with the crate's own keys, under any prefix (issue: a lock named
//! `"{t}x:fence"` was held forever by "another owner" once `"{t}x"` had taken a fencing token).

mod support;

mod common;

use std::time::Duration;

use common::{PROMPTLY, name};
use redis_mutex::{Client, Error};

fn prefixed(prefix: &str) -> Client {
    Client::builder(support::shared().url().as_str())
        .prefix(prefix)
        .build()
        .unwrap()
}

/// Takes `first` with fencing (creating its fencing counter), and a waiting lock on it (creating
/// its queue), then checks that `second` is an ordinary free lock.
async fn independent(client: &Client, first: &str, second: &str) {
    let fenced = client.mutex(first).unwrap().with_fencing(true);
    let held = fenced.lock().await.unwrap();
    assert!(held.fencing_token().is_some());
    // A waiter on `first` puts it in the queue.
    let waiter = fenced.clone();
    let waiting = tokio::spawn(async move { waiter.try_lock_for(PROMPTLY).await });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let other = client
        .mutex(second)
        .unwrap()
        .try_lock()
        .await
        .unwrap_or_else(|e| panic!("{second:?} collided with {first:?}'s companion keys: {e}"));
    held.release().await.unwrap();
    waiting.await.unwrap().unwrap().release().await.unwrap();
    other.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_look_like_companions_are_ordinary_locks() {
    let tag = name("t");
    let client = prefixed("");
    for part in ["fence", "queue", "waiter", "released"] {
        independent(
            &client,
            &format!("{{{tag}}}x"),
            &format!("{{{tag}}}x:{part}"),
        )
        .await;
    }
    let app = prefixed(&format!("{{{}}}:", name("app")));
    independent(&app, "job", "job:fence").await;
    independent(&app, "job", "job:queue").await;
    // And the reverse: holding what looks like a companion does not disturb the lock.
    independent(
        &client,
        &format!("{{{tag}}}y:queue"),
        &format!("{{{tag}}}y"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_work_while_a_lookalike_key_of_another_type_exists() {
    let server = support::shared();
    let tag = name("t");
    let client = prefixed("");
    // A list where the old layout kept the queue.
    common::raw(server, &["RPUSH", &format!("{{{tag}}}y:queue"), "x"]);
    let m = client.mutex(format!("{{{tag}}}y")).unwrap();
    let held = m.lock().await.unwrap();
    let waiter = m.clone();
    let waiting = tokio::spawn(async move { waiter.try_lock_for(PROMPTLY).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    held.release().await.unwrap();
    waiting.await.unwrap().unwrap().release().await.unwrap();
}

#[test]
fn keys_in_the_reserved_namespace_are_refused() {
    for (prefix, lock) in [
        ("", "redis-mutex:{MUTEX_a}:fence"),
        ("redis-mutex:", "a"),
        ("redis-", "mutex:x"),
    ] {
        let err = prefixed(prefix).mutex(lock).unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{err:?}");
        assert!(err.is_invalid_input());
        assert!(err.to_string().contains("reserves"), "{err}");
    }
    // A `}` outside a hash tag would put the companions in another Cluster slot.
    let err = prefixed("").mutex("a}b").unwrap_err();
    assert!(err.to_string().contains("hash tag"), "{err}");
    prefixed("").mutex("{user}:42").unwrap();
}
