//! The Python original's `@mutex` decorator, ported: `#[mutex]`.
//!
//! Each section shows the Python usage (as a comment) next to its Rust twin, then runs it.
//!
//! ```text
//! cargo run --example decorator
//! REDIS_MUTEX_URL=redis://127.0.0.1:6379/ cargo run --example decorator
//! ```
//!
//! Without `REDIS_MUTEX_URL` / `REDIS_URL`, the example starts a throwaway `redis-server` of
//! its own (from `PATH`, or `REDIS_SERVER_BIN`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use redis_mutex::mutex;

// ---------------------------------------------------------------------------------------------
// Python:
//
//     @mutex("orders")
//     def ship(order_id):
//         ...                      # one caller at a time, in any thread or process
//
// Rust: the same, on the default server (REDIS_MUTEX_URL, REDIS_URL, else 127.0.0.1:6379).
#[mutex("orders")]
fn ship(order_id: u64, inside: &AtomicUsize) {
    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
    println!("  shipping order {order_id} ({now} caller inside)");
    thread::sleep(Duration::from_millis(50));
    inside.fetch_sub(1, Ordering::SeqCst);
}

// ---------------------------------------------------------------------------------------------
// Python (a list: every lock, taken one after the other with an ExitStack):
//
//     @mutex(["stock", "ledger"])
//     def restock(): ...
//
// Rust: all-or-nothing in one step, so two functions listing the same locks in different
// orders cannot deadlock each other.
#[mutex(["stock", "ledger"])]
fn restock() -> &'static str {
    "stock and ledger held together"
}

// ---------------------------------------------------------------------------------------------
// Python:
//
//     @mutex("orders", server="10.0.0.5")
//     def ship_elsewhere(): ...
//
// Rust: the server is a URL, opened once on the first call and reused after.
// (Compiled, never called here: there is no server at 10.0.0.5.)
#[allow(dead_code)]
#[mutex("orders", server = "redis://10.0.0.5:6379/")]
fn ship_elsewhere() {}

// ---------------------------------------------------------------------------------------------
// Python (the non-blocking mode exists only on the Mutex class, not on the decorator):
//
//     lock = Mutex("report")
//     if lock.acquire(blocking=False):
//         try: ...
//         finally: lock.release()
//
// Rust: `wait = "0s"` tries once. Returning a `Result` whose error type converts from
// `redis_mutex::Error` turns "busy" into an `Err` (otherwise the call would panic, as the
// Python decorator raises).
#[mutex("report", wait = "0s")]
fn try_report() -> Result<&'static str, redis_mutex::Error> {
    Ok("report written")
}

// ---------------------------------------------------------------------------------------------
// Python (the decorator's name is fixed; a per-account lock needs the class by hand):
//
//     def debit(account_id, cents):
//         with Mutex(f"account:{account_id}"):
//             ...
//
// Rust: `{account_id}` is the argument's value, so each account has its own lock. `ttl` is
// the lease (the seed's `ex=30`), renewed while the body runs; `wait` bounds the wait.
#[mutex("account:{account_id}", ttl = "10s", wait = "2s")]
fn debit(account_id: u64, cents: u64) -> Result<u64, redis_mutex::Error> {
    thread::sleep(Duration::from_millis(100));
    Ok(cents)
}

// ---------------------------------------------------------------------------------------------
// No Python twin: `async fn` awaits the lock without blocking the executor, and the guard
// (with a fencing token) is reachable from the body.
#[mutex("ledger", fencing = true, guard = lock)]
async fn append_to_ledger(entry: &str) -> Result<String, redis_mutex::Error> {
    let token = lock.and_then(|guard| guard.fencing_token());
    Ok(format!("{entry} (fencing token {token:?})"))
}

