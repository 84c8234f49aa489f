//! Redis Sentinel (`redis+sentinel://`) against a real deployment on loopback: one master, one
//! replica and three sentinels (quorum 2) per test, started and stopped by the test
//! (tests/support/sentinel.rs).
//!
//! Locks before and after a forced `SENTINEL FAILOVER`; a lock whose key is gone on the new
//! master reported lost; `replica_acks` (`WAIT`) succeeding and failing, on a first attempt and
//! on a hand-over taken at the release's notification; mutual exclusion
//! between two clients; `#[mutex(server = "redis+sentinel://…")]`; malformed URLs.

mod common;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redis_mutex::{Client, Error, mutex};
use support::RedisServer;
use support::sentinel::Deployment;

/// The sentinel port of the macro test, fixed because the URL is a literal.
const MACRO_SENTINEL_PORT: u16 = 46_379;

fn client(deployment: &Deployment) -> Client {
    builder(deployment).build().expect("a client")
}

/// Short timeouts, so that a command sent to a demoted master fails fast.
fn builder(deployment: &Deployment) -> redis_mutex::ClientBuilder {
    Client::builder(deployment.url())
        .connect_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_millis(500))
}

fn get(server: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut server.raw())
        .expect("GET")
}

/// Waits until the replica has `key` (replication is asynchronous).
fn wait_replicated(deployment: &Deployment, key: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(deployment.replica(), key).as_deref() != Some(value) {
        assert!(Instant::now() < deadline, "{key} never reached the replica");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_work_before_and_after_a_failover_and_follow_the_new_master() {
    let deployment = Deployment::start("before-after");
    let client = client(&deployment);
    let orders = client.mutex("orders").unwrap();

    let guard = orders.lock().await.expect("lock before the failover");
    assert_eq!(
        get(deployment.master(), "MUTEX_orders").as_deref(),
        Some(guard.token())
    );
    guard.release().await.expect("release before the failover");
    let old_master = deployment.master().port();

    deployment.failover();
    assert_ne!(deployment.master().port(), old_master);

    // The old master is still up and still a master (Sentinel demotes it only some seconds
    // later): the client follows the sentinels' `+switch-master` announcement, so its locks
    // land on the new master within moments of the failover.
    let deadline = Instant::now() + Duration::from_secs(2);
    let guard = loop {
        let guard = orders.lock().await.expect("lock after the failover");
        if get(deployment.master(), "MUTEX_orders").as_deref() == Some(guard.token()) {
            break guard;
        }
        assert!(Instant::now() < deadline, "still locking on the old master");
        // Taken on the old master; if the client switched meanwhile, the release goes to the
        // new master, where the key is not: the lock is reported lost, as it is.
        if let Err(error) = guard.release().await {
            assert!(error.is_lost(), "{error:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(orders.is_locked().await.unwrap());
    assert!(guard.is_owned().await.unwrap());
    guard.release().await.expect("release after the failover");
    assert!(!orders.is_locked().await.unwrap());
    let blocking = client.blocking().mutex("orders").unwrap();
    drop(blocking.try_lock().expect("the blocking API too"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_whose_key_is_gone_on_the_new_master_is_reported_lost() {
    let deployment = Deployment::start("lost");
    let client = builder(&deployment)
        .ttl(Duration::from_secs(3))
        .build()
        .unwrap();
    let fenced = client.mutex("fenced").unwrap().with_fencing(true);
    let before = fenced.lock().await.unwrap();
    let token_before = before.fencing_token().unwrap();
    before.release().await.unwrap();
    let kept = client.mutex("kept").unwrap().lock().await.unwrap();
    let gone = client.mutex("gone").unwrap().lock().await.unwrap();
    wait_replicated(&deployment, "MUTEX_kept", kept.token());
    wait_replicated(&deployment, "MUTEX_gone", gone.token());

    deployment.failover();
    // As if the acquisition (and the last fencing tokens) had not reached the replica before it
    // was promoted.
    let deleted: u32 = redis::cmd("DEL")
        .arg("MUTEX_gone")
        .arg("redis-mutex:{MUTEX_fenced}:fence")
        .query(&mut deployment.master().raw())
        .unwrap();
    assert_eq!(deleted, 2, "both had reached the replica");

    tokio::time::timeout(Duration::from_secs(5), gone.lost())
        .await
        .expect("the next renewal (every second) finds the key gone");
    assert!(!gone.is_held());
    let error = gone.release().await.unwrap_err();
    assert!(error.is_lost(), "{error:?}");

    // Fencing tokens keep increasing without the counter (one clock here).
    let after = fenced.lock().await.unwrap();
    assert!(after.fencing_token().unwrap() > token_before);
    after.release().await.unwrap();

    // The lock whose key was replicated survives the failover, renewed on the new master.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(kept.is_held(), "kept across the failover");
    assert_eq!(
        get(deployment.master(), "MUTEX_kept").as_deref(),
        Some(kept.token())
    );
    kept.release().await.expect("released on the new master");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_acks_confirm_an_acquisition_or_release_it_and_fail() {
    let deployment = Deployment::start("acks");
    let timeout = Duration::from_millis(200);
    let client = builder(&deployment)
        .replica_acks(1, timeout)
        .max_poll_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    let jobs = client.mutex("jobs").unwrap();

    // The replica is up: acquisitions are confirmed, also a waiter's after a release.
    let guard = jobs.lock().await.expect("confirmed by the replica");
    assert_eq!(
        get(deployment.replica(), "MUTEX_jobs").as_deref(),
        Some(guard.token()),
        "on the replica once acquired"
    );
    let waiter = {
        let jobs = jobs.clone();
        tokio::spawn(async move { jobs.lock().await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    guard.release().await.unwrap();
    let handed = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("the waiter is handed the lock")
        .unwrap()
        .expect("confirmed");
    assert_eq!(
        get(deployment.replica(), "MUTEX_jobs").as_deref(),
        Some(handed.token())
    );
    handed.release().await.unwrap();
    // Also after the master forgot its scripts (as after a restart).
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut deployment.master().raw())
        .unwrap();
    let guard = jobs.lock().await.expect("confirmed after SCRIPT FLUSH");
    guard.release().await.unwrap();

    // The replica is frozen: it acknowledges nothing.
    deployment.replica().pause();
    let started = Instant::now();
    let error = jobs.try_lock().await.unwrap_err();
    let took = started.elapsed();
    assert!(error.is_not_replicated(), "{error:?}");
    assert!(
        !error.is_connection() && !error.is_contention(),
        "{error:?}"
    );
    assert!(matches!(
        error,
        Error::NotReplicated {
            acknowledged: 0,
            required: 1,
            ..
        }
    ));
    assert!(error.to_string().contains("replicas"), "{error}");
    assert!(took >= timeout && took < Duration::from_secs(2), "{took:?}");
    assert_eq!(
        get(deployment.master(), "MUTEX_jobs"),
        None,
        "released, not left held"
    );
    let error = jobs.lock().await.unwrap_err();
    assert!(error.is_not_replicated(), "lock() too: {error:?}");
    assert!(!jobs.is_locked().await.unwrap());
    deployment.replica().resume();
    drop(
        jobs.lock()
            .await
            .expect("confirmed again once the replica is back"),
    );
}

/// How long a waiter of the hand-over tests would sleep before its next attempt: far longer
/// than they allow for the hand-over, so that only the release's notification can be what
/// wakes it.
const LONG_POLL: Duration = Duration::from_secs(30);

/// A client with `replica_acks(1, acks_timeout)` whose waiters poll only every [`LONG_POLL`].
fn acks_client(deployment: &Deployment, acks_timeout: Duration) -> Client {
    builder(deployment)
        .replica_acks(1, acks_timeout)
        .max_poll_interval(LONG_POLL)
        .build()
        .unwrap()
}

/// Takes `jobs` (key `MUTEX_jobs`), and starts a second acquisition of it in a task: returns
/// the guard and that task once the waiter stands in the lock's queue (a waiter that queues
/// marks the holder's value, and is listening for releases by then).
async fn held_with_a_waiter(
    deployment: &Deployment,
    jobs: &redis_mutex::Mutex,
) -> (
    redis_mutex::Guard,
    tokio::task::JoinHandle<redis_mutex::Result<redis_mutex::Guard>>,
) {
    let guard = jobs.lock().await.expect("confirmed by the replica");
    let waiter = {
        let jobs = jobs.clone();
        tokio::spawn(async move { jobs.lock().await })
    };
    let marked = format!("{}+", guard.token());
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(deployment.master(), "MUTEX_jobs").as_deref() != Some(marked.as_str()) {
        assert!(
            Instant::now() < deadline,
            "no waiter ever queued for MUTEX_jobs"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (guard, waiter)
}

/// How many waiters stand in the Redis queue of the lock `key`.
fn queued(deployment: &Deployment, key: &str) -> usize {
    redis::cmd("ZCARD")
        .arg(format!("redis-mutex:{{{key}}}:queue"))
        .query(&mut deployment.master().raw())
        .expect("ZCARD")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_acks_a_waiter_takes_a_hand_over_at_the_notification_once_confirmed() {
    let deployment = Deployment::start("acks-handover");
    let client = acks_client(&deployment, Duration::from_secs(1));
    let jobs = client.mutex("jobs").unwrap();

    let (guard, waiter) = held_with_a_waiter(&deployment, &jobs).await;
    guard.release().await.unwrap();

    // Its next poll is LONG_POLL away: only the hand-over's notification can wake it sooner.
    let handed = tokio::time::timeout(LONG_POLL / 3, waiter)
        .await
        .expect("handed the lock at the release's notification, not at the next poll")
        .unwrap()
        .expect("the hand-over confirmed by the replica");
    assert_eq!(
        get(deployment.replica(), "MUTEX_jobs").as_deref(),
        Some(handed.token()),
        "on the replica once taken"
    );
    assert!(handed.is_owned().await.unwrap());
    handed.release().await.unwrap();
    assert!(!jobs.is_locked().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_acks_a_hand_over_the_replicas_do_not_confirm_fails_the_waiter_and_is_released() {
    let deployment = Deployment::start("acks-handover-fails");
    let client = acks_client(&deployment, Duration::from_millis(200));
    let jobs = client.mutex("jobs").unwrap();

    let (guard, waiter) = held_with_a_waiter(&deployment, &jobs).await;
    // The replica is frozen: it acknowledges nothing, the hand-over included.
    deployment.replica().pause();
    guard.release().await.unwrap();

    let error = tokio::time::timeout(LONG_POLL / 3, waiter)
        .await
        .expect("the waiter acts on the release's notification, not at its next poll")
        .unwrap()
        .unwrap_err();
    assert!(error.is_not_replicated(), "{error:?}");
    assert!(
        matches!(
            error,
            Error::NotReplicated {
                acknowledged: 0,
                required: 1,
                ..
            }
        ),
        "{error:?}"
    );
    // Released before the error was returned: neither held by the waiter nor queued.
    assert_eq!(
        get(deployment.master(), "MUTEX_jobs"),
        None,
        "released, not left held"
    );
    assert_eq!(queued(&deployment, "MUTEX_jobs"), 0, "out of the queue");
    assert!(!jobs.is_locked().await.unwrap());

    deployment.replica().resume();
    drop(
        jobs.lock()
            .await
            .expect("confirmed again once the replica is back"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_exclude_each_other_through_the_sentinels() {
    let deployment = Deployment::start("exclusion");
    // Different timeouts: two clients that share no connection.
    let clients = [
        client(&deployment),
        builder(&deployment)
            .connect_timeout(Duration::from_millis(600))
            .build()
            .unwrap(),
    ];
    let inside = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for task in 0..8 {
        let lock = clients[task % 2].mutex("shared").unwrap();
        let (inside, done) = (inside.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let guard = lock.lock().await.unwrap();
                assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                tokio::time::sleep(Duration::from_millis(1)).await;
                inside.store(false, Ordering::SeqCst);
                guard.release().await.unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 80);
}

/// A client whose sentinel user may ask for the master but not subscribe, so it never hears of
/// a failover: it notices when a command to the old master fails. Returns once its watcher
/// has tried to subscribe, as that user (so the credentials are used), and been refused.
async fn client_without_announcements(deployment: &Deployment) -> Client {
    for sentinel in &deployment.sentinels {
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg("locker")
            .arg("on")
            .arg(">sentinel-pw")
            .arg("+@all")
            .arg("-subscribe")
            .arg("&*")
            .query(&mut sentinel.raw())
            .unwrap();
    }
    let client = builder(deployment)
        .sentinel_username("locker")
        .sentinel_password("sentinel-pw")
        .build()
        .unwrap();
    let lock = client.mutex("first").unwrap().lock().await.unwrap();
    lock.release().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log: redis::Value = redis::cmd("ACL")
            .arg("LOG")
            .query(&mut deployment.sentinels[0].raw())
            .unwrap();
        let log = format!("{log:?}");
        if log.contains("locker") && log.contains("subscribe") {
            return client;
        }
        assert!(Instant::now() < deadline, "no refused SUBSCRIBE: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_announcements_a_readonly_master_sends_the_client_to_the_new_one() {
    let deployment = Deployment::start("readonly");
    let client = client_without_announcements(&deployment).await;
    let orders = client.mutex("orders").unwrap();
    let held = client.mutex("held").unwrap().lock().await.unwrap();
    wait_replicated(&deployment, "MUTEX_held", held.token());
    let old = deployment.master().port();
    deployment.failover();
    let new = deployment.master().port();
    // Demote the old master as Sentinel would, but without closing its clients' connections:
    // the client's next write there is refused with READONLY.
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(new)
        .query(
            &mut deployment
                .servers
                .iter()
                .find(|s| s.port() == old)
                .unwrap()
                .raw(),
        )
        .unwrap();
    // A script's write (the renewal's) is refused there too, and retried.
    held.extend(Duration::from_secs(60))
        .await
        .expect("extended on the new master");
    let pttl: i64 = redis::cmd("PTTL")
        .arg("MUTEX_held")
        .query(&mut deployment.master().raw())
        .unwrap();
    assert!(
        pttl > 40_000,
        "the new lease, longer than the 30 s one: {pttl}"
    );
    let guard = orders.lock().await.expect("retried on the new master");
    assert_eq!(
        get(deployment.master(), "MUTEX_orders").as_deref(),
        Some(guard.token())
    );
    guard.release().await.unwrap();
    held.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_announcements_a_dead_master_sends_the_client_to_the_new_one() {
    let mut deployment = Deployment::start("dead-master");
    let client = client_without_announcements(&deployment).await;
    let orders = client.mutex("orders").unwrap();

    // The master dies; until a replica is promoted, calls fail with a connection error.
    let old = deployment.master().port();
    deployment
        .servers
        .iter_mut()
        .find(|server| server.port() == old)
        .unwrap()
        .stop();
    let error = orders.try_lock().await.unwrap_err();
    assert!(error.is_connection(), "{error:?}");

    deployment.failover();
    let guard = orders.lock().await.expect("retried on the new master");
    assert_eq!(
        get(deployment.master(), "MUTEX_orders").as_deref(),
        Some(guard.token())
    );
    guard.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinels_are_asked_in_order_and_a_replica_is_never_taken_for_the_master() {
    let deployment = Deployment::start("order");
    let closed = support::free_port();
    let url = format!(
        "redis+sentinel://127.0.0.1:{closed},{}/order",
        deployment.sentinels[1].addr()
    );
    let guard = Client::open(&url)
        .unwrap()
        .mutex("first-sentinel-down")
        .unwrap()
        .try_lock()
        .await
        .expect("the second sentinel answers");
    assert_eq!(
        get(deployment.master(), "MUTEX_first-sentinel-down").as_deref(),
        Some(guard.token())
    );
    guard.release().await.unwrap();

    // A sentinel that names a replica (here: told to watch it as a master of another name).
    let replica = deployment.replica().port();
    let _: () = redis::cmd("SENTINEL")
        .arg("MONITOR")
        .arg("not-a-master")
        .arg("127.0.0.1")
        .arg(replica)
        .arg(2)
        .query(&mut deployment.sentinels[2].raw())
        .unwrap();
    let url = format!(
        "redis+sentinel://{}/not-a-master",
        deployment.sentinels[2].addr()
    );
    let error = Client::open(&url)
        .unwrap()
        .mutex("x")
        .unwrap()
        .try_lock()
        .await
        .unwrap_err();
    assert!(error.is_connection(), "{error:?}");
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("it is a replica"), "{cause}");
    assert_eq!(get(deployment.replica(), "MUTEX_x"), None);
}

/// `rediss+sentinel://`: TLS to the sentinel (here on a TLS port of its own) and to the master
/// (TLS only), both certificates signed by the CA the client is told to trust.
#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_sentinel_speaks_tls_to_the_sentinels_and_the_master() {
    let master = RedisServer::builder().tls(true).start();
    let ca = master.tls_ca().expect("a TLS server has a CA");
    let (cert, key) = ca.server_cert_and_key();
    let tls_port = support::free_port();
    let mut sentinel =
        RedisServer::builder().sentinel(support::sentinel::config("tls", master.port()));
    for (option, value) in [
        ("--tls-port", tls_port.to_string()),
        ("--tls-replication", "yes".to_owned()),
        ("--tls-cert-file", cert.display().to_string()),
        ("--tls-key-file", key.display().to_string()),
        ("--tls-ca-cert-file", ca.cert_path().display().to_string()),
        ("--tls-auth-clients", "no".to_owned()),
    ] {
        sentinel = sentinel.arg(option).arg(value);
    }
    let _sentinel = sentinel.start();
    let client = Client::builder(format!("rediss+sentinel://127.0.0.1:{tls_port}/tls"))
        .tls_root_certificates(ca.cert_pem())
        .build()
        .unwrap();
    let guard = client
        .mutex("over-tls")
        .unwrap()
        .lock()
        .await
        .expect("over TLS");
    assert_eq!(
        get(&master, "MUTEX_over-tls").as_deref(),
        Some(guard.token())
    );
    guard.release().await.unwrap();

    // Without the CA, the sentinel's certificate is refused.
    let untrusting = Client::open(&format!("rediss+sentinel://127.0.0.1:{tls_port}/tls")).unwrap();
    let error = untrusting.mutex("x").unwrap().try_lock().await.unwrap_err();
    assert!(error.is_connection(), "{error:?}");
}

#[mutex("macro", server = "redis+sentinel://127.0.0.1:46379/macro-sentinel", guard = lock)]
fn on_a_literal_sentinel_url(deployment: &Deployment) -> (Option<String>, String) {
    let token = lock.expect("taken here").token().to_owned();
    (get(deployment.master(), "MUTEX_macro"), token)
}

#[test]
fn the_macro_takes_a_sentinel_url() {
    let deployment = Deployment::start_with_sentinel_ports(
        "macro-sentinel",
        [Some(MACRO_SENTINEL_PORT), None, None],
    );
    let (value, token) = on_a_literal_sentinel_url(&deployment);
    assert_eq!(value.as_deref(), Some(token.as_str()), "held on the master");
}

#[test]
fn malformed_sentinel_urls_are_typed_errors() {
    for (url, expected) in [
        ("redis+sentinel://127.0.0.1:26379", "no master name"),
        ("redis+sentinel://127.0.0.1:26379/", "no master name"),
        ("redis+sentinel:///mymaster", "no sentinel address"),
        (
            "redis+sentinel://127.0.0.1:70000/mymaster",
            "not in 1-65535",
        ),
        ("redis+sentinel://127.0.0.1:1/mymaster/x", "not a number"),
        ("redis+sentinel://u:hunter2@h:1,/m", "has no host"),
    ] {
        let error = Client::open(url).unwrap_err();
        assert!(
            matches!(error, Error::InvalidUrl { .. }),
            "{url}: {error:?}"
        );
        assert!(error.to_string().contains(expected), "{url}: {error}");
        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }
    let client = Client::open("redis+sentinel://u:hunter2@h1:1,h2/m/2").expect("well formed");
    assert_eq!(client.server(), "redis+sentinel://u:***@h1:1,h2/m/2");
    assert!(!format!("{client:?}").contains("hunter2"));

    for builder in [
        Client::builder("redis://127.0.0.1/").replica_acks(1, Duration::from_millis(10)),
        Client::builder("redis://127.0.0.1/").sentinel_password("pw"),
        Client::builder("redis+sentinel://h:1/m").replica_acks(0, Duration::from_millis(10)),
        Client::builder("redis+sentinel://h:1/m").replica_acks(1, Duration::ZERO),
    ] {
        let error = builder.build().unwrap_err();
        assert!(matches!(error, Error::InvalidConfig { .. }), "{error:?}");
    }
    let shown = format!(
        "{:?}",
        Client::builder("redis+sentinel://h:1/m").sentinel_password("hunter2")
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_sentinels_are_a_connection_error() {
    let url = format!(
        "redis+sentinel://127.0.0.1:{},127.0.0.1:{}/nowhere",
        support::free_port(),
        support::free_port()
    );
    let client = Client::builder(url)
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = client.mutex("x").unwrap().try_lock().await.unwrap_err();
    assert!(error.is_connection(), "{error:?}");
    let chain = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(
        chain.contains("no sentinel named a master `nowhere`"),
        "{chain}"
    );
}

/// The ids of `server`'s plain client connections (not a replica's link, not a sentinel's
/// named connections, not the raw one asking), oldest first.
fn app_connections(server: &RedisServer) -> Vec<u64> {
    let mut raw = server.raw();
    let me: u64 = redis::cmd("CLIENT").arg("ID").query(&mut raw).unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut raw).unwrap();
    let mut ids: Vec<u64> = list
        .lines()
        .filter(|line| line.contains(" name= ") && line.contains(" flags=N "))
        .filter_map(|line| line.strip_prefix("id=")?.split(' ').next()?.parse().ok())
        .filter(|&id| id != me)
        .collect();
    ids.sort_unstable();
    ids
}

/// Runs `pairs(n)` (`n` lock + release pairs on one thread or runtime) with the crate's
/// connection to `master` closed: they neither fail nor reopen it, since they go on a
/// connection of their own.
fn pairs_skip_the_crates_connection(master: &RedisServer, pairs: impl Fn(usize)) {
    pairs(20);
    let ids = app_connections(master);
    assert_eq!(
        ids.len(),
        2,
        "the crate's connection and the pairs': {ids:?}"
    );
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(ids[0])
        .query(&mut master.raw())
        .unwrap();
    pairs(50);
    assert_eq!(
        app_connections(master),
        [ids[1]],
        "the pairs used another connection"
    );
}

/// The blocking API's uncontended path runs over a connection of the calling thread to the
/// master in use, as on one server.
#[test]
fn blocking_pairs_run_on_the_calling_threads_own_connection_to_the_master() {
    let deployment = Deployment::start("fast-path-blocking");
    let client = client(&deployment).blocking();
    let m = client.mutex("fast").unwrap();
    assert!(!m.is_locked().unwrap());
    pairs_skip_the_crates_connection(deployment.master(), |n| {
        for _ in 0..n {
            m.lock().unwrap().release().unwrap();
        }
    });
}

/// The uncontended path (first attempt, release) runs over a connection of the caller's
/// runtime to the master in use, as on one server: with the crate's connection to the master
/// closed, pairs neither fail nor reopen it. After a failover, the first calls go the usual
/// way, which follows the new master, and the pairs then run over a connection of the runtime
/// to the new master.
#[test]
fn uncontended_pairs_run_on_the_caller_runtimes_own_connection_to_the_master() {
    let deployment = Deployment::start("fast-path");
    let client = client(&deployment);
    let m = client.mutex("fast").unwrap();
    let rt = common::current_thread();
    let pairs = |n| common::pairs_on(&rt, &m, n);
    // A read finds the master and opens the crate's connection to it; the pairs then open the
    // runtime's own, in the background.
    rt.block_on(async { assert!(!m.is_locked().await.unwrap()) });
    let master = deployment.master();
    pairs_skip_the_crates_connection(master, pairs);

    let old = master.port();
    deployment.failover();
    let new = deployment.master();
    assert_ne!(new.port(), old);
    // The client learns of the new master from the sentinels' announcement. Until then a pair
    // may take the lock on the old master (still a master, for now) and release it on the new
    // one, where it is not: reported lost, as it is.
    let deadline = Instant::now() + Duration::from_secs(5);
    while app_connections(new).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no runtime connection to the new master"
        );
        rt.block_on(async {
            if let Err(error) = m.lock().await.unwrap().release().await {
                assert!(error.is_lost(), "{error:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        });
    }
    pairs(20);
    rt.block_on(async {
        let guard = m.lock().await.unwrap();
        assert_eq!(get(new, "MUTEX_fast").as_deref(), Some(guard.token()));
        guard.release().await.unwrap();
    });
}
