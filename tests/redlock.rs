//! Redlock over five independent masters (`redis+redlock://`), each a real `redis-server`
//! started and stopped by the test: mutual exclusion under contention, prompt wake-ups on
//! release, masters down (a minority: locks still work; a majority: a typed error within the
//! wait bound), a hung master (bounded by the per-master timeout), a master restarted empty
//! during a hold, all-or-nothing multi-name locks, majority reads and admin, the blocking API,
//! fencing refused, malformed URLs, and the `#[mutex]` attribute.

mod common;
mod support;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{OverlapDetector, PROMPTLY, name, unsafe_increment_async};
use redis_mutex::{Client, Error, mutex};
use support::RedisServer;

/// How many masters every test runs.
const MASTERS: usize = 5;

/// Five masters shared by the tests that stop none of them.
fn shared() -> &'static [RedisServer] {
    static MASTERS_: OnceLock<Vec<RedisServer>> = OnceLock::new();
    MASTERS_.get_or_init(start)
}

fn start() -> Vec<RedisServer> {
    (0..MASTERS).map(|_| RedisServer::start()).collect()
}

/// The `redis+redlock://` URL of `masters`.
fn url(masters: &[RedisServer]) -> String {
    let addrs: Vec<String> = masters.iter().map(RedisServer::addr).collect();
    format!("redis+redlock://{}", addrs.join(","))
}

/// A client of `masters`. A per-master timeout generous for a loaded 2-core machine (each
/// distinct timeout also gives a client connections of its own, as another process has).
fn client(masters: &[RedisServer], node_timeout_ms: u64) -> Client {
    Client::builder(url(masters))
        .node_timeout(Duration::from_millis(node_timeout_ms))
        .local_queue(false)
        .build()
        .expect("a valid Redlock URL")
}

/// Whose token each master holds at `key` (a Redlock value is `<token>#<attempt>`, with the
/// number of the attempt that took it; other values as they are).
fn values(masters: &[RedisServer], key: &str) -> Vec<Option<String>> {
    masters
        .iter()
        .map(|master| {
            let value = master.is_running().then(|| common::get(master, key))??;
            Some(match value.rsplit_once('#') {
                Some((token, attempt)) if attempt.parse::<u64>().is_ok() => token.to_owned(),
                _ => value,
            })
        })
        .collect()
}

/// Waits until every master of `masters` holds `value` at `key` (`None`: no key). An
/// acquisition or release returns once a quorum of masters did it; the others' calls complete
/// right after, in a task of the caller's runtime (or of the crate's, for the blocking API).
#[track_caller]
fn everywhere_soon(masters: &[RedisServer], key: &str, value: Option<&str>) {
    let expected = vec![value.map(str::to_owned); masters.len()];
    assert!(
        common::eventually(PROMPTLY, || values(masters, key) == expected),
        "masters hold {:?}, not {expected:?}",
        values(masters, key)
    );
}

/// [`everywhere_soon`] for a test on a tokio runtime, which keeps running while it waits.
async fn everywhere_soon_async(masters: &[RedisServer], key: &str, value: Option<&str>) {
    let expected = vec![value.map(str::to_owned); masters.len()];
    let deadline = Instant::now() + PROMPTLY;
    while values(masters, key) != expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    everywhere_soon(masters, key, value);
}

