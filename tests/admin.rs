//! Operator tools of the library: `Client::status`, `Client::force_release`, `flush`.

mod common;
mod support;

use std::time::Duration;

use common::{PROMPTLY, name};

#[tokio::test]
async fn status_reads_holder_lease_fencing_counter_and_waiters() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("status");
    let [free] = &client.status(lock_name.as_str()).await.unwrap()[..] else {
        panic!("one status per name")
    };
    assert!(!free.is_held());
    assert_eq!(
        (free.remaining, free.fencing_counter, free.waiters),
        (None, None, 0)
    );

    let lock = client
        .mutex(lock_name.as_str())
        .unwrap()
        .with_fencing(true)
        .with_ttl(Duration::from_secs(10))
        .unwrap();
    let guard = lock.lock().await.unwrap();
    let waiter = tokio::spawn({
        let lock = lock.clone();
        async move { lock.lock().await }
    });
    let queued = common::eventually_async(PROMPTLY, || async {
        client.status(lock_name.as_str()).await.unwrap()[0].waiters == 1
    })
    .await;
    assert!(queued, "the waiter never showed up in the queue");
    let held = &client.status(lock_name.as_str()).await.unwrap()[0];
    assert_eq!(held.key, lock.keys()[0]);
    assert_eq!(held.holder.as_deref(), Some(guard.token()));
    assert_eq!(held.fencing_counter, guard.fencing_token());
    assert!(
        held.remaining
            .is_some_and(|left| left <= Duration::from_secs(10))
    );

    // A forced release hands the lock to the waiter; the counter keeps increasing.
    let released = client.force_release(lock_name.as_str()).await.unwrap();
    assert_eq!(released[0].removed_holder.as_deref(), Some(guard.token()));
    let next = tokio::time::timeout(PROMPTLY, waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(next.fencing_token() > guard.fencing_token());
    assert!(guard.release().await.unwrap_err().is_lost());

    // Dropped, not released: flush waits until the background release is done.
    drop(next);
    assert!(redis_mutex::flush(PROMPTLY).await);
    assert!(!client.status(lock_name.as_str()).await.unwrap()[0].is_held());
}

#[tokio::test]
async fn force_release_of_a_free_lock_removes_nothing() {
    let server = support::shared();
    let client = common::client(server);
    let released = client.force_release(name("free").as_str()).await.unwrap();
    assert_eq!(
        (released[0].removed_holder.as_ref(), released[0].remaining),
        (None, None)
    );
}

#[tokio::test]
async fn a_key_that_is_not_a_lock_is_wrong_type() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("hash");
    let key = client.mutex(lock_name.as_str()).unwrap().keys()[0].clone();
    common::raw(server, &["HSET", &key, "field", "value"]);
    let error = client.status(lock_name.as_str()).await.unwrap_err();
    assert!(
        matches!(error, redis_mutex::Error::WrongType { .. }),
        "{error}"
    );
    let error = client.force_release(lock_name.as_str()).await.unwrap_err();
    assert!(
        matches!(error, redis_mutex::Error::WrongType { .. }),
        "{error}"
    );
    assert!(client.status([""; 0]).await.unwrap_err().is_invalid_input());
}
