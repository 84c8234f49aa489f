//! Helpers shared by the behaviour tests: clients for a spawned server, raw key access, the
//! non-atomic counter increment the locks protect, an overlap detector and polling helpers.
//!
//! Include after `mod support;` with `mod common;`. Unlike `support`, this depends on
//! `redis_mutex` and `tokio`, so examples and benches do not include it.

#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::RedisServer;

/// Generous bound for "should happen promptly" waits: long enough for a loaded 2-core CI
/// machine, short enough that a hang fails the test.
pub(crate) const PROMPTLY: Duration = Duration::from_secs(3);

/// A lock name unique to this test run: `tag-PID-N-NANOS`. Tests of one binary share a server.
pub(crate) fn name(tag: &str) -> String {
    crate::support::unique(tag)
}

/// The default-prefixed Redis key of lock `name`.
pub(crate) fn key(name: &str) -> String {
    format!("MUTEX_{name}")
}

/// An async client for `server`.
pub(crate) fn client(server: &RedisServer) -> redis_mutex::Client {
    redis_mutex::Client::open(server.url().as_str()).expect("open client")
}

/// A blocking client for `server`.
pub(crate) fn blocking_client(server: &RedisServer) -> redis_mutex::blocking::Client {
    redis_mutex::blocking::Client::open(server.url().as_str()).expect("open blocking client")
}

/// `GET key` over a raw connection.
pub(crate) fn get(server: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut server.raw())
        .expect("raw GET")
}

/// `PTTL key` over a raw connection (-2: no key, -1: no expiry).
pub(crate) fn pttl(server: &RedisServer, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query(&mut server.raw())
        .expect("raw PTTL")
}

/// Runs a raw command and returns its reply as a `redis::Value`.
pub(crate) fn raw(server: &RedisServer, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut server.raw())
        .unwrap_or_else(|err| panic!("raw {args:?}: {err}"))
}

/// Lock keys (default prefix) whose name starts with `name_prefix`.
pub(crate) fn lock_keys(server: &RedisServer, name_prefix: &str) -> Vec<String> {
    server.keys(&format!("MUTEX_{name_prefix}*"))
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub(crate) fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Async twin of [`eventually`].
pub(crate) async fn eventually_async<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Read-modify-write increment of a Redis counter, deliberately non-atomic: `GET`, a pause,
/// `SET value+1`. Two of these interleaving lose an update.
pub(crate) fn unsafe_increment(con: &mut redis::Connection, key: &str) {
    let value: Option<i64> = redis::cmd("GET").arg(key).query(con).expect("GET counter");
    std::thread::sleep(Duration::from_micros(500));
    redis::cmd("SET")
        .arg(key)
        .arg(value.unwrap_or(0) + 1)
        .exec(con)
        .expect("SET counter");
}

/// Async twin of [`unsafe_increment`].
pub(crate) async fn unsafe_increment_async(con: &mut redis::aio::MultiplexedConnection, key: &str) {
    let value: Option<i64> = redis::cmd("GET")
        .arg(key)
        .query_async(con)
        .await
        .expect("GET counter");
    tokio::time::sleep(Duration::from_micros(500)).await;
    tokio::task::yield_now().await;
    redis::cmd("SET")
        .arg(key)
        .arg(value.unwrap_or(0) + 1)
        .exec_async(con)
        .await
        .expect("SET counter");
}

/// The counter's value (0 when absent).
pub(crate) fn counter(server: &RedisServer, key: &str) -> i64 {
    get(server, key).map_or(0, |v| v.parse().expect("counter is an integer"))
}

/// Counts how many critical sections run at once; the most ever seen must stay 1.
#[derive(Debug, Default)]
pub(crate) struct OverlapDetector {
    inside: AtomicUsize,
    max_seen: AtomicUsize,
    entries: AtomicUsize,
}

impl OverlapDetector {
    pub(crate) fn enter(&self) -> Inside<'_> {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_seen.fetch_max(now, Ordering::SeqCst);
        self.entries.fetch_add(1, Ordering::SeqCst);
        Inside(self)
    }

    /// The largest number of holders seen inside at once.
    pub(crate) fn max_seen(&self) -> usize {
        self.max_seen.load(Ordering::SeqCst)
    }

    /// How many critical sections ran.
    pub(crate) fn entries(&self) -> usize {
        self.entries.load(Ordering::SeqCst)
    }
}

/// Leaves the critical section when dropped.
#[derive(Debug)]
pub(crate) struct Inside<'a>(&'a OverlapDetector);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Panics unless `elapsed` is at least `at_least` (less a few ms of timer granularity) and
/// less than `at_least + slack`.
pub(crate) fn assert_took(elapsed: Duration, at_least: Duration, slack: Duration) {
    assert!(
        elapsed + Duration::from_millis(5) >= at_least,
        "returned after {elapsed:?}, before the wait of {at_least:?} was over"
    );
    assert!(
        elapsed < at_least + slack,
        "returned after {elapsed:?}, more than {slack:?} past the wait of {at_least:?}"
    );
}
