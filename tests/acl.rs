//! Under Redis ACLs: the documented permissions are enough, and a user who may not subscribe
//! to any channel still gets its locks, learning of releases by polling.

mod common;
mod support;

use std::time::{Duration, Instant};

use common::{PROMPTLY, name};
use redis_mutex::Client;

/// Creates an ACL user on the shared server and returns a URL logging in as it.
fn user(name: &str, rules: &[&str]) -> String {
    let server = support::shared();
    let mut args = vec!["ACL", "SETUSER", name, "reset", "on", ">pw"];
    args.extend_from_slice(rules);
    common::raw(server, &args);
    format!("redis://{name}:pw@127.0.0.1:{}/", server.port())
}

fn client(url: &str, id: u64) -> Client {
    Client::builder(url)
        .max_poll_interval(Duration::from_millis(200))
        .connect_timeout(Duration::from_millis(2_000 + id))
        .build()
        .unwrap()
}

/// Holds the lock with one client, waits for it with another, releases after `hold`, and
/// returns how long after the release the waiter got it.
async fn hand_over(url: &str, hold: Duration) -> Duration {
    let lock = name("acl");
    let holder = client(url, 1).mutex(lock.as_str()).unwrap();
    let waiter = client(url, 2).mutex(lock.as_str()).unwrap();
    let guard = holder.lock().await.unwrap();
    let waiting = tokio::spawn(async move {
        let guard = waiter.lock().await.unwrap();
        let at = Instant::now();
        guard.release().await.unwrap();
        at
    });
    tokio::time::sleep(hold).await;
    let released = Instant::now();
    guard.release().await.unwrap();
    let acquired = tokio::time::timeout(PROMPTLY, waiting)
        .await
        .expect("the waiter never got the lock")
        .unwrap();
    acquired.saturating_duration_since(released)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_permissions_are_enough() {
    let url = user(
        "locker",
        &[
            "~MUTEX_*",
            "~redis-mutex:{MUTEX_*",
            "&redis-mutex:{MUTEX_*}:released",
            "&redis-mutex:inbox:*",
            // Sent by the client.
            "+set",
            "+type",
            "+pttl",
            "+evalsha",
            "+script|load",
            "+subscribe",
            "+unsubscribe",
            "+ping",
            // Run by its scripts.
            "+get",
            "+del",
            "+append",
            "+zcard",
            "+pexpire",
            "+time",
            "+zadd",
            "+zrem",
            "+zrange",
            "+publish",
        ],
    );
    hand_over(&url, Duration::from_millis(300)).await;
    // A fenced, multi-name lock uses the remaining key patterns.
    let m = client(&url, 3)
        .mutex([name("acl-a"), name("acl-b")])
        .unwrap()
        .with_fencing(true);
    m.lock().await.unwrap().release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_channel_permissions_waiters_fall_back_to_polling() {
    let url = user("no-channels", &["~*", "resetchannels", "+@all"]);
    // The premise: this user really cannot subscribe to a release channel.
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let refused = redis::cmd("SUBSCRIBE")
        .arg("redis-mutex:{MUTEX_x}:released")
        .exec(&mut con)
        .expect_err("SUBSCRIBE must be refused");
    assert_eq!(refused.code(), Some("NOPERM"), "{refused}");
    let late = hand_over(&url, Duration::from_millis(300)).await;
    assert!(late < PROMPTLY, "hand-over took {late:?}");
}

/// Waiters that hear no hand-over (no channel permissions) learn of it by polling: the waiter
/// the lock was handed to claims it, even though another waiter now stands first in line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_without_notifications_are_served_in_arrival_order() {
    let url = user("no-channels-order", &["~*", "resetchannels", "+@all"]);
    let lock = name("acl-order");
    let holder = client(&url, 11).mutex(lock.as_str()).unwrap();
    let guard = holder.lock().await.unwrap();
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for id in [12, 13] {
        let waiter = client(&url, id).mutex(lock.as_str()).unwrap();
        let order = order.clone();
        waiters.push(tokio::spawn(async move {
            let guard = waiter.try_lock_for(PROMPTLY * 2).await.unwrap();
            order.lock().unwrap().push(id);
            tokio::time::sleep(Duration::from_millis(50)).await;
            guard.release().await.unwrap();
        }));
        // The first waiter queues before the second.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    guard.release().await.unwrap();
    for waiter in waiters {
        waiter.await.unwrap();
    }
    assert_eq!(
        *order.lock().unwrap(),
        [12, 13],
        "served out of arrival order"
    );
}
