//! Many names and many waiters in one process: everyone is served, nothing is left behind in
//! Redis (lock keys, queues, reservations) once they are done, and the process does not grow
//! with the number of names it has used.
//!
//! The tests of this file run one at a time (see [`one_at_a_time`]): one of them measures the
//! resident set of the whole process, which the others would disturb.

mod support;

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::RedisServer;

fn dbsize(server: &RedisServer) -> i64 {
    redis::cmd("DBSIZE").query(&mut server.raw()).unwrap()
}

/// Nothing of the locks is left in Redis once the queue entries of the last waiters served have
/// expired (they expire on their own, the queue-entry lifetime after their last attempt: 1.5 s
/// with the default poll interval).
fn assert_nothing_left(server: &RedisServer) {
    let clean = common::eventually(Duration::from_secs(5), || dbsize(server) == 0);
    assert!(clean, "keys left: {:?}", server.keys("*"));
}

/// Held by each test for its whole run, so that the tests of this binary do not overlap.
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// A field of `/proc/self/status` in KiB (`VmRSS`: the resident set now); `None` without
/// `/proc`.
fn status_kib(field: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
}

/// Open file descriptors of this process (connections among them); `None` without `/proc`.
fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_distinct_names_leave_no_key_behind() {
    let _serial = one_at_a_time().await;
    let server = RedisServer::start();
    let client = common::client(&server);
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let client = client.clone();
            tokio::spawn(async move {
                for i in 0..1_000 {
                    let m = client.mutex(format!("entity:{task}:{i}")).unwrap();
                    m.lock().await.unwrap().release().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_nothing_left(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_waiters_on_two_hundred_locks_are_all_served_and_leave_nothing() {
    let _serial = one_at_a_time().await;
    let server = RedisServer::start();
    // Two "processes" (clients without a shared local line) so waiters queue in Redis too.
    let clients = [
        common::unqueued_client(&server),
        common::unqueued_client(&server),
    ];
    let served = Arc::new(AtomicUsize::new(0));
    let inside: Arc<Vec<AtomicUsize>> = Arc::new((0..200).map(|_| AtomicUsize::new(0)).collect());
    let tasks: Vec<_> = (0..2_000)
        .map(|i| {
            let lock = i % 200;
            // Every tenth waiter wants its lock and the next one, all-or-nothing.
            let names = if i % 10 == 0 {
                vec![format!("busy:{lock}"), format!("busy:{}", (lock + 1) % 200)]
            } else {
                vec![format!("busy:{lock}")]
            };
            let m = clients[i % 2].mutex(names).unwrap();
            let (served, inside) = (served.clone(), inside.clone());
            tokio::spawn(async move {
                let guard = m.try_lock_for(Duration::from_secs(60)).await.unwrap();
                let counters: Vec<&AtomicUsize> = guard
                    .names()
                    .as_slice()
                    .iter()
                    .map(|n| &inside[n["busy:".len()..].parse::<usize>().unwrap()])
                    .collect();
                for c in &counters {
                    assert_eq!(c.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
                }
                tokio::task::yield_now().await;
                for c in &counters {
                    c.fetch_sub(1, Ordering::SeqCst);
                }
                guard.release().await.unwrap();
                served.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(120), task)
            .await
            .expect("a waiter was never served")
            .unwrap();
    }
    assert_eq!(served.load(Ordering::SeqCst), 2_000);
    assert_nothing_left(&server);
}

/// Distinct names locked and released in [`distinct_names_leave_no_key_and_no_growth`], and the
/// point after which the process must not grow any more.
const NAMES: usize = 100_000;
const NAMES_CHECKPOINT: usize = 20_000;
/// How much the resident set may grow between the checkpoint and the end: generous, for a shared
/// machine and an allocator that keeps freed memory; per-name state kept by the crate
/// (a few hundred bytes a name at the least) would take 20 MiB or more over 80,000 names.
const GROWTH_BOUND_KIB: u64 = 16 * 1024;

/// Locks and releases `scale:<i>` for every `i` in `names`, 64 tasks at a time.
async fn lock_names(client: &redis_mutex::Client, names: std::ops::Range<usize>) {
    let next = Arc::new(AtomicUsize::new(names.start));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (client, next, end) = (client.clone(), next.clone(), names.end);
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        break;
                    }
                    let m = client.mutex(format!("scale:{i}")).unwrap();
                    m.lock().await.unwrap().release().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// 100,000 distinct names, each locked and released once through one client: no key is left in
/// Redis, and between the 20,000th name and the last the process grows by less than
/// [`GROWTH_BOUND_KIB`] of resident memory and by no more than a few file descriptors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_names_leave_no_key_and_no_growth() {
    let _serial = one_at_a_time().await;
    let server = RedisServer::start();
    let client = common::client(&server);
    let started = Instant::now();
    lock_names(&client, 0..NAMES_CHECKPOINT).await;
    let (rss, fds) = (status_kib("VmRSS"), open_fds());
    lock_names(&client, NAMES_CHECKPOINT..NAMES).await;
    let (rss_end, fds_end) = (status_kib("VmRSS"), open_fds());
    eprintln!(
        "{NAMES} names in {:.1} s; VmRSS {rss:?} KiB after {NAMES_CHECKPOINT}, {rss_end:?} KiB \
         after {NAMES}; open fds {fds:?} -> {fds_end:?}",
        started.elapsed().as_secs_f64()
    );
    if let (Some(rss), Some(rss_end)) = (rss, rss_end) {
        assert!(
            rss_end < rss + GROWTH_BOUND_KIB,
            "the process grew by {} KiB between name {NAMES_CHECKPOINT} and name {NAMES}",
            rss_end.saturating_sub(rss)
        );
    }
    if let (Some(fds), Some(fds_end)) = (fds, fds_end) {
        assert!(fds_end <= fds + 2, "open fds went from {fds} to {fds_end}");
    }
    assert_nothing_left(&server);
}

/// 10,000 tasks of one process, ten on each of 1,000 locks through one client (its local queue
/// on), all waiting at once: every one is served, never two holders of a lock at once, and no
/// key is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_waiters_on_a_thousand_locks_are_all_served_and_leave_nothing() {
    const WAITERS: usize = 10_000;
    const LOCKS: usize = 1_000;
    let _serial = one_at_a_time().await;
    let server = RedisServer::start();
    let client = common::client(&server);
    let (open, gate) = tokio::sync::watch::channel(false);
    let served = Arc::new(AtomicUsize::new(0));
    let inside: Arc<Vec<AtomicBool>> =
        Arc::new((0..LOCKS).map(|_| AtomicBool::new(false)).collect());
    let tasks: Vec<_> = (0..WAITERS)
        .map(|i| {
            let lock = i % LOCKS;
            let m = client.mutex(format!("crowd:{lock}")).unwrap();
            let (mut gate, served, inside) = (gate.clone(), served.clone(), inside.clone());
            tokio::spawn(async move {
                let _ = gate.wait_for(|open| *open).await;
                let guard = m.try_lock_for(Duration::from_secs(60)).await.unwrap();
                assert!(
                    !inside[lock].swap(true, Ordering::SeqCst),
                    "two holders at once"
                );
                tokio::task::yield_now().await;
                inside[lock].store(false, Ordering::SeqCst);
                guard.release().await.unwrap();
                served.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let started = Instant::now();
    open.send_replace(true);
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(120), task)
            .await
            .expect("a waiter was never served")
            .unwrap();
    }
    eprintln!(
        "{WAITERS} waiters on {LOCKS} locks served in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(served.load(Ordering::SeqCst), WAITERS);
    assert_nothing_left(&server);
}