// ---------------------------------------------------------------------------------------------
// No Python twin: the Python decorator runs on after its lock expired or was taken over. Here an
// `async fn` whose return type can carry the error is cancelled at its next `.await` once the
// lock is lost, and returns `Error::Lost` (`on_lost = "cancel"`, the default for such
// functions; `on_lost = "continue"` lets the body finish instead).
#[mutex("nightly-export", ttl = "600ms")]
async fn export(steps_done: &AtomicUsize) -> Result<(), redis_mutex::Error> {
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        steps_done.fetch_add(1, Ordering::SeqCst);
    }
    Ok(())
}

/// Deletes the lock key of `name` after `delay`, as an operator (or a failover) might.
fn delete_lock_later(name: &str, delay: Duration) -> thread::JoinHandle<redis::RedisResult<()>> {
    let key = format!("MUTEX_{name}");
    thread::spawn(move || {
        thread::sleep(delay);
        let url = std::env::var("REDIS_MUTEX_URL")
            .or_else(|_| std::env::var("REDIS_URL"))
            .unwrap_or_else(|_| redis_mutex::DEFAULT_URL.to_owned());
        redis::cmd("DEL")
            .arg(key)
            .exec(&mut redis::Client::open(url)?.get_connection()?)
    })
}

// ---------------------------------------------------------------------------------------------
// The Python original deadlocks here (the inner `with Mutex("orders")` waits for the outer
// one). `#[mutex]` is reentrant within a thread or task.
#[mutex("orders")]
fn ship_twice(inside: &AtomicUsize) {
    ship(1, inside);
    ship(2, inside);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server();
    // `#[mutex]` without `server` reads REDIS_MUTEX_URL on its first call.
    // SAFETY: no other thread runs yet.
    unsafe { std::env::set_var("REDIS_MUTEX_URL", &server.url) };

    println!("\n#[mutex(\"orders\")] from four threads: one at a time");
    let inside = AtomicUsize::new(0);
    let started = Instant::now();
    thread::scope(|scope| {
        for order in 1..=4 {
            let inside = &inside;
            scope.spawn(move || ship(order, inside));
        }
    });
    println!("  took {:?} (4 x 50 ms, serialized)", started.elapsed());

    println!("\n#[mutex([\"stock\", \"ledger\"])]");
    println!("  {}", restock());

    println!("\n#[mutex(\"report\", wait = \"0s\")] while the plain API holds \"report\"");
    let holder = redis_mutex::blocking::Client::from_env()?
        .mutex("report")?
        .lock()?;
    match try_report() {
        Ok(done) => println!("  {done}"),
        Err(error) => println!("  gave up at once: {error}"),
    }
    drop(holder);
    println!("  after the release: {}", try_report()?);

    println!("\n#[mutex(\"account:{{account_id}}\")]: different accounts in parallel");
    let started = Instant::now();
    let debits: Vec<u64> = thread::scope(|scope| {
        let calls: Vec<_> = [7, 8]
            .map(|account| scope.spawn(move || debit(account, 100)))
            .into_iter()
            .collect();
        calls
            .into_iter()
            .map(|call| call.join().expect("debit thread"))
            .collect::<Result<_, _>>()
    })?;
    println!(
        "  two 100 ms debits ({debits:?} cents) on two accounts took {:?} (in parallel)",
        started.elapsed()
    );

    println!("\nasync fn with fencing = true, guard = lock");
    let runtime = tokio::runtime::Runtime::new()?;
    for entry in ["first entry", "second entry"] {
        println!("  {}", runtime.block_on(append_to_ledger(entry))?);
    }

    println!("\nasync fn losing its lock mid-way (its key deleted after 450 ms)");
    let steps_done = AtomicUsize::new(0);
    let deleter = delete_lock_later("nightly-export", Duration::from_millis(450));
    match runtime.block_on(export(&steps_done)) {
        Ok(()) => println!("  finished all 20 steps"),
        Err(error) => println!(
            "  cancelled after {} of 20 steps (lost: {}): {error}",
            steps_done.load(Ordering::SeqCst),
            error.is_lost()
        ),
    }
    deleter.join().expect("deleter thread")?;

    println!("\nreentrancy: ship_twice holds \"orders\" and calls ship() twice");
    ship_twice(&inside);

    Ok(())
}
