//! Mutual exclusion through `#[mutex]`-annotated functions against a real Redis: across threads
//! (plain `fn`, blocking API), across tasks (`async fn`), per-argument names that lock
//! independently, and lists of names taken all-or-nothing without deadlock.
//! (Across processes: `macro_processes.rs`.)

mod common;
mod support;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::shared_client as locks;
use redis_mutex::mutex;

/// The client every annotated function here uses: `client = locks()`.
/// How many callers are inside a critical section right now, and the most ever seen at once.
#[derive(Default)]
struct Occupancy {
    now: AtomicUsize,
    max: AtomicUsize,
    visits: AtomicUsize,
}

impl Occupancy {
    fn enter(&self) -> Visit<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        self.visits.fetch_add(1, Ordering::SeqCst);
        Visit(self)
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    fn visits(&self) -> usize {
        self.visits.load(Ordering::SeqCst)
    }
}

struct Visit<'a>(&'a Occupancy);

impl Drop for Visit<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A non-atomic read-modify-write of a Redis counter: loses updates unless serialized.
#[mutex("excl-threads:{run}", client = locks(), wait = "30s")]
fn add_one(run: &str, occupancy: &Occupancy, con: &mut redis::Connection) {
    let _visit = occupancy.enter();
    let key = format!("counter:{run}");
    let value: Option<u64> = redis::cmd("GET").arg(&key).query(con).expect("GET");
    thread::sleep(Duration::from_millis(2));
    redis::cmd("SET")
        .arg(&key)
        .arg(value.unwrap_or(0) + 1)
        .query::<()>(con)
        .expect("SET");
}

#[test]
fn threads_calling_an_annotated_fn_never_overlap() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 6;
    let server = support::shared();
    let run = support::unique("excl-threads");
    let occupancy = Arc::new(Occupancy::default());
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (run, occupancy) = (run.clone(), occupancy.clone());
            let mut con = server.raw();
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    add_one(&run, &occupancy, &mut con);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("worker thread");
    }
    let total: u64 = redis::cmd("GET")
        .arg(format!("counter:{run}"))
        .query(&mut server.raw())
        .expect("GET");
    assert_eq!(total, (THREADS * ROUNDS) as u64, "lost updates");
    assert_eq!(occupancy.max(), 1, "two threads were inside at once");
    assert_eq!(occupancy.visits(), THREADS * ROUNDS);
}

/// The same with an `async fn`: a non-atomic in-memory increment across an `.await`.
#[mutex("excl-tasks:{run}", client = locks(), wait = "30s")]
async fn add_one_async(run: String, occupancy: Arc<Occupancy>, counter: Arc<AtomicU64>) {
    let _visit = occupancy.enter();
    let value = counter.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2)).await;
    counter.store(value + 1, Ordering::SeqCst);
    drop(run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_calling_an_annotated_async_fn_never_overlap() {
    const TASKS: usize = 12;
    const ROUNDS: usize = 5;
    let run = support::unique("excl-tasks");
    let occupancy = Arc::new(Occupancy::default());
    let counter = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (run, occupancy, counter) = (run.clone(), occupancy.clone(), counter.clone());
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    add_one_async(run.clone(), occupancy.clone(), counter.clone()).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(counter.load(Ordering::SeqCst), (TASKS * ROUNDS) as u64);
    assert_eq!(occupancy.max(), 1, "two tasks were inside at once");
}

/// Sibling futures joined in one task are not "the same owner": they exclude each other too.
#[tokio::test]
async fn joined_futures_in_one_task_exclude_each_other() {
    let run = support::unique("excl-join");
    let occupancy = Arc::new(Occupancy::default());
    let counter = Arc::new(AtomicU64::new(0));
    let calls = (0..6).map(|_| add_one_async(run.clone(), occupancy.clone(), counter.clone()));
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(30), join_all(calls))
        .await
        .expect("joined calls finish");
    assert_eq!(counter.load(Ordering::SeqCst), 6);
    assert_eq!(occupancy.max(), 1);
    assert!(started.elapsed() >= Duration::from_millis(12));
}

/// Minimal `join_all` (no futures-util dependency in the suite).
async fn join_all<F: Future<Output = ()>>(futures: impl IntoIterator<Item = F>) {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        futures.retain_mut(|future| future.as_mut().poll(cx).is_pending());
        if futures.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

/// Holds `account:{id}` until told to stop.
#[mutex("account:{run}:{id}", client = locks())]
fn hold_account(run: &str, id: u64, entered: mpsc::Sender<()>, done: mpsc::Receiver<()>) {
    entered.send(()).expect("report entry");
    let _ = done.recv_timeout(Duration::from_secs(30));
}

#[mutex("account:{run}:{id}", client = locks(), wait = "0s")]
fn try_account(run: &str, id: u64) -> Result<u64, redis_mutex::Error> {
    Ok(id)
}

#[test]
fn per_argument_names_lock_independently() {
    let run = support::unique("per-arg");
    let (entered_tx, entered) = mpsc::channel();
    let (done, done_rx) = mpsc::channel();
    let holder = {
        let run = run.clone();
        thread::spawn(move || hold_account(&run, 1, entered_tx, done_rx))
    };
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("holder entered");

    let busy = try_account(&run, 1).expect_err("account 1 is held by the other thread");
    assert!(busy.is_busy(), "{busy}");
    assert_eq!(try_account(&run, 2).expect("account 2 is free"), 2);
    assert_eq!(try_account(&run, 3).expect("account 3 is free"), 3);

    done.send(()).expect("release holder");
    holder.join().expect("holder thread");
    assert_eq!(try_account(&run, 1).expect("account 1 is free again"), 1);
}

#[mutex(["pair-a:{run}", "pair-b:{run}"], client = locks(), wait = "30s")]
fn lock_a_then_b(run: &str, occupancy: &Occupancy) {
    let _visit = occupancy.enter();
    thread::sleep(Duration::from_millis(1));
}

#[mutex(["pair-b:{run}", "pair-a:{run}"], client = locks(), wait = "30s")]
fn lock_b_then_a(run: &str, occupancy: &Occupancy) {
    let _visit = occupancy.enter();
    thread::sleep(Duration::from_millis(1));
}

#[test]
fn lists_in_opposite_orders_never_deadlock() {
    let run = support::unique("pair");
    let occupancy = Arc::new(Occupancy::default());
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let (run, occupancy) = (run.clone(), occupancy.clone());
            thread::spawn(move || {
                for _ in 0..5 {
                    if i % 2 == 0 {
                        lock_a_then_b(&run, &occupancy);
                    } else {
                        lock_b_then_a(&run, &occupancy);
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("worker thread");
    }
    assert_eq!(occupancy.visits(), 30);
    assert_eq!(occupancy.max(), 1);
}
