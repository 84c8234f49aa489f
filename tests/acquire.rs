//! Acquiring, through the async API and its blocking twin alike: one try (Busy), bounded waits
//! (Timeout, on time), a waiter taking over from a release or drop, waiting out a vanished holder's lease,
//! the seed post's A/B/C expiry timeline, what a guard reports, fencing tokens.
//!
//! Each scenario is an `async fn scenario<A: Api>()`; `twin_tests!` runs it as
//! `scenario::async_api` and `scenario::blocking_api`. Leases (extend, renewal, loss) are
//! tested in `liveness.rs`.

mod common;
mod support;

use std::time::{Duration, Instant};

use common::{Api, ApiClient, ApiGuard, ApiMutex, PROMPTLY, key, name, twin_tests};
use redis_mutex::Error;

const WAIT: Duration = Duration::from_millis(300);
/// How far past its wait a timed-out acquire may return: behaviour, not a timing benchmark.
const SLACK: Duration = Duration::from_secs(5);

twin_tests!(
    try_lock_on_a_held_lock_is_busy,
    bounded_waits_time_out_roughly_on_time,
    a_waiter_gets_the_lock_soon_after_a_release_or_drop,
    a_raw_holders_lease_runs_out_and_a_waiter_takes_over,
    a_forgotten_guards_lease_runs_out_and_a_waiter_takes_over,
    expired_holder_a_cannot_release_b_and_c_waits_for_b,
    fencing_tokens_increase_with_each_acquisition,
    guard_reports_its_lock,
);

// ---------------------------------------------------------------------------------------------
// Busy and Timeout

async fn try_lock_on_a_held_lock_is_busy<A: Api>() {
    let client = A::client(support::shared());
    let lock_name = name("busy");
    let m = client.mutex(&lock_name).unwrap();
    let held = m.try_lock().await.unwrap();

    let err = m.try_lock().await.unwrap_err();
    assert!(err.is_busy(), "{err:?}");
    assert!(
        !err.is_timeout() && !err.is_lost() && !err.is_connection(),
        "{err:?}"
    );
    match &err {
        Error::Busy { names } => assert_eq!(names.as_slice(), [lock_name.as_str()]),
        other => panic!("expected Error::Busy, got {other:?}"),
    }
    assert!(err.to_string().contains(&lock_name), "{err}");

    // Another client of the same server sees it taken too.
    let other = A::client(support::shared()).mutex(&lock_name).unwrap();
    let err = other.try_lock().await.unwrap_err();
    assert!(err.is_busy(), "another client: {err:?}");

    held.release().await.unwrap();
    m.try_lock().await.unwrap().release().await.unwrap();
}

/// Every way of waiting a bounded time for a held lock ends in `Error::Timeout`, on time.
async fn bounded_waits_time_out_roughly_on_time<A: Api>() {
    let server = support::shared();
    let lock_name = name("bounded-wait");
    let m = A::client(server).mutex(&lock_name).unwrap();
    let held = m.try_lock().await.unwrap();
    let client_wide_wait = A::wrap(
        redis_mutex::Client::builder(server.url())
            .wait(Some(WAIT))
            .build()
            .unwrap(),
    );

    for how in [
        "try_lock_for",
        "try_lock_until",
        "lock with_wait",
        "lock with the client-wide wait",
    ] {
        let start = Instant::now();
        let result = match how {
            "try_lock_for" => m.try_lock_for(WAIT).await,
            "try_lock_until" => m.try_lock_until(start + WAIT).await,
            "lock with_wait" => m.clone().with_wait(Some(WAIT)).lock().await,
            _ => client_wide_wait.mutex(&lock_name).unwrap().lock().await,
        };
        common::assert_took(how, start.elapsed(), WAIT, SLACK);
        let err = result.unwrap_err();
        assert!(err.is_timeout() && !err.is_busy(), "{how}: {err:?}");
        match err {
            Error::Timeout { names, waited } => {
                assert_eq!(&names, m.names(), "{how}");
                assert!(
                    waited + Duration::from_millis(5) >= WAIT,
                    "{how}: waited {waited:?}"
                );
            }
            other => panic!("{how}: expected Error::Timeout, got {other:?}"),
        }
    }
    held.release().await.unwrap();
}

