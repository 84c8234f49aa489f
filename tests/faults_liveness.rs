//! Liveness under faults: every call returns within its bound even when the server or the
//! notification connection goes silent, and a waiter that dies in the queue does not hold up
//! the next one for a whole lease (findings 2 to 4 of the fault campaign).

mod common;
mod fault;
mod support;

use std::time::{Duration, Instant};

use common::{Api, ApiClient, ApiGuard, ApiMutex, PROMPTLY, name, twin_tests};
use fault::{ApiKind, Dir, Flow, Proxy, Spec, Worker};
use redis_mutex::Client;

/// Connect and response timeout of the clients talking through a faulty proxy (the default).
const TIMEOUT: Duration = Duration::from_secs(2);

/// The longest a waiter sleeps between two looks at a held lock (the default).
const MAX_POLL: Duration = Duration::from_millis(500);

/// What a loaded 2-core machine may add to a bound.
const SLACK: Duration = Duration::from_millis(1_500);

/// A client of `proxy` giving up after [`TIMEOUT`].
fn client_through(proxy: &Proxy) -> Client {
    Client::builder(proxy.url())
        .connect_timeout(TIMEOUT)
        .response_timeout(TIMEOUT)
        .max_poll_interval(MAX_POLL)
        .build()
        .unwrap()
}

/// Finding 2: with the server's pushes on the subscriber connection held back (the
/// connection stays open), `try_lock_for(1 s)` on a held lock returns `Timeout` within its
/// wait plus the response timeout, and so does every other contended call of the process
/// meanwhile; a `lock()` whose lock is released meanwhile gets it (by polling) within the
/// poll interval plus the response timeout.
async fn a_silent_notification_connection_does_not_stretch_waits<A: Api>() {
    let server = support::shared();
    let proxy = Proxy::start(server.port());
    let holder = A::client(server);
    let waiter = A::wrap(client_through(&proxy));
    let names: Vec<String> = (0..4).map(|_| name("silent-pubsub")).collect();
    let mut guards = Vec::new();
    for lock in &names {
        guards.push(
            holder
                .mutex(lock.as_str())
                .unwrap()
                .try_lock()
                .await
                .unwrap(),
        );
    }
    // A first contended wait opens the subscriber connection.
    let first = waiter.mutex(names[0].as_str()).unwrap();
    let err = first
        .try_lock_for(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{}: {err}", A::NAME);
    proxy
        .pubsub_within(PROMPTLY)
        .set(Dir::ToClient, Flow::Stall);

    let wait = Duration::from_secs(1);
    let bound = wait + TIMEOUT + SLACK;
    let waiting = {
        let mutex = waiter.mutex(names[3].as_str()).unwrap();
        A::spawn(async move { mutex.lock().await.map(drop) })
    };
    let calls: Vec<_> = names[1..3]
        .iter()
        .map(|lock| {
            let mutex = waiter.mutex(lock.as_str()).unwrap();
            A::spawn(async move {
                let started = Instant::now();
                let result = mutex.try_lock_for(wait).await.map(drop);
                (result, started.elapsed())
            })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let what = format!(
            "{}: try_lock_for({wait:?}) #{} with a silent subscriber connection (bound {bound:?})",
            A::NAME,
            i + 1
        );
        let (result, took) = call.finish_within(bound, &what).await;
        let err = result.expect_err("the lock is held");
        assert!(err.is_timeout(), "{what}: {err}");
        assert!(took < bound, "{what} took {took:?}");
    }
    guards.pop().unwrap().release().await.unwrap();
    let bound = MAX_POLL + TIMEOUT + SLACK;
    let what = format!(
        "{}: lock() of a lock released with a silent subscriber connection (bound {bound:?})",
        A::NAME
    );
    waiting
        .finish_within(bound, &what)
        .await
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    proxy.pubsub_within(PROMPTLY).set(Dir::ToClient, Flow::Pass);
    drop(guards);
}

/// Finding 4: a server that accepts connections and never answers. A fresh client's
/// `try_lock` fails with a connection error within the connect and response timeouts (plus
/// slack), and so does a second call.
async fn a_server_that_never_answers_fails_calls_within_the_timeouts<A: Api>() {
    let server = support::shared();
    let proxy = Proxy::start(server.port());
    proxy.set_default(Dir::ToClient, Flow::Stall);
    let mutex = A::wrap(client_through(&proxy))
        .mutex(name("mute-server").as_str())
        .unwrap();
    let bound = TIMEOUT + SLACK;
    for call in ["first", "second"] {
        let started = Instant::now();
        let err = mutex.try_lock().await.unwrap_err();
        let took = started.elapsed();
        assert!(
            err.is_connection(),
            "{}: {call} try_lock against a mute server: {err}",
            A::NAME
        );
        assert!(
            took < bound,
            "{}: {call} try_lock against a mute server failed after {took:?}, more than the \
             {TIMEOUT:?} connect/response timeout plus {SLACK:?} ({err})",
            A::NAME
        );
    }
}

twin_tests!(
    a_silent_notification_connection_does_not_stretch_waits(flavor = "multi_thread"),
    a_server_that_never_answers_fails_calls_within_the_timeouts,
);

/// Finding 3: waiter W (a process of its own) dies while queued behind the holder, with X
/// queued behind W. The release hands the lock to the dead W; X must get it long before W's
/// lease (a whole TTL) would run out: within about the queue entry's lifetime.
fn a_waiter_killed_in_the_queue_does_not_block_the_lock_for_a_ttl(api: ApiKind) {
    let server = support::shared();
    let lock = name("dead-waiter");
    let ttl = Duration::from_secs(6);
    let mutex = |client: redis_mutex::blocking::Client| {
        client.mutex(lock.as_str()).unwrap().with_ttl(ttl).unwrap()
    };
    let holder = mutex(common::blocking_client(server)).lock().unwrap();
    let mut w = Worker::spawn(
        "W",
        &Spec::new(server.url(), lock.as_str()).api(api).ttl(ttl),
        None,
    );
    common::assert_queued(server, &lock, 1);
    let x = mutex(common::unqueued_client(server).blocking());
    let wait = ttl - Duration::from_millis(500);
    let x = std::thread::spawn(move || {
        let result = x.try_lock_for(wait);
        (result, Instant::now())
    });
    common::assert_queued(server, &lock, 2);
    w.kill();
    let released = Instant::now();
    holder.release().unwrap();
    let (result, acquired) = x.join().unwrap();
    let waited = acquired - released;
    let bound = Duration::from_secs(4);
    let guard = result.unwrap_or_else(|err| {
        panic!(
            "{api:?}: X did not get the lock within {waited:?} of its release, which went to a \
             waiter killed in the queue (TTL {ttl:?}): {err}"
        )
    });
    assert!(
        waited < bound,
        "{api:?}: X waited {waited:?} after the release for a lock handed to a dead waiter \
         (TTL {ttl:?}, bound {bound:?})"
    );
    guard.release().unwrap();
}

fault::worker_api_tests!(a_waiter_killed_in_the_queue_does_not_block_the_lock_for_a_ttl);
