//! Operator tools of the library: [`Client::status`], [`Client::force_release`] and
//! [`redis_mutex::flush`] (what the `redis-mutex status` and `release --force` commands use).
//!
//! ```text
//! cargo run --example admin
//! REDIS_MUTEX_URL=redis://127.0.0.1:6379/ cargo run --example admin
//! ```
//!
//! Without `REDIS_MUTEX_URL` / `REDIS_URL`, the example starts a throwaway `redis-server` of
//! its own (from `PATH`, or `REDIS_SERVER_BIN`).

mod common;

use std::time::Duration;

use redis_mutex::Client;

#[tokio::main]
async fn main() -> redis_mutex::Result<()> {
    let server = common::server();
    let client = Client::open(&server.url)?;
    let name = format!("admin-example:{}", std::process::id());
    let lock = client.mutex(name.as_str())?.with_fencing(true);

    // A holder, and a second task queued behind it.
    let holder = lock.lock().await?;
    let waiter = tokio::spawn({
        let lock = lock.clone();
        async move { lock.lock().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    for status in client.status(name.as_str()).await? {
        println!(
            "{}: held={} remaining={:?} fencing counter={:?} waiters={}",
            status.name,
            status.is_held(),
            status.remaining,
            status.fencing_counter,
            status.waiters
        );
        assert_eq!(status.holder.as_deref(), Some(holder.token()));
    }

    // The administrator's way out: the lock goes to the next waiter, as on a normal release.
    for released in client.force_release(name.as_str()).await? {
        println!(
            "removed {:?}'s lock on {}",
            released.removed_holder, released.name
        );
    }
    let next = waiter.await.expect("waiter task")?;
    println!(
        "the waiter got it, fencing token {:?}",
        next.fencing_token()
    );
    // The first holder finds out when it releases (or at its next renewal).
    assert!(holder.release().await.unwrap_err().is_lost());

    // Dropping a guard releases in the background: flush before exiting.
    drop(next);
    assert!(redis_mutex::flush(Duration::from_secs(2)).await);
    assert!(!client.status(name.as_str()).await?[0].is_held());
    println!("released; nothing left held");
    Ok(())
}
