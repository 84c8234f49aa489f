//! Many names and many waiters in one process: everyone is served, and nothing is left behind
//! in Redis (lock keys, queues, reservations) once they are done.

mod support;

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::RedisServer;

fn dbsize(server: &RedisServer) -> i64 {
    redis::cmd("DBSIZE").query(&mut server.raw()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_distinct_names_leave_no_key_behind() {
    let server = RedisServer::start();
    let client = common::client(&server);
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let client = client.clone();
            tokio::spawn(async move {
                for i in 0..1_000 {
                    let m = client.mutex(format!("entity:{task}:{i}")).unwrap();
                    m.lock().await.unwrap().release().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(dbsize(&server), 0, "keys left: {:?}", server.keys("*"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_waiters_on_two_hundred_locks_are_all_served_and_leave_nothing() {
    let server = RedisServer::start();
    // Two "processes" (clients without a shared local line) so waiters queue in Redis too.
    let clients = [
        common::unqueued_client(&server),
        common::unqueued_client(&server),
    ];
    let served = Arc::new(AtomicUsize::new(0));
    let inside: Arc<Vec<AtomicUsize>> = Arc::new((0..200).map(|_| AtomicUsize::new(0)).collect());
    let tasks: Vec<_> = (0..2_000)
        .map(|i| {
            let lock = i % 200;
            // Every tenth waiter wants its lock and the next one, all-or-nothing.
            let names = if i % 10 == 0 {
                vec![format!("busy:{lock}"), format!("busy:{}", (lock + 1) % 200)]
            } else {
                vec![format!("busy:{lock}")]
            };
            let m = clients[i % 2].mutex(names).unwrap();
            let (served, inside) = (served.clone(), inside.clone());
            tokio::spawn(async move {
                let guard = m.try_lock_for(Duration::from_secs(60)).await.unwrap();
                let counters: Vec<&AtomicUsize> = guard
                    .names()
                    .as_slice()
                    .iter()
                    .map(|n| &inside[n["busy:".len()..].parse::<usize>().unwrap()])
                    .collect();
                for c in &counters {
                    assert_eq!(c.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
                }
                tokio::task::yield_now().await;
                for c in &counters {
                    c.fetch_sub(1, Ordering::SeqCst);
                }
                guard.release().await.unwrap();
                served.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(120), task)
            .await
            .expect("a waiter was never served")
            .unwrap();
    }
    assert_eq!(served.load(Ordering::SeqCst), 2_000);
    assert_eq!(dbsize(&server), 0, "keys left: {:?}", server.keys("*"));
}
