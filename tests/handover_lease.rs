//! A lock handed over by a release gets a full lease: a waiter never starts holding with a lease
//! that is about to run out (which would report a false loss and cancel `on_lost` bodies).

mod common;
mod support;

use std::time::Duration;

use common::{PROMPTLY, name};
use redis_mutex::Client;

/// The lease of every lock of the test.
const TTL: Duration = Duration::from_millis(400);

/// How many hand-overs the test makes, each releasing at a different point of the waiter's poll
/// cycle.
const ROUNDS: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handed_over_lock_starts_with_a_fresh_lease_and_keeps_it() {
    // The rounds are independent (a lock, a holder and a waiter each, on connections of their
    // own), so they run side by side: about 2.5 s instead of five times 2 s one after another.
    let rounds: Vec<_> = (0..ROUNDS)
        .map(|round| tokio::spawn(hand_over(round)))
        .collect();
    for (round, task) in rounds.into_iter().enumerate() {
        if let Err(error) = task.await {
            match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(error) => panic!("round {round}: {error}"),
            }
        }
    }
}

/// One hand-over: a holder releases after `2 × TTL + 70 ms × round`, and the waiter it hands the
/// lock to must start with most of a lease and keep it over several more.
async fn hand_over(round: u64) {
    let server = support::shared();
    let lock = name("handover-lease");
    // Separate connection sets, as separate processes would have; a slow fallback poll.
    let client = |id: u64| {
        Client::builder(server.url())
            .max_poll_interval(Duration::from_secs(30))
            .connect_timeout(Duration::from_millis(2_500 + id))
            .build()
            .unwrap()
    };
    let holder = client(round * 2)
        .mutex(lock.as_str())
        .unwrap()
        .with_ttl(TTL)
        .unwrap();
    let waiter = client(round * 2 + 1)
        .mutex(lock.as_str())
        .unwrap()
        .with_ttl(TTL)
        .unwrap();
    let guard = holder.lock().await.unwrap();
    let waiting = tokio::spawn(async move { waiter.lock().await.unwrap() });
    // Hold past several renewals and several of the waiter's TTL-bounded polls, releasing at a
    // different point of the waiter's poll cycle each round.
    tokio::time::sleep(TTL * 2 + Duration::from_millis(70 * round)).await;
    guard.release().await.unwrap();
    let handed = tokio::time::timeout(PROMPTLY, waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(
        handed.remaining() > TTL / 3,
        "round {round}: handed-over lease starts with only {:?} of {TTL:?}",
        handed.remaining()
    );
    // Renewal keeps it: no false loss over several TTLs.
    tokio::select! {
        () = handed.lost() => panic!("round {round}: handed-over lock reported lost"),
        () = tokio::time::sleep(TTL * 3) => {}
    }
    assert!(handed.is_held());
    handed.release().await.unwrap();
}
