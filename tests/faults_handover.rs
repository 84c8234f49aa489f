//! Hand-over under faults: a lock a release handed to a waiter that could not take it in time
//! (frozen, its notifications held back) is never taken up late, when someone else holds the
//! lock meanwhile (finding 1 of the fault campaign: two holders).

mod common;
mod fault;
mod support;

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{PROMPTLY, blocking_client, get, key, name};
use fault::{ApiKind, Dir, Event, Flow, History, Proxy, Spec, Worker, now};

/// W waits in `lock()` (in a process of its own, through a proxy) while this test holds the
/// lock. W is frozen and its pub/sub replies held back; the release hands the lock to W, whose
/// handed lease runs out while it is frozen; X takes the lock. Then W runs again, finds X
/// holding, and only after that receives the old hand-over message. W must keep waiting, and
/// get the lock only once X released it.
fn a_late_hand_over_is_not_taken_while_another_holds_the_lock(api: ApiKind) {
    let server = support::shared();
    let lock = name("stale-handover");
    let lock_key = key(&lock);
    let history = Arc::new(History::new());
    let proxy = Proxy::start(server.port());
    let test_client = blocking_client(server);
    let mutex = |ttl| {
        test_client
            .mutex(lock.as_str())
            .unwrap()
            .with_ttl(ttl)
            .unwrap()
            .with_fencing(true)
    };

    let holder = mutex(Duration::from_secs(1)).lock().unwrap();
    history.begin("holder", holder.token(), holder.fencing_token(), now());
    let w_ttl = Duration::from_secs(2);
    let spec = Spec::new(proxy.url(), lock.as_str())
        .api(api)
        .ttl(w_ttl)
        .hold(Duration::from_millis(300))
        .max_poll(Duration::from_millis(500))
        .check_key_on(server.url());
    let mut w = Worker::spawn("W", &spec, Some(&history));
    common::assert_queued(server, &lock, 1);
    let w_token = common::queued(server, &lock).remove(0);
    // W subscribed before it queued: hold back what the server pushes to it from now on.
    proxy
        .pubsub_within(PROMPTLY)
        .set(Dir::ToClient, Flow::Stall);
    w.freeze();

    history.end("holder", now(), false);
    holder.release().unwrap();
    assert_eq!(
        get(server, &lock_key).as_deref(),
        Some(w_token.as_str()),
        "the release did not hand the lock to the queued W"
    );
    common::wait_expired(server, &lock_key, "W's handed-over lease");

    let x = mutex(Duration::from_secs(1)).try_lock().unwrap();
    history.begin("X", x.token(), x.fencing_token(), now());
    w.thaw();
    // W's next attempts find X holding; then the stale hand-over message arrives.
    thread::sleep(Duration::from_millis(800));
    proxy.pubsub_within(PROMPTLY).set(Dir::ToClient, Flow::Pass);
    let is_acquired = |e: &Event| matches!(e, Event::Acquired { .. });
    if let Some(Event::Acquired {
        token,
        fence,
        held,
        key,
        ..
    }) = w.wait_for(Duration::from_secs(2), is_acquired)
    {
        panic!(
            "{api:?}: W's lock() returned a guard (token {token}, fence {fence:?}, is_held() = \
             {held}) while X (token {}, fence {:?}) holds the lock; the key holds {key:?}",
            x.token(),
            x.fencing_token()
        );
    }
    history.end("X", now(), !x.is_held());
    let x_fence = x.fencing_token();
    x.release().unwrap();

    // W kept waiting: it gets the lock now, for real, with a newer fencing token than X's.
    match w.expect("acquisition after X released", PROMPTLY, is_acquired) {
        Event::Acquired {
            token,
            key,
            held,
            fence,
            ..
        } => {
            assert!(held, "{api:?}: W acquired a lock it does not hold");
            assert_eq!(
                key,
                Some(token),
                "{api:?}: W acquired, the key says otherwise"
            );
            assert!(
                fence > x_fence,
                "{api:?}: W's fencing token {fence:?} is not above X's {x_fence:?}"
            );
        }
        _ => unreachable!(),
    }
    w.expect("release", PROMPTLY, |e| matches!(e, Event::Done));
    history.assert_exclusive(&format!("{api:?} stale hand-over"));
}

fault::worker_api_tests!(a_late_hand_over_is_not_taken_while_another_holds_the_lock);
