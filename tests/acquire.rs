//! Acquiring: one try (Busy), bounded waits (Timeout, on time), waiting out a vanished holder's
//! lease, the seed post's A/B/C expiry timeline, extend, renewal, loss notification, fencing.

mod common;
mod support;

use std::time::{Duration, Instant};

use common::{PROMPTLY, key, name};
use redis_mutex::Error;

const WAIT: Duration = Duration::from_millis(300);
/// How far past its wait a timed-out acquire may return: behaviour, not a timing benchmark.
const SLACK: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Busy and Timeout

#[tokio::test]
async fn try_lock_on_a_held_lock_is_busy() {
    let client = common::client(support::shared());
    let lock_name = name("busy");
    let m = client.mutex(lock_name.as_str()).unwrap();
    let held = m.try_lock().await.unwrap();

    let err = m.try_lock().await.unwrap_err();
    assert!(err.is_busy(), "{err:?}");
    assert!(!err.is_timeout() && !err.is_lost() && !err.is_connection());
    match &err {
        Error::Busy { names } => assert_eq!(names.as_slice(), [lock_name.as_str()]),
        other => panic!("expected Error::Busy, got {other:?}"),
    }
    assert!(err.to_string().contains(&lock_name), "{err}");

    // Another client of the same server sees it taken too.
    let other = common::client(support::shared());
    let err = other
        .mutex(lock_name.as_str())
        .unwrap()
        .try_lock()
        .await
        .unwrap_err();
    assert!(err.is_busy(), "{err:?}");

    held.release().await.unwrap();
    m.try_lock().await.unwrap().release().await.unwrap();
}

#[test]
fn blocking_try_lock_on_a_held_lock_is_busy() {
    let client = common::blocking_client(support::shared());
    let lock_name = name("busy-blocking");
    let m = client.mutex(lock_name.as_str()).unwrap();
    let held = m.try_lock().unwrap();
    let err = m.try_lock().unwrap_err();
    assert!(matches!(err, Error::Busy { .. }), "{err:?}");
    assert!(err.is_busy());
    held.release().unwrap();
    m.try_lock().unwrap().release().unwrap();
}

#[tokio::test]
async fn try_lock_for_times_out_roughly_on_time() {
    let client = common::client(support::shared());
    let m = client.mutex(name("try-lock-for").as_str()).unwrap();
    let held = m.try_lock().await.unwrap();

    let start = Instant::now();
    let err = m.try_lock_for(WAIT).await.unwrap_err();
    common::assert_took(start.elapsed(), WAIT, SLACK);
    assert!(err.is_timeout(), "{err:?}");
    assert!(!err.is_busy());
    match err {
        Error::Timeout { names, waited } => {
            assert_eq!(&names, m.names());
            assert!(
                waited + Duration::from_millis(5) >= WAIT,
                "waited {waited:?}"
            );
        }
        other => panic!("expected Error::Timeout, got {other:?}"),
    }
    held.release().await.unwrap();
}

#[tokio::test]
async fn try_lock_until_times_out_roughly_on_time() {
    let client = common::client(support::shared());
    let m = client.mutex(name("try-lock-until").as_str()).unwrap();
    let held = m.try_lock().await.unwrap();

    let start = Instant::now();
    let err = m
        .try_lock_until(tokio::time::Instant::now() + WAIT)
        .await
        .unwrap_err();
    common::assert_took(start.elapsed(), WAIT, SLACK);
    assert!(err.is_timeout(), "{err:?}");
    held.release().await.unwrap();
}

#[tokio::test]
async fn lock_with_a_wait_times_out_roughly_on_time() {
    let client = common::client(support::shared());
    let lock_name = name("lock-wait");
    let held = client
        .mutex(lock_name.as_str())
        .unwrap()
        .try_lock()
        .await
        .unwrap();

    let m = client
        .mutex(lock_name.as_str())
        .unwrap()
        .with_wait(Some(WAIT));
    let start = Instant::now();
    let err = m.lock().await.unwrap_err();
    common::assert_took(start.elapsed(), WAIT, SLACK);
    assert!(err.is_timeout(), "{err:?}");

    // The client-wide default wait applies too.
    let waiting = redis_mutex::Client::builder(support::shared().url().as_str())
        .wait(Some(WAIT))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = waiting
        .mutex(lock_name.as_str())
        .unwrap()
        .lock()
        .await
        .unwrap_err();
    common::assert_took(start.elapsed(), WAIT, SLACK);
    assert!(err.is_timeout(), "{err:?}");

    held.release().await.unwrap();
}