/// A waiter gets the lock soon after the holder lets go, by `release` or by `Drop`.
async fn a_waiter_gets_the_lock_soon_after_a_release_or_drop<A: Api>() {
    let client = A::client(support::shared());
    for let_go in ["release", "drop"] {
        let m = client
            .mutex(name("handoff"))
            .unwrap()
            .with_wait(Some(Duration::from_secs(10)));
        let held = m.try_lock().await.unwrap();
        let waiter = A::spawn({
            let m = m.clone();
            async move {
                let guard = m.lock().await?;
                let got_it = Instant::now();
                guard.release().await?;
                Ok::<_, Error>(got_it)
            }
        });
        A::sleep(Duration::from_millis(200)).await;
        assert!(
            !waiter.is_finished(),
            "{let_go}: the waiter got a held lock"
        );
        let let_go_at = Instant::now();
        match let_go {
            "release" => held.release().await.unwrap(),
            _ => drop(held),
        }
        let got_it = waiter.join().await.unwrap().unwrap();
        let took = got_it.duration_since(let_go_at);
        assert!(
            took < PROMPTLY,
            "{let_go}: the waiter took {took:?} to get the lock"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Vanished holders: a lease runs out by itself

async fn a_raw_holders_lease_runs_out_and_a_waiter_takes_over<A: Api>() {
    let server = support::shared();
    let lock_name = name("vanished-raw");
    let k = key(&lock_name);
    common::raw(server, &["SET", &k, "crashed-holder", "PX", "300", "NX"]);

    let m = A::client(server)
        .mutex(&lock_name)
        .unwrap()
        .with_wait(Some(Duration::from_secs(10)));
    assert!(m.try_lock().await.unwrap_err().is_busy());
    let start = Instant::now();
    let guard = m.lock().await.unwrap();
    common::assert_within("waiting out a 300 ms lease", start, Duration::from_secs(5));
    common::assert_key_holds(server, &k, &guard);
    guard.release().await.unwrap();
    assert_eq!(common::get(server, &k), None);
}

async fn a_forgotten_guards_lease_runs_out_and_a_waiter_takes_over<A: Api>() {
    let server = support::shared();
    let lock_name = name("vanished-forgotten");
    let m = A::client(server).lease(&lock_name, Duration::from_millis(300), false);
    // A holder that never releases (crashed, hung, leaked).
    std::mem::forget(m.lock().await.unwrap());

    let waiter = m.clone().with_wait(Some(Duration::from_secs(10)));
    let guard = waiter.lock().await.unwrap();
    common::assert_key_holds(server, &key(&lock_name), &guard);
    guard.release().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// The seed post's timeline

/// A takes the lock with a short TTL and stalls past it; B takes the lock; A's release must
/// report the loss and must not delete B's key; C finds the lock busy while B holds it; B
/// releases; C gets it.
async fn expired_holder_a_cannot_release_b_and_c_waits_for_b<A: Api>() {
    let server = support::shared();
    let client = A::client(server);
    let lock_name = name("abc");
    let k = key(&lock_name);
    let m = client.mutex(&lock_name).unwrap();

    let a = m
        .clone()
        .with_ttl(Duration::from_millis(300))
        .unwrap()
        .with_renewal(false)
        .lock()
        .await
        .unwrap();
    assert!(a.is_held());
    common::wait_expired(server, &k, "A's key");
    assert!(!a.is_held(), "A's local view still says held after its TTL");

    let b = m.try_lock().await.unwrap();
    assert_ne!(a.token(), b.token());
    common::assert_key_holds(server, &k, &b);

    let a_token = a.token().to_owned();
    let err = a.release().await.unwrap_err();
    assert!(
        matches!(err, Error::Lost { .. }) && err.is_lost(),
        "A's release: expected Error::Lost, got {err:?}"
    );
    assert_eq!(
        common::get(server, &k).as_deref(),
        Some(b.token()),
        "A's late release deleted B's lock"
    );
    assert_ne!(common::get(server, &k), Some(a_token));

    let c = client.mutex(&lock_name).unwrap();
    assert!(c.try_lock().await.unwrap_err().is_busy(), "C got B's lock");

    b.release().await.unwrap();
    assert_eq!(common::get(server, &k), None);
    let c_guard = c.try_lock().await.unwrap();
    common::assert_key_holds(server, &k, &c_guard);
    c_guard.release().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// What a guard reports

async fn fencing_tokens_increase_with_each_acquisition<A: Api>() {
    let client = A::client(support::shared());
    let m = client.mutex(name("fencing")).unwrap().with_fencing(true);
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
    let plain = client.mutex(name("no-fencing")).unwrap();
    let guard = plain.with_fencing(false).lock().await.unwrap();
    assert_eq!(guard.fencing_token(), None);
    guard.release().await.unwrap();
}

async fn guard_reports_its_lock<A: Api>() {
    let server = support::shared();
    let lock_name = name("guard-view");
    let guard = A::client(server)
        .lease(&lock_name, Duration::from_secs(10), true)
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
