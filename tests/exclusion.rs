//! Mutual exclusion: concurrent holders never overlap, so a non-atomic read-modify-write of a
//! Redis counter loses no update; multi-name locks are all-or-nothing and cannot deadlock. The
//! scenarios named in `twin_tests!` run through both APIs (`scenario::async_api`: tasks,
//! `scenario::blocking_api`: threads).

mod common;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    Api, ApiClient, ApiGuard, ApiMutex, Async, Blocking, OverlapDetector, Task, key, name,
    twin_tests,
};
use support::RedisServer;

const WORKERS: usize = 16;
const ROUNDS: usize = 8;
/// How long a waiter may wait for its turn.
const PATIENCE: Option<Duration> = Some(Duration::from_secs(30));

/// Generous bound for the hammering tests: a deadlock fails the test instead of hanging it.
const DEADLOCK_BOUND: Duration = Duration::from_secs(40);

twin_tests!(
    concurrent_holders_do_not_overlap_and_lose_no_update(
        flavor = "multi_thread",
        worker_threads = 4
    ),
    multi_locks_in_any_order_do_not_deadlock(flavor = "multi_thread", worker_threads = 2),
);

/// How a [`Hammering`] worker lets go of the lock.
#[derive(Clone, Copy, Debug)]
enum LetGo {
    Release,
    Drop,
}

/// Workers that take one lock over and over, each time incrementing one Redis counter
/// non-atomically inside one overlap detector's watch.
struct Hammering {
    server: &'static RedisServer,
    lock_name: String,
    counter: String,
    detector: Arc<OverlapDetector>,
}

impl Hammering {
    fn new(tag: &str) -> Self {
        let lock_name = name(tag);
        Hammering {
            server: support::shared(),
            counter: format!("counter:{lock_name}"),
            lock_name,
            detector: Arc::default(),
        }
    }

    /// Starts `workers` workers using `client`, each taking the lock [`ROUNDS`] times and
    /// letting go as `let_go` says.
    fn start<A: Api>(&self, client: &A::Client, workers: usize, let_go: LetGo) -> Vec<Task<()>> {
        (0..workers)
            .map(|_| {
                let mutex = client.mutex(&self.lock_name).unwrap().with_wait(PATIENCE);
                let server = self.server;
                let detector = Arc::clone(&self.detector);
                let counter = self.counter.clone();
                A::spawn(async move {
                    let mut con = A::raw(server).await;
                    for _ in 0..ROUNDS {
                        let guard = mutex.lock().await.unwrap();
                        {
                            let _inside = detector.enter();
                            A::unsafe_increment(&mut con, &counter).await;
                        }
                        match let_go {
                            LetGo::Release => guard.release().await.unwrap(),
                            LetGo::Drop => drop(guard),
                        }
                    }
                })
            })
            .collect()
    }

    /// Panics unless the critical sections of `workers` workers ran one at a time and lost no
    /// update.
    fn assert_serialized(&self, workers: usize) {
        let entries = workers * ROUNDS;
        common::assert_serialized(self.server, &self.detector, &self.counter, entries);
    }
}

/// Waits for every worker, failing if they are not all done within [`DEADLOCK_BOUND`].
async fn finish_all<T>(workers: Vec<Task<T>>) {
    let deadline = Instant::now() + DEADLOCK_BOUND;
    let count = workers.len();
    for (i, worker) in workers.into_iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        let what = format!("worker {i} of {count} (deadlock?)");
        worker.finish_within(left, &what).await;
    }
}

/// Threads sharing one blocking client, or tasks sharing one async client.
async fn concurrent_holders_do_not_overlap_and_lose_no_update<A: Api>() {
    let hammering = Hammering::new("excl");
    let client = A::client(hammering.server);
    finish_all(hammering.start::<A>(&client, WORKERS, LetGo::Release)).await;
    hammering.assert_serialized(WORKERS);
    let lock_key = key(&hammering.lock_name);
    assert_eq!(common::get(hammering.server, &lock_key), None);
}

#[test]
fn blocking_threads_and_async_tasks_exclude_each_other() {
    let hammering = Hammering::new("excl-mixed");
    let blocking = common::blocking_client(hammering.server);
    let threads = hammering.start::<Blocking>(&blocking, 4, LetGo::Drop);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = common::client(hammering.server);
        finish_all(hammering.start::<Async>(&client, 4, LetGo::Drop)).await;
    });
    common::block_on(finish_all(threads));
    hammering.assert_serialized(8);
}

#[test]
fn separate_clients_of_one_url_exclude_each_other() {
    // Each worker opens a client of its own (as separate processes would) instead of sharing
    // one, and without the in-process wait queue.
    let hammering = Hammering::new("excl-clients");
    let workers = (0..6)
        .flat_map(|_| {
            let client = common::unqueued_client(hammering.server).blocking();
            hammering.start::<Blocking>(&client, 1, LetGo::Release)
        })
        .collect();
    common::block_on(finish_all(workers));
    hammering.assert_serialized(6);
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
    common::assert_key_holds(server, &key(&a), &guard);
    common::assert_key_holds(server, &key(&b), &guard);

    // Each name alone is taken.
    for single in [&a, &b] {
        let err = client.mutex(single).unwrap().try_lock().unwrap_err();
        assert!(err.is_busy(), "{single}: {err:?}");
    }
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

async fn multi_locks_in_any_order_do_not_deadlock<A: Api>() {
    let server = support::shared();
    let client = A::client(server);
    let prefix = name("deadlock");
    let a = format!("{prefix}-a");
    let b = format!("{prefix}-b");
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

    let workers: Vec<_> = (0..20)
        .map(|i| {
            let names = &orders[i % orders.len()];
            let mutex = client.mutex(names.as_slice()).unwrap().with_wait(PATIENCE);
            let takes_a = names.contains(&a);
            let takes_b = names.contains(&b);
            let pair = Arc::clone(&pair);
            A::spawn(async move {
                for _ in 0..ROUNDS {
                    let guard = mutex.lock().await.unwrap();
                    let in_a = takes_a.then(|| pair.a.enter());
                    let in_b = takes_b.then(|| pair.b.enter());
                    A::sleep(Duration::from_micros(300)).await;
                    drop((in_a, in_b));
                    guard.release().await.unwrap();
                }
            })
        })
        .collect();
    finish_all(workers).await;
    assert_eq!(pair.a.max_seen(), 1, "two holders of {a:?} at once");
    assert_eq!(pair.b.max_seen(), 1, "two holders of {b:?} at once");
    assert!(common::lock_keys(server, &prefix).is_empty());
}