#[test]
fn blocking_timed_waits_time_out_roughly_on_time() {
    let client = common::blocking_client(support::shared());
    let lock_name = name("blocking-wait");
    let m = client.mutex(lock_name.as_str()).unwrap();
    let held = m.try_lock().unwrap();

    let start = Instant::now();
    let err = m.try_lock_for(WAIT).unwrap_err();
    common::assert_took(start.elapsed(), WAIT, SLACK);
    assert!(err.is_timeout(), "{err:?}");

    let start = Instant::now();
    let err = m.clone().with_wait(Some(WAIT)).lock().unwrap_err();
    common::assert_took(start.elapsed(), WAIT, SLACK);
    assert!(err.is_timeout(), "{err:?}");

    held.release().unwrap();
}

#[tokio::test]
async fn a_waiter_gets_the_lock_soon_after_release() {
    let client = common::client(support::shared());
    let m = client
        .mutex(name("handoff").as_str())
        .unwrap()
        .with_wait(Some(Duration::from_secs(10)));
    let held = m.try_lock().await.unwrap();
    let waiter = {
        let m = m.clone();
        tokio::spawn(async move {
            let guard = m.lock().await?;
            let got_it = Instant::now();
            guard.release().await?;
            Ok::<_, Error>(got_it)
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished(), "the waiter got a held lock");
    let released = Instant::now();
    held.release().await.unwrap();
    let got_it = waiter.await.unwrap().unwrap();
    assert!(
        got_it.duration_since(released) < PROMPTLY,
        "the waiter took {:?} to notice the release",
        got_it.duration_since(released)
    );
}

// ---------------------------------------------------------------------------------------------
// Vanished holders: a lease runs out by itself

#[tokio::test]
async fn a_raw_holders_lease_runs_out_and_a_waiter_takes_over() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("vanished-raw");
    let k = key(&lock_name);
    common::raw(server, &["SET", &k, "crashed-holder", "PX", "300", "NX"]);

    let m = client
        .mutex(lock_name.as_str())
        .unwrap()
        .with_wait(Some(Duration::from_secs(10)));
    assert!(m.try_lock().await.unwrap_err().is_busy());
    let start = Instant::now();
    let guard = m.lock().await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(common::get(server, &k).as_deref(), Some(guard.token()));
    guard.release().await.unwrap();
    assert_eq!(common::get(server, &k), None);
}

#[tokio::test]
async fn a_forgotten_guards_lease_runs_out_and_a_waiter_takes_over() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("vanished-forgotten");
    let m = client
        .mutex(lock_name.as_str())
        .unwrap()
        .with_ttl(Duration::from_millis(300))
        .unwrap()
        .with_renewal(false);
    let guard = m.lock().await.unwrap();
    std::mem::forget(guard); // a holder that never releases (crashed, hung, leaked)

    let waiter = m.clone().with_wait(Some(Duration::from_secs(10)));
    let guard = waiter.lock().await.unwrap();
    assert_eq!(
        common::get(server, &key(&lock_name)).as_deref(),
        Some(guard.token())
    );
    guard.release().await.unwrap();
}

#[test]
fn blocking_waiter_takes_over_a_vanished_holders_lock() {
    let server = support::shared();
    let client = common::blocking_client(server);
    let lock_name = name("vanished-blocking");
    let k = key(&lock_name);
    common::raw(server, &["SET", &k, "crashed-holder", "PX", "300", "NX"]);
    let guard = client
        .mutex(lock_name.as_str())
        .unwrap()
        .with_wait(Some(Duration::from_secs(10)))
        .lock()
        .unwrap();
    assert_eq!(common::get(server, &k).as_deref(), Some(guard.token()));
    guard.release().unwrap();
}

// ---------------------------------------------------------------------------------------------
// The seed post's timeline

