//! A lock handed over by a release gets a full lease: a waiter never starts holding with a lease
//! that is about to run out (which would report a false loss and cancel `on_lost` bodies).

mod common;
mod support;

use std::time::Duration;

use common::{PROMPTLY, name};
use redis_mutex::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handed_over_lock_starts_with_a_fresh_lease_and_keeps_it() {
    let server = support::shared();
    let ttl = Duration::from_millis(400);
    for round in 0..5u64 {
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
            .with_ttl(ttl)
            .unwrap();
        let waiter = client(round * 2 + 1)
            .mutex(lock.as_str())
            .unwrap()
            .with_ttl(ttl)
            .unwrap();
        let guard = holder.lock().await.unwrap();
        let waiting = tokio::spawn(async move { waiter.lock().await.unwrap() });
        // Hold past several renewals and several of the waiter's TTL-bounded polls, releasing
        // at a different point of the waiter's poll cycle each round.
        tokio::time::sleep(ttl * 2 + Duration::from_millis(70 * round)).await;
        guard.release().await.unwrap();
        let handed = tokio::time::timeout(PROMPTLY, waiting)
            .await
            .unwrap()
            .unwrap();
        assert!(
            handed.remaining() > ttl / 3,
            "round {round}: handed-over lease starts with only {:?} of {ttl:?}",
            handed.remaining()
        );
        // Renewal keeps it: no false loss over several TTLs.
        tokio::select! {
            () = handed.lost() => panic!("round {round}: handed-over lock reported lost"),
            () = tokio::time::sleep(ttl * 3) => {}
        }
        assert!(handed.is_held());
        handed.release().await.unwrap();
    }
}
