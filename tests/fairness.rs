//! Multi-name waiters get their turn (issue: with two processes handing `"a"` back and forth,
//! `mutex(["a", "b"]).try_lock_for(5s)` acquired nothing while `"a"` changed hands ~750 times).

mod support;

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::name;

/// Clients standing for separate processes: no in-process line, each contends in Redis.
fn process(server: &support::RedisServer) -> redis_mutex::Client {
    common::unqueued_client(server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_name_waiter_gets_its_turn_between_single_name_hand_overs() {
    let server = support::shared();
    let (a, b) = (name("fair-a"), name("fair-b"));
    let stop = Arc::new(AtomicBool::new(false));
    let handed = Arc::new(AtomicUsize::new(0));
    // Two "processes" take and release `a` back to back, so `a` is always held or handed over.
    let loopers: Vec<_> = (0..2)
        .map(|_| {
            let mutex = process(server).mutex(a.as_str()).unwrap();
            let (stop, handed) = (stop.clone(), handed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let guard = mutex.lock().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    guard.release().await.unwrap();
                    handed.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let both = process(server).mutex([a.as_str(), b.as_str()]).unwrap();
    for round in 0..3 {
        let before = handed.load(Ordering::Relaxed);
        let guard = both
            .try_lock_for(Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "round {round}: the multi-name waiter starved while `a` changed hands {} times: {e}",
                    handed.load(Ordering::Relaxed) - before
                )
            });
        assert_eq!(
            common::holder(server, &common::key(&a)).as_deref(),
            Some(guard.token())
        );
        assert_eq!(
            common::holder(server, &common::key(&b)).as_deref(),
            Some(guard.token())
        );
        guard.release().await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for looper in loopers {
        looper.await.unwrap();
    }
    assert!(
        handed.load(Ordering::Relaxed) > 10,
        "the single-name holders did not run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_name_waiters_in_opposite_orders_never_deadlock_and_never_hold_part() {
    let server = support::shared();
    let names: Vec<String> = (0..3).map(|i| name(&format!("cross-{i}"))).collect();
    let holders = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            // Every pair of names, in both orders, plus single names.
            let set: Vec<String> = match i % 3 {
                0 => vec![names[0].clone(), names[1].clone()],
                1 => vec![names[1].clone(), names[2].clone()],
                _ => vec![names[2].clone(), names[0].clone()],
            };
            let set = if i >= 3 {
                set.into_iter().rev().collect()
            } else {
                set
            };
            let mutex = process(server).mutex(set).unwrap();
            let holders = holders.clone();
            tokio::spawn(async move {
                for _ in 0..15 {
                    let guard = mutex.try_lock_for(Duration::from_secs(20)).await.unwrap();
                    holders.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    guard.release().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("deadlocked")
            .unwrap();
    }
    assert_eq!(holders.load(Ordering::SeqCst), 90);
    for n in &names {
        assert_eq!(common::get(server, &common::key(n)), None, "{n} left held");
    }
}