/// A takes the lock with a short TTL and stalls past it; B takes the lock; A's release must
/// report the loss and must not delete B's key; C finds the lock busy while B holds it; B
/// releases; C gets it.
#[tokio::test]
async fn expired_holder_a_cannot_release_b_and_c_waits_for_b() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("abc");
    let k = key(&lock_name);
    let m = client.mutex(lock_name.as_str()).unwrap();

    let a = m
        .clone()
        .with_ttl(Duration::from_millis(300))
        .unwrap()
        .with_renewal(false)
        .lock()
        .await
        .unwrap();
    assert!(a.is_held());
    assert!(
        common::eventually(Duration::from_secs(5), || common::get(server, &k).is_none()),
        "A's key did not expire"
    );
    assert!(!a.is_held(), "A's local view still says held after its TTL");

    let b = m.try_lock().await.unwrap();
    assert_ne!(a.token(), b.token());
    assert_eq!(common::get(server, &k).as_deref(), Some(b.token()));

    let a_token = a.token().to_owned();
    let err = a.release().await.unwrap_err();
    assert!(
        err.is_lost(),
        "A's release: expected Error::Lost, got {err:?}"
    );
    assert!(matches!(err, Error::Lost { .. }));
    assert_eq!(
        common::get(server, &k).as_deref(),
        Some(b.token()),
        "A's late release deleted B's lock"
    );
    assert_ne!(common::get(server, &k), Some(a_token));

    let c = client.mutex(lock_name.as_str()).unwrap();
    assert!(c.try_lock().await.unwrap_err().is_busy(), "C got B's lock");

    b.release().await.unwrap();
    assert_eq!(common::get(server, &k), None);
    let c_guard = c.try_lock().await.unwrap();
    assert_eq!(common::get(server, &k).as_deref(), Some(c_guard.token()));
    c_guard.release().await.unwrap();
}

#[test]
fn blocking_expired_holder_a_cannot_release_b() {
    let server = support::shared();
    let client = common::blocking_client(server);
    let lock_name = name("abc-blocking");
    let k = key(&lock_name);
    let m = client.mutex(lock_name.as_str()).unwrap();
    let a = m
        .clone()
        .with_ttl(Duration::from_millis(300))
        .unwrap()
        .with_renewal(false)
        .lock()
        .unwrap();
    assert!(common::eventually(Duration::from_secs(5), || {
        common::get(server, &k).is_none()
    }));
    let b = m.try_lock().unwrap();
    let err = a.release().unwrap_err();
    assert!(err.is_lost(), "{err:?}");
    assert_eq!(common::get(server, &k).as_deref(), Some(b.token()));
    assert!(m.try_lock().unwrap_err().is_busy());
    b.release().unwrap();
    m.try_lock().unwrap().release().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Leases: extend, renewal, loss

#[tokio::test]
async fn extend_keeps_the_lock_past_its_first_ttl() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("extend");
    let m = client
        .mutex(lock_name.as_str())
        .unwrap()
        .with_ttl(Duration::from_millis(400))
        .unwrap()
        .with_renewal(false);
    let guard = m.lock().await.unwrap();
    guard.extend(Duration::from_secs(5)).await.unwrap();
    assert!(guard.remaining() > Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(guard.is_held());
    assert!(m.try_lock().await.unwrap_err().is_busy());
    assert!(common::pttl(server, &key(&lock_name)) > 1000);
    guard.release().await.unwrap();
}

#[tokio::test]
async fn extend_after_the_lease_ran_out_and_was_taken_is_lost() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("extend-lost");
    let k = key(&lock_name);
    let m = client
        .mutex(lock_name.as_str())
        .unwrap()
        .with_ttl(Duration::from_millis(300))
        .unwrap()
        .with_renewal(false);
    let a = m.lock().await.unwrap();
    assert!(common::eventually(Duration::from_secs(5), || {
        common::get(server, &k).is_none()
    }));
    let b = client
        .mutex(lock_name.as_str())
        .unwrap()
        .try_lock()
        .await
        .unwrap();
    let err = a.extend(Duration::from_secs(5)).await.unwrap_err();
    assert!(err.is_lost(), "{err:?}");
    assert_eq!(common::get(server, &k).as_deref(), Some(b.token()));
    drop(a);
    b.release().await.unwrap();
}

