//! Mutual exclusion: concurrent holders never overlap, so a non-atomic read-modify-write of a
//! Redis counter loses no update; multi-name locks are all-or-nothing and cannot deadlock.

mod common;
mod support;

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{OverlapDetector, key, name};

const WORKERS: usize = 16;
const ROUNDS: usize = 8;

/// Generous bound for the hammering tests: a deadlock fails the test instead of hanging it.
const DEADLOCK_BOUND: Duration = Duration::from_secs(40);

#[test]
fn blocking_threads_do_not_overlap_and_lose_no_update() {
    let server = support::shared();
    let client = common::blocking_client(server);
    let lock_name = name("excl-blocking");
    let counter = format!("counter:{lock_name}");
    let detector = Arc::new(OverlapDetector::default());

    let handles: Vec<_> = (0..WORKERS)
        .map(|_| {
            let client = client.clone();
            let lock_name = lock_name.clone();
            let counter = counter.clone();
            let detector = Arc::clone(&detector);
            let mut con = server.raw();
            thread::spawn(move || {
                let mutex = client
                    .mutex(lock_name.as_str())
                    .unwrap()
                    .with_wait(Some(Duration::from_secs(30)));
                for _ in 0..ROUNDS {
                    let guard = mutex.lock().unwrap();
                    {
                        let _inside = detector.enter();
                        common::unsafe_increment(&mut con, &counter);
                    }
                    guard.release().unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }

    assert_eq!(detector.max_seen(), 1, "two holders were inside at once");
    assert_eq!(detector.entries(), WORKERS * ROUNDS);
    assert_eq!(
        common::counter(server, &counter),
        (WORKERS * ROUNDS) as i64,
        "updates were lost"
    );
    assert_eq!(common::get(server, &key(&lock_name)), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_tasks_do_not_overlap_and_lose_no_update() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("excl-async");
    let counter = format!("counter:{lock_name}");
    let detector = Arc::new(OverlapDetector::default());
    let redis = redis::Client::open(server.url()).unwrap();

    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let mutex = client
            .mutex(lock_name.as_str())
            .unwrap()
            .with_wait(Some(Duration::from_secs(30)));
        let counter = counter.clone();
        let detector = Arc::clone(&detector);
        let mut con = redis.get_multiplexed_async_connection().await.unwrap();
        tasks.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let guard = mutex.lock().await.unwrap();
                {
                    let _inside = detector.enter();
                    common::unsafe_increment_async(&mut con, &counter).await;
                }
                guard.release().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    assert_eq!(detector.max_seen(), 1, "two holders were inside at once");
    assert_eq!(detector.entries(), WORKERS * ROUNDS);
    assert_eq!(
        common::counter(server, &counter),
        (WORKERS * ROUNDS) as i64,
        "updates were lost"
    );
    assert_eq!(common::get(server, &key(&lock_name)), None);
}

#[test]
fn blocking_threads_and_async_tasks_exclude_each_other() {
    let server = support::shared();
    let lock_name = name("excl-mixed");
    let counter = format!("counter:{lock_name}");
    let detector = Arc::new(OverlapDetector::default());

    let blocking = common::blocking_client(server);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mutex = blocking
                .mutex(lock_name.as_str())
                .unwrap()
                .with_wait(Some(Duration::from_secs(30)));
            let counter = counter.clone();
            let detector = Arc::clone(&detector);
            let mut con = server.raw();
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let guard = mutex.lock().unwrap();
                    {
                        let _inside = detector.enter();
                        common::unsafe_increment(&mut con, &counter);
                    }
                    drop(guard);
                }
            })
        })
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = common::client(server);
        let redis = redis::Client::open(server.url()).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let mutex = client
                .mutex(lock_name.as_str())
                .unwrap()
                .with_wait(Some(Duration::from_secs(30)));
            let counter = counter.clone();
            let detector = Arc::clone(&detector);
            let mut con = redis.get_multiplexed_async_connection().await.unwrap();
            tasks.push(tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    let guard = mutex.lock().await.unwrap();
                    {
                        let _inside = detector.enter();
                        common::unsafe_increment_async(&mut con, &counter).await;
                    }
                    drop(guard);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    for handle in threads {
        handle.join().unwrap();
    }

    assert_eq!(detector.max_seen(), 1, "two holders were inside at once");
    assert_eq!(common::counter(server, &counter), (8 * ROUNDS) as i64);
}

#[test]
fn separate_clients_of_one_url_exclude_each_other() {
    // Each thread opens its own client (as separate processes would), instead of cloning one.
    let server = support::shared();
    let lock_name = name("excl-clients");
    let counter = format!("counter:{lock_name}");
    let detector = Arc::new(OverlapDetector::default());
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let url = server.url();
            let lock_name = lock_name.clone();
            let counter = counter.clone();
            let detector = Arc::clone(&detector);
            let mut con = server.raw();
            thread::spawn(move || {
                let client = redis_mutex::Client::builder(url.as_str())
                    .local_queue(false)
                    .build()
                    .unwrap()
                    .blocking();
                let mutex = client
                    .mutex(lock_name.as_str())
                    .unwrap()
                    .with_wait(Some(Duration::from_secs(30)));
                for _ in 0..ROUNDS {
                    let guard = mutex.lock().unwrap();
                    {
                        let _inside = detector.enter();
                        common::unsafe_increment(&mut con, &counter);
                    }
                    guard.release().unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(detector.max_seen(), 1, "two holders were inside at once");
    assert_eq!(common::counter(server, &counter), (6 * ROUNDS) as i64);
}

// ---------------------------------------------------------------------------------------------
// Multi-name locks

#[test]
fn names_are_sorted_and_deduplicated_and_keys_prefixed() {
    let client = common::blocking_client(support::shared());
    let a = name("multi-names-a");
    let b = name("multi-names-b");
    let m = client.mutex([b.as_str(), a.as_str(), a.as_str()]).unwrap();
    assert_eq!(m.names().as_slice(), [a.clone(), b.clone()]);
    assert_eq!(m.keys(), [key(&a), key(&b)]);
    let same = client.mutex(vec![a.clone(), b.clone()]).unwrap();
    assert_eq!(same.names(), m.names());
}

#[test]
fn multi_lock_is_all_or_nothing() {
    let server = support::shared();
    let client = common::blocking_client(server);
    let a = name("aon-a");
    let b = name("aon-b");
    let c = name("aon-c");

    let ab = client.mutex([a.as_str(), b.as_str()]).unwrap();
    let guard = ab.try_lock().unwrap();
    assert_eq!(guard.names().as_slice(), [a.clone(), b.clone()]);
    assert_eq!(
        common::get(server, &key(&a)).as_deref(),
        Some(guard.token())
    );
    assert_eq!(
        common::get(server, &key(&b)).as_deref(),
        Some(guard.token())
    );

    // Each name alone is taken.
    assert!(
        client
            .mutex(a.as_str())
            .unwrap()
            .try_lock()
            .unwrap_err()
            .is_busy()
    );
    assert!(
        client
            .mutex(b.as_str())
            .unwrap()
            .try_lock()
            .unwrap_err()
            .is_busy()
    );
    // A set overlapping in one name fails without taking the free name.
    let err = client
        .mutex([b.as_str(), c.as_str()])
        .unwrap()
        .try_lock()
        .unwrap_err();
    assert!(err.is_busy(), "{err}");
    assert_eq!(
        common::get(server, &key(&c)),
        None,
        "a failed multi-lock left one of its keys behind"
    );

    guard.release().unwrap();
    assert_eq!(common::get(server, &key(&a)), None);
    assert_eq!(common::get(server, &key(&b)), None);
    let bc = client
        .mutex([b.as_str(), c.as_str()])
        .unwrap()
        .try_lock()
        .unwrap();
    bc.release().unwrap();
}

/// Per-name overlap detectors for the multi-lock hammering tests.
struct Pair {
    a: OverlapDetector,
    b: OverlapDetector,
}

#[test]
fn blocking_multi_locks_in_any_order_do_not_deadlock() {
    let server = support::shared();
    let client = common::blocking_client(server);
    let a = name("deadlock-blocking-a");
    let b = name("deadlock-blocking-b");
    let pair = Arc::new(Pair {
        a: OverlapDetector::default(),
        b: OverlapDetector::default(),
    });
    let orders: Vec<Vec<String>> = vec![
        vec![a.clone(), b.clone()],
        vec![b.clone(), a.clone()],
        vec![b.clone(), a.clone(), a.clone()],
        vec![a.clone()],
        vec![b.clone()],
    ];

    let (done_tx, done_rx) = mpsc::channel();
    let threads = 12;
    for i in 0..threads {
        let names = orders[i % orders.len()].clone();
        let mutex = client
            .mutex(names.clone())
            .unwrap()
            .with_wait(Some(Duration::from_secs(30)));
        let takes_a = names.contains(&a);
        let takes_b = names.contains(&b);
        let pair = Arc::clone(&pair);
        let done_tx = done_tx.clone();
        thread::spawn(move || {
            for _ in 0..ROUNDS {
                let guard = mutex.lock().unwrap();
                let in_a = takes_a.then(|| pair.a.enter());
                let in_b = takes_b.then(|| pair.b.enter());
                thread::sleep(Duration::from_micros(300));
                drop((in_a, in_b));
                guard.release().unwrap();
            }
            done_tx.send(()).unwrap();
        });
    }
    drop(done_tx);
    for finished in 0..threads {
        done_rx.recv_timeout(DEADLOCK_BOUND).unwrap_or_else(|_| {
            panic!(
                "only {finished} of {threads} threads finished within {DEADLOCK_BOUND:?}: deadlock?"
            )
        });
    }
    assert_eq!(pair.a.max_seen(), 1, "two holders of {a:?} at once");
    assert_eq!(pair.b.max_seen(), 1, "two holders of {b:?} at once");
    assert!(common::lock_keys(server, "deadlock-blocking").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_multi_locks_in_any_order_do_not_deadlock() {
    let server = support::shared();
    let client = common::client(server);
    let a = name("deadlock-async-a");
    let b = name("deadlock-async-b");
    let pair = Arc::new(Pair {
        a: OverlapDetector::default(),
        b: OverlapDetector::default(),
    });
    let orders: Vec<Vec<String>> = vec![
        vec![a.clone(), b.clone()],
        vec![b.clone(), a.clone()],
        vec![b.clone(), a.clone(), a.clone()],
        vec![a.clone()],
        vec![b.clone()],
    ];

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let names = orders[i % orders.len()].clone();
        let mutex = client
            .mutex(names.clone())
            .unwrap()
            .with_wait(Some(Duration::from_secs(30)));
        let takes_a = names.contains(&a);
        let takes_b = names.contains(&b);
        let pair = Arc::clone(&pair);
        tasks.spawn(async move {
            for _ in 0..ROUNDS {
                let guard = mutex.lock().await.unwrap();
                let in_a = takes_a.then(|| pair.a.enter());
                let in_b = takes_b.then(|| pair.b.enter());
                tokio::time::sleep(Duration::from_micros(300)).await;
                drop((in_a, in_b));
                guard.release().await.unwrap();
            }
        });
    }
    tokio::time::timeout(DEADLOCK_BOUND, async {
        while let Some(result) = tasks.join_next().await {
            result.unwrap();
        }
    })
    .await
    .expect("multi-lock tasks did not all finish: deadlock?");
    assert_eq!(pair.a.max_seen(), 1, "two holders of {a:?} at once");
    assert_eq!(pair.b.max_seen(), 1, "two holders of {b:?} at once");
    assert!(common::lock_keys(server, "deadlock-async").is_empty());
}
