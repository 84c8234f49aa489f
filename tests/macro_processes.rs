//! Mutual exclusion across processes through an annotated function on the *default* server:
//! the test re-runs its own binary as worker processes, with `REDIS_MUTEX_URL` pointing at the
//! test server, and each worker increments a Redis counter non-atomically under the lock.

mod support;

use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use redis_mutex::mutex;

const WORKER_ENV: &str = "REDIS_MUTEX_MACRO_WORKER";
const PROCESSES: usize = 4;
const ROUNDS: usize = 10;

/// No `server` or `client`: the URL comes from `REDIS_MUTEX_URL`, as in production.
#[mutex("processes:{run}", wait = "30s")]
fn add_one(run: &str, con: &mut redis::Connection) -> Result<(), redis_mutex::Error> {
    // Another process inside at the same time would see `inside` above 1.
    let inside: u64 = redis::cmd("INCR")
        .arg(format!("inside:{run}"))
        .query(con)
        .expect("INCR");
    assert_eq!(inside, 1, "two processes inside the critical section");
    let key = format!("counter:{run}");
    let value: Option<u64> = redis::cmd("GET").arg(&key).query(con).expect("GET");
    thread::sleep(Duration::from_millis(3));
    redis::cmd("SET")
        .arg(&key)
        .arg(value.unwrap_or(0) + 1)
        .query::<()>(con)
        .expect("SET");
    redis::cmd("DECR")
        .arg(format!("inside:{run}"))
        .query::<()>(con)
        .expect("DECR");
    Ok(())
}

/// The worker's entry point: does nothing unless started by `processes_never_overlap`.
#[test]
fn worker_entry_point() {
    let Ok(run) = std::env::var(WORKER_ENV) else {
        return;
    };
    let url = std::env::var("REDIS_MUTEX_URL").expect("the parent sets REDIS_MUTEX_URL");
    let mut con = redis::Client::open(url)
        .and_then(|client| client.get_connection())
        .expect("worker connects to the test server");
    for _ in 0..ROUNDS {
        add_one(&run, &mut con).expect("lock");
    }
}

#[test]
fn processes_never_overlap() {
    let server = support::shared();
    let run = support::unique("processes");
    let exe = std::env::current_exe().expect("test binary path");
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "worker_entry_point",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(WORKER_ENV, &run)
                .env("REDIS_MUTEX_URL", server.url())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn worker process")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("worker exits");
        assert!(
            output.status.success(),
            "worker failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let total: u64 = redis::cmd("GET")
        .arg(format!("counter:{run}"))
        .query(&mut server.raw())
        .expect("GET");
    assert_eq!(
        total,
        (PROCESSES * ROUNDS) as u64,
        "lost updates across processes"
    );
}