#[tokio::test]
async fn renewal_keeps_a_short_lease_alive() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("renewal");
    // 600 ms: renewed every ~200 ms, so a loaded CI machine has 400 ms of margin.
    let m = client
        .mutex(lock_name.as_str())
        .unwrap()
        .with_ttl(Duration::from_millis(600))
        .unwrap()
        .with_renewal(true);
    let guard = m.lock().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(guard.is_held());
    assert!(m.try_lock().await.unwrap_err().is_busy());
    assert_eq!(
        common::get(server, &key(&lock_name)).as_deref(),
        Some(guard.token())
    );
    guard.release().await.unwrap();
    assert_eq!(common::get(server, &key(&lock_name)), None);
}

#[tokio::test]
async fn lost_resolves_when_another_owner_takes_the_key() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("lost-notify");
    let k = key(&lock_name);
    let guard = client
        .mutex(lock_name.as_str())
        .unwrap()
        .with_ttl(Duration::from_millis(300))
        .unwrap()
        .with_renewal(true)
        .lock()
        .await
        .unwrap();
    // Someone overwrites the key (an operator, a buggy client): the next renewal notices.
    common::raw(server, &["SET", &k, "usurper", "PX", "30000"]);
    tokio::time::timeout(Duration::from_secs(5), guard.lost())
        .await
        .expect("lost() did not resolve after the key was taken over");
    assert!(!guard.is_held());
    let err = guard.release().await.unwrap_err();
    assert!(err.is_lost(), "{err:?}");
    assert_eq!(common::get(server, &k).as_deref(), Some("usurper"));
    common::raw(server, &["DEL", &k]);
}

#[test]
fn blocking_wait_lost_reports_the_loss() {
    let server = support::shared();
    let client = common::blocking_client(server);
    let lock_name = name("wait-lost");
    let k = key(&lock_name);
    let guard = client
        .mutex(lock_name.as_str())
        .unwrap()
        .with_ttl(Duration::from_millis(600))
        .unwrap()
        .with_renewal(true)
        .lock()
        .unwrap();
    assert!(
        !guard.wait_lost(Duration::from_millis(900)),
        "renewed lock reported lost"
    );
    common::raw(server, &["SET", &k, "usurper", "PX", "30000"]);
    assert!(guard.wait_lost(Duration::from_secs(5)), "loss not reported");
    assert!(guard.release().unwrap_err().is_lost());
    assert_eq!(common::get(server, &k).as_deref(), Some("usurper"));
    common::raw(server, &["DEL", &k]);
}

#[tokio::test]
async fn fencing_tokens_increase_with_each_acquisition() {
    let client = common::client(support::shared());
    let m = client
        .mutex(name("fencing").as_str())
        .unwrap()
        .with_fencing(true);
    let mut last = None;
    for _ in 0..3 {
        let guard = m.lock().await.unwrap();
        let token = guard.fencing_token().expect("fencing on: a fencing token");
        if let Some(last) = last {
            assert!(token > last, "fencing token {token} after {last}");
        }
        last = Some(token);
        guard.release().await.unwrap();
    }
    let plain = client.mutex(name("no-fencing").as_str()).unwrap();
    let guard = plain.with_fencing(false).lock().await.unwrap();
    assert_eq!(guard.fencing_token(), None);
    guard.release().await.unwrap();
}

#[tokio::test]
async fn guard_reports_its_lock() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("guard-view");
    let guard = client
        .mutex(lock_name.as_str())
        .unwrap()
        .with_ttl(Duration::from_secs(10))
        .unwrap()
        .lock()
        .await
        .unwrap();
    assert_eq!(guard.names().as_slice(), [lock_name.as_str()]);
    assert!(guard.is_held());
    let remaining = guard.remaining();
    assert!(
        remaining > Duration::from_secs(5) && remaining <= Duration::from_secs(10),
        "{remaining:?}"
    );
    let pttl = common::pttl(server, &key(&lock_name));
    assert!(pttl > 5000 && pttl <= 10_000, "PTTL {pttl}");
    let debug = format!("{guard:?}");
    assert!(debug.contains(&lock_name), "{debug}");
    guard.release().await.unwrap();
}
