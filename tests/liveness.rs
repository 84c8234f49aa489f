//! Liveness: waiters wake on a release notification or at the holder's expiry instead of
//! polling; the Redis-side queue hands the lock over in arrival order; leases renew while a guard
//! lives and stop when it goes, move when extended, and a lost lock is reported (through both
//! APIs: `twin_tests!` runs each lease scenario as `scenario::async_api` and
//! `scenario::blocking_api`); fencing tokens strictly increase across processes.

mod common;
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    Api, ApiClient, ApiGuard, ApiMutex, PROMPTLY, assert_queued, key, name, queue_key, twin_tests,
};
use redis_mutex::{Client, IntoLockNames};
use support::RedisServer;

/// A client whose fallback poll is so slow that a prompt wake-up can only come from a
/// notification or from the holder's known expiry. Distinct `connect_timeout`s give distinct
/// connection sets, i.e. clients that behave like separate processes.
fn slow_poll_client(server: &RedisServer, id: u64) -> Client {
    Client::builder(server.url())
        .max_poll_interval(Duration::from_secs(30))
        .connect_timeout(Duration::from_millis(2_000 + id))
        .build()
        .unwrap()
}

/// A mutex on `names` of a [`slow_poll_client`] of its own (`id`).
fn slow_poll_mutex(server: &RedisServer, id: u64, names: impl IntoLockNames) -> redis_mutex::Mutex {
    slow_poll_client(server, id).mutex(names).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_wakes_a_waiter_without_polling() {
    let server = support::shared();
    for names in [vec![name("wake")], vec![name("wake-a"), name("wake-b")]] {
        let holder = slow_poll_mutex(server, 1, names.clone());
        let waiter = slow_poll_mutex(server, 2, names.clone());
        let guard = holder.lock().await.unwrap();
        let waiting = tokio::spawn(async move {
            let guard = waiter.lock().await.unwrap();
            (Instant::now(), guard)
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "{names:?}: waiter got a held lock");
        let released = Instant::now();
        guard.release().await.unwrap();
        let (acquired, guard) = tokio::time::timeout(PROMPTLY, waiting)
            .await
            .unwrap_or_else(|_| panic!("{names:?}: no wake-up within {PROMPTLY:?} (poll is 30 s)"))
            .unwrap();
        assert!(acquired >= released);
        guard.release().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_hands_the_lock_straight_to_the_waiter() {
    let server = support::shared();
    let lock = name("handover");
    let holder = slow_poll_mutex(server, 3, &lock);
    let waiter = slow_poll_mutex(server, 4, &lock);
    let guard = holder.lock().await.unwrap();
    let waiting = tokio::spawn(async move { waiter.lock().await.unwrap() });
    // The waiter is queued in Redis once its entry appears.
    assert_queued(server, &lock, 1);
    guard.release().await.unwrap();
    let handed = tokio::time::timeout(PROMPTLY, waiting)
        .await
        .expect("the waiter did not get the released lock promptly")
        .unwrap();
    // The key went from one token to the other with no gap a newcomer could use.
    common::assert_key_holds(server, &key(&lock), &handed);
    assert_eq!(
        common::raw(server, &["EXISTS", &queue_key(&lock)]),
        redis::Value::Int(0)
    );
    handed.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_of_different_processes_are_served_in_arrival_order() {
    let server = support::shared();
    let lock = name("fifo");
    let holder = slow_poll_mutex(server, 10, &lock);
    let guard = holder.lock().await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for id in 0..4u64 {
        let waiter = slow_poll_mutex(server, 11 + id, &lock);
        let tx = tx.clone();
        tokio::spawn(async move {
            let guard = waiter.lock().await.unwrap();
            tx.send(id).unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            guard.release().await.unwrap();
        });
        // Wait until this waiter is queued before starting the next.
        assert_queued(server, &lock, i64::try_from(id).unwrap() + 1);
    }
    guard.release().await.unwrap();
    let mut order = Vec::new();
    for _ in 0..4 {
        order.push(
            tokio::time::timeout(PROMPTLY, rx.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(order, [0, 1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_holder_is_noticed_at_expiry_not_at_the_next_poll() {
    let server = support::shared();
    let lock = name("expiry");
    // A holder that never announces its release: the Python original, or a crashed process.
    common::raw(
        server,
        &["SET", &key(&lock), "seed-holder", "PX", "800", "NX"],
    );
    let started = Instant::now();
    let guard = tokio::time::timeout(
        Duration::from_secs(10),
        slow_poll_mutex(server, 20, &lock).lock(),
    )
    .await
    .expect("waited for the 30 s poll instead of the 0.8 s expiry")
    .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(700),
        "acquired a held lock after {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(800) + PROMPTLY,
        "noticed expiry late: {waited:?}"
    );
    guard.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_queue_entry_is_skipped() {
    let server = support::shared();
    let lock = name("dead-waiter");
    let lock_key = key(&lock);
    let tag = format!("redis-mutex:{{{lock_key}}}");
    let holder = slow_poll_mutex(server, 30, &lock);
    let guard = holder.lock().await.unwrap();
    // A waiter that died: first in line, but its entry (`…:waiter:dead`) lapsed long ago.
    common::raw(server, &["ZADD", &format!("{tag}:queue"), "1", "dead"]);
    let waiter = slow_poll_mutex(server, 31, &lock);
    let waiting = tokio::spawn(async move { waiter.lock().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    guard.release().await.unwrap();
    let live = tokio::time::timeout(PROMPTLY, waiting)
        .await
        .expect("the lock went to the dead waiter")
        .unwrap();
    common::assert_key_holds(server, &lock_key, &live);
    live.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_wait_leaves_the_queue_and_passes_a_handed_lock_on() {
    let server = support::shared();
    let lock = name("abandon");
    let holder = slow_poll_mutex(server, 40, &lock);
    let guard = holder.lock().await.unwrap();
    let impatient = slow_poll_mutex(server, 41, &lock);
    let err = impatient
        .try_lock_for(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // The timed-out waiter left the queue.
    assert_queued(server, &lock, 0);
    // A waiter cancelled from outside (its future dropped) leaves the queue too.
    let cancelled = slow_poll_mutex(server, 42, &lock);
    let _ = tokio::time::timeout(Duration::from_millis(300), cancelled.lock()).await;
    assert_queued(server, &lock, 0);
    guard.release().await.unwrap();
    assert!(common::eventually(PROMPTLY, || common::get(
        server,
        &key(&lock)
    )
    .is_none()));
}

// ---------------------------------------------------------------------------------------------
// Leases, through the async API and its blocking twin alike

twin_tests!(
    renewal_keeps_a_lock_past_several_ttls_and_stops_after_release,
    renewal_stops_when_the_guard_is_dropped,
    a_lock_deleted_or_taken_behind_the_holders_back_is_reported_lost,
    without_renewal_the_lease_runs_out_and_is_reported,
    extend_moves_the_lease_past_its_ttl_and_fails_once_lost,
    extend_after_the_lease_ran_out_and_was_taken_is_lost,
);

const TTL: Duration = Duration::from_millis(300);

/// Puts `token` back on `lock`'s key by hand, with a lease of [`TTL`]: a renewal still running
/// for it would keep it alive.
async fn assert_renewal_stopped<A: Api>(server: &RedisServer, lock: &str, token: &str) {
    let ttl_ms = TTL.as_millis().to_string();
    common::raw(server, &["SET", &key(lock), token, "PX", &ttl_ms]);
    A::sleep(TTL * 3).await;
    assert_eq!(
        common::get(server, &key(lock)),
        None,
        "renewal outlived the guard"
    );
}

async fn renewal_keeps_a_lock_past_several_ttls_and_stops_after_release<A: Api>() {
    let server = support::shared();
    let lock = name("renew");
    let guard = A::client(server)
        .lease(&lock, TTL, true)
        .lock()
        .await
        .unwrap();
    let rival = A::client(server).mutex(&lock).unwrap();
    let token = guard.token().to_owned();
    let until = Instant::now() + TTL * 5;
    while Instant::now() < until {
        assert!(guard.is_held());
        assert!(rival.try_lock().await.unwrap_err().is_busy());
        assert_eq!(
            common::get(server, &key(&lock)),
            Some(token.clone()),
            "the renewed key"
        );
        A::sleep(TTL / 4).await;
    }
    guard.release().await.unwrap();
    assert_eq!(common::get(server, &key(&lock)), None, "released key");
    assert_renewal_stopped::<A>(server, &lock, &token).await;
}

async fn renewal_stops_when_the_guard_is_dropped<A: Api>() {
    let server = support::shared();
    let lock = name("renew-drop");
    let guard = A::client(server)
        .lease(&lock, TTL, true)
        .lock()
        .await
        .unwrap();
    let token = guard.token().to_owned();
    drop(guard);
    assert!(
        common::eventually(PROMPTLY, || common::get(server, &key(&lock)).is_none()),
        "Drop did not release"
    );
    assert_renewal_stopped::<A>(server, &lock, &token).await;
}

async fn a_lock_deleted_or_taken_behind_the_holders_back_is_reported_lost<A: Api>() {
    let server = support::shared();
    for theft in ["DEL", "SET"] {
        let lock = name("stolen");
        let k = key(&lock);
        let guard = A::client(server)
            .lease(&lock, TTL, true)
            .lock()
            .await
            .unwrap();
        assert!(
            !guard.lost_within(TTL * 3 / 2).await,
            "{theft}: a renewed lock was reported lost"
        );
        match theft {
            "DEL" => common::raw(server, &["DEL", &k]),
            _ => common::raw(server, &["SET", &k, "thief", "PX", "60000"]),
        };
        assert!(
            guard.lost_within(PROMPTLY).await,
            "{theft}: loss not signalled within {PROMPTLY:?}"
        );
        assert!(!guard.is_held(), "{theft}");
        assert_eq!(guard.remaining(), Duration::ZERO, "{theft}");
        let err = guard.release().await.unwrap_err();
        assert!(err.is_lost(), "{theft}: {err:?}");
        if theft == "SET" {
            assert_eq!(
                common::get(server, &k).as_deref(),
                Some("thief"),
                "the release touched the thief's key"
            );
            common::raw(server, &["DEL", &k]);
        }
    }
}

async fn without_renewal_the_lease_runs_out_and_is_reported<A: Api>() {
    let server = support::shared();
    let client = A::client(server);
    let lock = name("no-renew");
    let ttl = Duration::from_millis(400);
    let start = Instant::now();
    let guard = client.lease(&lock, ttl, false).lock().await.unwrap();
    assert!(guard.remaining() <= ttl);
    // Not reported while the lease still runs...
    let half = guard.remaining() / 2;
    assert!(
        !guard.lost_within(half).await,
        "loss reported with {half:?} of the lease left"
    );
    assert!(guard.is_held());
    // ...and reported once it has run out.
    assert!(
        guard.lost_within(PROMPTLY).await,
        "the lapsed lease was not reported"
    );
    assert!(
        start.elapsed() >= ttl * 9 / 10,
        "loss reported after {:?}, well before the {ttl:?} lease ran out",
        start.elapsed()
    );
    assert!(!guard.is_held());
    // Someone else takes it after the key expires; our release must not delete theirs.
    let next = client
        .mutex(&lock)
        .unwrap()
        .try_lock_for(PROMPTLY)
        .await
        .unwrap();
    assert!(guard.release().await.unwrap_err().is_lost());
    common::assert_key_holds(server, &key(&lock), &next);
    next.release().await.unwrap();
}

async fn extend_moves_the_lease_past_its_ttl_and_fails_once_lost<A: Api>() {
    let server = support::shared();
    let lock = name("extend");
    let mutex = A::client(server).lease(&lock, TTL, false);
    let guard = mutex.lock().await.unwrap();
    guard.extend(Duration::from_secs(20)).await.unwrap();
    assert!(
        guard.remaining() > Duration::from_secs(19),
        "{:?}",
        guard.remaining()
    );
    assert!(common::pttl(server, &key(&lock)) > 19_000);
    // Past its first TTL, the lock is still ours.
    A::sleep(TTL * 2).await;
    assert!(guard.is_held(), "extended lease ran out at its first TTL");
    assert!(mutex.try_lock().await.unwrap_err().is_busy());
    common::assert_key_holds(server, &key(&lock), &guard);
    assert!(common::pttl(server, &key(&lock)) > 15_000);
    // Once the key is gone, extending reports the loss.
    common::raw(server, &["DEL", &key(&lock)]);
    let err = guard.extend(Duration::from_secs(20)).await.unwrap_err();
    assert!(err.is_lost(), "{err:?}");
    assert!(!guard.is_held());
}

async fn extend_after_the_lease_ran_out_and_was_taken_is_lost<A: Api>() {
    let server = support::shared();
    let client = A::client(server);
    let lock = name("extend-lost");
    let k = key(&lock);
    let a = client.lease(&lock, TTL, false).lock().await.unwrap();
    common::wait_expired(server, &k, "A's key");
    let b = client.mutex(&lock).unwrap().try_lock().await.unwrap();
    let err = a.extend(Duration::from_secs(5)).await.unwrap_err();
    assert!(err.is_lost(), "{err:?}");
    assert_eq!(
        common::get(server, &k).as_deref(),
        Some(b.token()),
        "A's extend touched B's lock"
    );
    drop(a);
    b.release().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Fencing across processes

#[test]
fn fencing_tokens_strictly_increase_across_processes() {
    let server = support::shared();
    let lock = name("fence");
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_lifecycle-child"))
                .args(["fence", &server.url(), &lock])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // This process takes part too, through the async API's blocking twin.
    let mutex = common::blocking_client(server)
        .mutex(lock.as_str())
        .unwrap()
        .with_fencing(true);
    let mut con = server.raw();
    for _ in 0..20 {
        let guard = mutex.lock().unwrap();
        redis::cmd("RPUSH")
            .arg(format!("{lock}:fences"))
            .arg(guard.fencing_token().unwrap())
            .exec(&mut con)
            .unwrap();
        drop(guard);
    }
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "child failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let fences: Vec<u64> = redis::cmd("LRANGE")
        .arg(format!("{lock}:fences"))
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(fences.len(), 80);
    assert!(
        fences.windows(2).all(|w| w[0] < w[1]),
        "fencing tokens not strictly increasing in holding order: {fences:?}"
    );
    // Multi-name locks get one token per name.
    let both = common::client(server)
        .mutex([lock.clone(), name("fence-other")])
        .unwrap()
        .with_fencing(true)
        .blocking_lock_for_test();
    assert_eq!(both.len(), 2);
    assert!(both[0] > fences[79]);
}

/// Takes a multi-name lock once and returns its fencing tokens.
trait LockForTest {
    fn blocking_lock_for_test(self) -> Vec<u64>;
}

impl LockForTest for redis_mutex::Mutex {
    fn blocking_lock_for_test(self) -> Vec<u64> {
        let guard = redis_mutex::blocking::Mutex::from(self).lock().unwrap();
        guard.fencing_tokens().to_vec()
    }
}