/// How many masters hold `value` at `key`.
fn holding(masters: &[RedisServer], key: &str, value: &str) -> usize {
    values(masters, key)
        .iter()
        .filter(|v| v.as_deref() == Some(value))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contending_clients_never_overlap() {
    const TASKS: usize = 3;
    const ROUNDS: usize = 8;
    let masters = shared();
    let lock = name("redlock-contention");
    let counter = format!("counter:{lock}");
    let detector = Arc::new(OverlapDetector::default());
    let started = Instant::now();
    // Two clients with connections of their own, as two processes; three tasks each.
    let tasks: Vec<_> = [client(masters, 200), client(masters, 201)]
        .iter()
        .flat_map(|client| (0..TASKS).map(move |_| client.clone()))
        .map(|client| {
            let mutex = client
                .mutex(&lock)
                .unwrap()
                .with_wait(Some(Duration::from_secs(20)));
            let (detector, counter) = (detector.clone(), counter.clone());
            let counter_server = masters[0].url();
            tokio::spawn(async move {
                let mut con = redis::Client::open(counter_server)
                    .unwrap()
                    .get_multiplexed_async_connection()
                    .await
                    .unwrap();
                for _ in 0..ROUNDS {
                    let guard = mutex.lock().await.expect("acquired within the wait");
                    {
                        let _inside = detector.enter();
                        unsafe_increment_async(&mut con, &counter).await;
                    }
                    guard.release().await.expect("still ours");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a contending task panicked");
    }
    let entries = 2 * TASKS * ROUNDS;
    assert_eq!(detector.max_seen(), 1, "two holders were inside at once");
    assert_eq!(detector.entries(), entries);
    assert_eq!(common::counter(&masters[0], &counter), entries as i64);
    eprintln!(
        "{entries} contended acquisitions in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_release_wakes_a_waiter_at_once() {
    let masters = shared();
    let lock = name("redlock-wake");
    // Waiters poll only every 5 s: a prompt wake-up comes from the release announcement.
    let waiting = Client::builder(url(masters))
        .max_poll_interval(Duration::from_secs(5))
        .node_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let holder = client(masters, 202)
        .mutex(&lock)
        .unwrap()
        .lock()
        .await
        .unwrap();
    let mutex = waiting.mutex(&lock).unwrap();
    let waiter = tokio::spawn(async move {
        let guard = mutex.lock().await.unwrap();
        (Instant::now(), guard)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "the lock is held");
    let released = Instant::now();
    holder.release().await.unwrap();
    let (acquired, guard) = tokio::time::timeout(PROMPTLY, waiter)
        .await
        .unwrap()
        .unwrap();
    let delay = acquired - released;
    assert!(
        delay < Duration::from_millis(400),
        "the waiter took {delay:?} after the release"
    );
    guard.release().await.unwrap();
}

#[tokio::test]
async fn two_masters_down_locks_still_work() {
    let mut masters = start();
    let client = client(&masters, 200);
    let lock = name("redlock-minority-down");
    let key = common::key(&lock);
    masters[1].stop();
    masters[3].stop();
    let mutex = client.mutex(&lock).unwrap();
    for _ in 0..3 {
        let guard = mutex.try_lock().await.expect("3 of 5 masters are a quorum");
        assert_eq!(holding(&masters, &key, guard.token()), 3);
        assert!(mutex.is_locked().await.unwrap());
        assert!(guard.is_owned().await.unwrap());
        let busy = client.mutex(&lock).unwrap().try_lock().await.unwrap_err();
        assert!(busy.is_busy(), "{busy}");
        guard.release().await.expect("released by a quorum");
        assert_eq!(values(&masters, &key), vec![None; MASTERS]);
    }
}

#[tokio::test]
async fn a_hung_master_costs_at_most_the_per_master_timeout() {
    let masters = start();
    let node_timeout = Duration::from_millis(150);
    let client = Client::builder(url(&masters))
        .node_timeout(node_timeout)
        .build()
        .unwrap();
    let lock = name("redlock-hung");
    let mutex = client.mutex(&lock).unwrap();
    mutex.try_lock().await.unwrap().release().await.unwrap(); // connected everywhere
    masters[0].pause();
    for _ in 0..3 {
        let started = Instant::now();
        let guard = mutex.try_lock().await.expect("4 of 5 masters answer");
        guard.release().await.expect("released by a quorum");
        // Two phases (acquire, release), each waiting at most the timeout for the hung master.
        let took = started.elapsed();
        assert!(
            took < node_timeout * 2 + Duration::from_millis(500),
            "{took:?}"
        );
    }
    masters[0].resume();
}

/// An acquisition is settled by the first quorum to take the lock, and a release by the first
/// quorum to release it: a master that hangs (here far longer than its timeouts would allow)
/// slows neither. Its calls, sent, complete once it answers again, in the order they were sent,
/// so no key is left on it.
#[tokio::test]
async fn a_quorum_settles_without_waiting_for_the_slowest_master() {
    let masters = start();
    let patient = Duration::from_secs(30);
    let client = Client::builder(url(&masters))
        .node_timeout(patient)
        .response_timeout(patient)
        .build()
        .unwrap();
    let lock = name("redlock-quorum");
    let key = common::key(&lock);
    let mutex = client.mutex(&lock).unwrap();
    mutex.try_lock().await.unwrap().release().await.unwrap(); // connected everywhere
    masters[4].pause();
    for _ in 0..3 {
        let started = Instant::now();
        let guard = mutex.try_lock().await.expect("4 of 5 masters answer");
        assert!(holding(&masters[..4], &key, guard.token()) >= 3);
        guard.release().await.expect("released by a quorum");
        // Waiting for the hung master would take `patient` per phase.
        common::assert_within("a pair with a master hung", started, PROMPTLY);
    }
    masters[4].resume();
    assert!(
        common::eventually(PROMPTLY, || values(&masters, &key)
            .iter()
            .all(Option::is_none)),
        "a key was left: {:?}",
        values(&masters, &key)
    );
}

#[test]
fn the_blocking_api_locks_on_redlock() {
    let masters = shared();
    let client = client(masters, 204).blocking();
    let lock = name("redlock-blocking");
    let mutex = client.mutex(&lock).unwrap();
    let guard = mutex.lock().expect("acquired");
    let key = common::key(&lock);
    // Settled by the first quorum of masters to take it; the others' calls run on.
    everywhere_soon(masters, &key, Some(guard.token()));
    assert!(mutex.try_lock().unwrap_err().is_busy());
    guard.release().expect("released");
    everywhere_soon(masters, &key, None);
}

#[tokio::test]
async fn three_masters_down_fail_with_a_typed_error_within_the_wait() {
    let mut masters = start();
    let client = client(&masters, 100);
    for master in &mut masters[..3] {
        master.stop();
    }
    let mutex = client.mutex(name("redlock-majority-down")).unwrap();
    let wait = Duration::from_secs(2);
    let started = Instant::now();
    let error = mutex.try_lock_for(wait).await.unwrap_err();
    assert!(
        started.elapsed() < wait + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(error.is_connection(), "{error:?}");
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
    let message = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(
        message.contains("only 2 of 5 Redlock masters answered")
            && message.contains("3 are needed"),
        "{message}"
    );
    // So does a blocking lock() without a bound, and a read.
    let blocking = client
        .blocking()
        .mutex(name("redlock-majority-down"))
        .unwrap();
    let error = tokio::task::spawn_blocking(move || blocking.lock().unwrap_err())
        .await
        .unwrap();
    assert!(error.is_connection(), "{error:?}");
    assert!(mutex.is_locked().await.unwrap_err().is_connection());
}

#[tokio::test]
async fn a_master_restarted_empty_during_a_hold_leaves_it_held_and_renewal_retakes_it() {
    let mut masters = start();
    let ttl = Duration::from_millis(600);
    let client = Client::builder(url(&masters))
        .node_timeout(Duration::from_millis(200))
        .ttl(ttl)
        .build()
        .unwrap();
    let lock = name("redlock-restart");
    let key = common::key(&lock);
    let guard = client.mutex(&lock).unwrap().lock().await.unwrap();
    everywhere_soon_async(&masters, &key, Some(guard.token())).await;
    masters[2].restart();
    assert_eq!(
        common::get(&masters[2], &key),
        None,
        "restarted without data"
    );
    // Several renewals (every ttl/3) later, on the four masters that kept the key.
    tokio::time::sleep(ttl * 3).await;
    assert!(
        guard.is_held(),
        "renewal kept the lease on the remaining quorum"
    );
    assert!(guard.is_owned().await.unwrap());
    assert!(common::pttl(&masters[0], &key) > 0);
    assert_eq!(
        holding(&masters, &key, guard.token()),
        MASTERS,
        "a renewal took the key again on the restarted master"
    );
    let other = Client::builder(url(&masters))
        .node_timeout(Duration::from_millis(201))
        .build()
        .unwrap();
    let busy = other.mutex(&lock).unwrap().try_lock().await.unwrap_err();
    assert!(busy.is_busy(), "{busy}");
    guard.release().await.expect("still ours by quorum");
}

#[tokio::test]
async fn a_multi_name_lock_is_all_or_nothing_on_each_master() {
    let masters = shared();
    let client = client(masters, 200);
    let (a, b) = (name("redlock-multi-a"), name("redlock-multi-b"));
    let (key_a, key_b) = (common::key(&a), common::key(&b));
    let held = client.mutex(&a).unwrap().lock().await.unwrap();
    let both = client.mutex([&a, &b]).unwrap();
    assert!(both.try_lock().await.unwrap_err().is_busy());
    assert_eq!(
        values(masters, &key_b),
        vec![None; MASTERS],
        "no master took b alone"
    );
    held.release().await.unwrap();
    everywhere_soon_async(masters, &key_a, None).await;

    // b taken by someone else on two masters: the other three take both names, those two none.
    for master in &masters[..2] {
        common::raw(master, &["SET", &key_b, "someone", "PX", "10000"]);
    }
    let guard = both.try_lock().await.expect("a quorum took both");
    let token = guard.token().to_owned();
    assert_eq!(holding(masters, &key_a, &token), 3);
    assert_eq!(holding(masters, &key_b, &token), 3);
    for master in &masters[..2] {
        assert_eq!(
            common::get(master, &key_a),
            None,
            "all or nothing per master"
        );
    }
    guard.release().await.unwrap();
    for master in &masters[..2] {
        assert_eq!(common::get(master, &key_b).as_deref(), Some("someone"));
        common::raw(master, &["DEL", &key_b]);
    }
}

#[tokio::test]
async fn reads_and_admin_report_the_majority() {
    let masters = shared();
    let client = client(masters, 200);
    let lock = name("redlock-admin");
    let key = common::key(&lock);
    let mutex = client.mutex(&lock).unwrap();
    assert!(!mutex.is_locked().await.unwrap());
    let guard = mutex.lock().await.unwrap();
    let [status] = &client.status(&lock).await.unwrap()[..] else {
        unreachable!()
    };
    assert_eq!(status.holder.as_deref(), Some(guard.token()));
    assert!(status.remaining.is_some_and(|left| left <= client.ttl()));
    // A minority holding another value does not change the majority's view.
    common::raw(&masters[4], &["SET", &key, "minority", "PX", "10000"]);
    assert!(guard.is_owned().await.unwrap());
    let forced = client.force_release(&lock).await.unwrap();
    assert_eq!(forced[0].removed_holder.as_deref(), Some(guard.token()));
    assert!(!mutex.is_locked().await.unwrap());
    assert!(guard.release().await.unwrap_err().is_lost());
    common::raw(&masters[4], &["DEL", &key]);
}

#[tokio::test]
async fn fencing_is_refused_with_a_clear_error() {
    let masters = shared();
    let error = Client::builder(url(masters))
        .fencing(true)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidConfig {
                option: "fencing",
                ..
            }
        ),
        "{error:?}"
    );
    let mutex = client(masters, 200)
        .mutex(name("redlock-fencing"))
        .unwrap()
        .with_fencing(true);
    let error = mutex.try_lock().await.unwrap_err();
    assert!(error.is_invalid_input(), "{error:?}");
    assert!(error.to_string().contains("Redlock"), "{error}");
}

#[test]
fn malformed_urls_are_typed_errors_that_say_what_to_fix() {
    for (url, says) in [
        (
            "redis+redlock://127.0.0.1:1,127.0.0.1:2",
            "at least 3 independent masters",
        ),
        (
            "redis+redlock://127.0.0.1:1,127.0.0.1:1,127.0.0.1:2",
            "listed twice",
        ),
        ("redis+redlock://h:1,h:x,h:3", "no valid port"),
        ("redis+redlock://h:1,h:2,h:3/db", "database number"),
    ] {
        let error = Client::open(url).unwrap_err();
        assert!(
            matches!(error, Error::InvalidUrl { .. }),
            "{url}: {error:?}"
        );
        assert!(error.to_string().contains(says), "{url}: {error}");
    }
    let error = Client::open("redis+redlock://app:secret@h:1,h:2").unwrap_err();
    assert!(!error.to_string().contains("secret"), "{error}");
    // Four masters are accepted (with a warning): a quorum of three.
    Client::open("redis+redlock://h:1,h:2,h:3,h:4").expect("an even count is accepted");
}

/// The client the attribute below uses: the test's masters (their ports are known only at
/// run time; `redis-mutex-ui/tests/ui/pass/redlock-server.rs` checks the
/// `server = "redis+redlock://…"` form).
fn masters_client() -> Client {
    client(shared(), 203)
}

#[mutex("{name}", client = masters_client(), guard = lock)]
async fn under_the_attribute(name: &str) -> redis_mutex::Result<usize> {
    let token = lock.expect("taken here").token().to_owned();
    Ok(holding(shared(), &common::key(name), &token))
}

#[tokio::test]
async fn the_attribute_locks_on_redlock() {
    let lock = name("redlock-macro");
    let holders = under_the_attribute(&lock).await.unwrap();
    assert!(
        holders >= 3,
        "held on {holders} masters inside the function"
    );
    everywhere_soon_async(shared(), &common::key(&lock), None).await;
}

/// `rediss+redlock://`: three TLS-only masters, each with a certificate of its own CA, trusted
/// together through `tls_root_certificates`.
#[cfg(feature = "tls")]
#[tokio::test]
async fn rediss_redlock_locks_over_tls() {
    let masters: Vec<RedisServer> = (0..3)
        .map(|_| RedisServer::builder().tls(true).start())
        .collect();
    let roots: Vec<u8> = masters
        .iter()
        .flat_map(|master| master.tls_ca().expect("a TLS server has a CA").cert_pem())
        .collect();
    let addrs: Vec<String> = masters.iter().map(RedisServer::addr).collect();
    let client = Client::builder(format!("rediss+redlock://{}", addrs.join(",")))
        .tls_root_certificates(roots)
        .node_timeout(Duration::from_millis(500))
        .build()
        .expect("a TLS Redlock client");
    let guard = client
        .mutex(name("redlock-tls"))
        .unwrap()
        .lock()
        .await
        .unwrap();
    assert!(guard.is_owned().await.unwrap());
    guard.release().await.unwrap();
}

#[test]
fn uncontended_pairs_run_on_the_caller_runtimes_own_connections() {
    // A fresh set of masters: connections are counted.
    let masters = start();
    let client = client(&masters, 200);
    let m = client.mutex(name("redlock-fast")).unwrap();
    let rt = common::current_thread();
    // A read opens the crate's connections (reads always go through them); then the first
    // pairs open this runtime's own, in the background.
    rt.block_on(async { assert!(!m.is_locked().await.unwrap()) });
    common::pairs_on(&rt, &m, 20);
    // On every master: the crate's connection (opened first) and the runtime's own. Close the
    // crate's: the pairs below must not need it (no error, no reconnect).
    let ids: Vec<Vec<u64>> = masters.iter().map(common::client_ids).collect();
    for (master, ids) in masters.iter().zip(&ids) {
        assert_eq!(ids.len(), 2, "{ids:?}");
        common::kill_client(master, ids[0]);
    }
    common::pairs_on(&rt, &m, 50);
    for (master, ids) in masters.iter().zip(&ids) {
        assert_eq!(
            common::client_ids(master),
            [ids[1]],
            "the pairs used another connection"
        );
    }
    // The runtime gone, so are its connections; the client goes on working (the first call
    // may find the crate's connections closed above: a connection error, then they reconnect).
    drop(rt);
    assert!(common::eventually(PROMPTLY, || masters
        .iter()
        .zip(&ids)
        .all(
            |(master, ids)| !common::client_ids(master).contains(&ids[1])
        )));
    common::block_on(async {
        match m.lock().await {
            Ok(guard) => guard.release().await.unwrap(),
            Err(error) => {
                assert!(error.is_connection(), "{error:?}");
                m.lock().await.unwrap().release().await.unwrap();
            }
        }
    });
}

#[tokio::test]
async fn masters_with_credentials_of_their_own() {
    // One master takes the URL's password; two have passwords of their own.
    let masters: Vec<RedisServer> = ["shared", "one", "two"]
        .into_iter()
        .map(|password| RedisServer::builder().password(password).start())
        .collect();
    let addrs: Vec<String> = masters.iter().map(RedisServer::addr).collect();
    let url = format!("redis+redlock://:shared@{}", addrs.join(","));
    let lock = name("redlock-credentials");

    // With the URL's password only, two masters refuse it: no quorum, and the error says why.
    let error = Client::builder(url.as_str())
        .wait(Some(Duration::from_secs(1)))
        .build()
        .unwrap()
        .mutex(&lock)
        .unwrap()
        .lock()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Refused { .. }), "{error:?}");

    let client = Client::builder(url.as_str())
        .node_credentials(&addrs[1], "default", "one")
        .node_credentials(&addrs[2], "default", "two")
        .build()
        .unwrap();
    // The client's first acquisition: settled by the first two masters to take the lock, maybe
    // while the third was still being connected to; that call is finished in the background.
    let guard = client.mutex(&lock).unwrap().lock().await.unwrap();
    everywhere_soon_async(&masters, &common::key(&lock), Some(guard.token())).await;
    guard.release().await.unwrap();

    // Credentials for a server the URL does not list, or on another kind of URL, are refused
    // when the client is built.
    for (url, addr, says) in [
        (url.as_str(), "127.0.0.1:1", "not one of the URL's masters"),
        (
            "redis://127.0.0.1:6379",
            "127.0.0.1:6379",
            "redis+redlock://",
        ),
    ] {
        let error = Client::builder(url)
            .node_credentials(addr, "default", "pw")
            .build()
            .unwrap_err();
        assert!(error.is_invalid_input(), "{error:?}");
        assert!(error.to_string().contains(says), "{error}");
    }
}

#[test]
fn a_broken_runtime_connection_costs_the_caller_no_error() {
    let masters = start();
    let client = client(&masters, 200);
    let m = client.mutex(name("redlock-broken")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(!m.is_locked().await.unwrap()); // the crate's connections first
        for _ in 0..20 {
            m.lock().await.unwrap().release().await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    // Close the runtime's own connections (the newer one on every master): the next pairs
    // find them broken, go again on the crate's connections, and open new ones for later.
    for master in &masters {
        let ids = common::client_ids(master);
        assert_eq!(ids.len(), 2, "{ids:?}");
        common::kill_client(master, ids[1]);
    }
    rt.block_on(async {
        for _ in 0..20 {
            m.lock().await.unwrap().release().await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(
        common::eventually(PROMPTLY, || masters
            .iter()
            .all(|master| common::client_ids(master).len() == 2)),
        "the runtime's connections were not opened again"
    );
}

/// An acquisition and a release settled by a quorum still reach every master, also from a
/// fresh client whose first calls mix the crate's connections (still opening) and the runtime's own (opened
/// meanwhile), on masters whose script cache was just flushed, while the caller's thread is
/// busy right after the release (this test checks with blocking calls): nothing is left
/// behind. (Without the scripts loaded on each new connection, a call left behind needed a
/// second round trip, `NOSCRIPT` then the script, which the blocked runtime never made: a key
/// was left on a master in every run.)
#[tokio::test]
async fn releases_from_fresh_clients_leave_no_key_behind() {
    let masters = start();
    let lock = name("redlock-fresh");
    let key = common::key(&lock);
    for round in 0..30 {
        for master in &masters {
            common::raw(master, &["SCRIPT", "FLUSH"]);
        }
        let client = client(&masters, 200 + round);
        let guard = client.mutex(&lock).unwrap().lock().await.unwrap();
        everywhere_soon_async(&masters, &key, Some(guard.token())).await;
        guard.release().await.unwrap();
        everywhere_soon(&masters, &key, None);
    }
}
