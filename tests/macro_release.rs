//! Annotated functions release their locks on every way out: normal return, early `return`,
//! `?`, an `Err` from the body, panic, and (async) cancellation.

mod common;
mod support;

use std::time::{Duration, Instant};

use common::{lock_held as key_exists, shared_client as locks};
use redis_mutex::mutex;

/// Whether `name` is free now, asked through the plain API (one attempt, released at once).
fn is_free(name: &str) -> bool {
    match locks().blocking().mutex(name).expect("mutex").try_lock() {
        Ok(guard) => {
            guard.release().expect("release probe");
            true
        }
        Err(error) if error.is_busy() => false,
        Err(error) => panic!("probe failed: {error}"),
    }
}

fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

#[derive(Debug)]
#[allow(
    dead_code,
    reason = "the payloads are shown through `Debug` in failure messages"
)]
enum AppError {
    Lock(redis_mutex::Error),
    Parse(std::num::ParseIntError),
}

impl From<redis_mutex::Error> for AppError {
    fn from(error: redis_mutex::Error) -> Self {
        AppError::Lock(error)
    }
}

impl From<std::num::ParseIntError> for AppError {
    fn from(error: std::num::ParseIntError) -> Self {
        AppError::Parse(error)
    }
}

/// Asserts that the lock is held while the body runs, then exits the way `how` says.
#[mutex("{name}", client = locks())]
fn exit_sync(name: &str, how: &str) -> Result<u32, AppError> {
    assert!(key_exists(name), "the lock is held inside the body");
    if how == "return" {
        return Ok(1);
    }
    match how {
        "question-mark" => {
            let n: u32 = "not a number".parse()?;
            Ok(n)
        }
        "err" => Err(AppError::Parse("x".parse::<u32>().unwrap_err())),
        "panic" => panic!("body panicked on purpose"),
        _ => Ok(0),
    }
}

#[test]
fn sync_fn_releases_on_every_exit() {
    for how in ["normal", "return", "question-mark", "err"] {
        let name = support::unique(&format!("release-sync-{how}"));
        let result = exit_sync(&name, how);
        assert!(
            !matches!(result, Err(AppError::Lock(_))),
            "{how}: {result:?}"
        );
        // The blocking guard's drop waits for the release: the key is gone on return.
        assert!(!key_exists(&name), "{how}: key left behind");
        assert!(is_free(&name), "{how}: lock still held");
    }
}

#[test]
fn sync_fn_releases_when_the_body_panics() {
    let name = support::unique("release-sync-panic");
    let caught = std::panic::catch_unwind(|| exit_sync(&name, "panic"));
    assert!(caught.is_err(), "the body's panic propagates");
    assert!(!key_exists(&name), "key left behind after a panic");
    assert!(is_free(&name));
}

#[mutex("{name}", client = locks())]
async fn exit_async(name: String, how: &str) -> Result<u32, AppError> {
    assert!(key_exists(&name), "the lock is held inside the body");
    tokio::task::yield_now().await;
    if how == "return" {
        return Ok(1);
    }
    match how {
        "question-mark" => {
            let n: u32 = "not a number".parse()?;
            Ok(n)
        }
        "err" => Err(AppError::Parse("x".parse::<u32>().unwrap_err())),
        "panic" => panic!("body panicked on purpose"),
        "hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(2)
        }
        _ => Ok(0),
    }
}

#[tokio::test]
async fn async_fn_releases_on_every_exit() {
    for how in ["normal", "return", "question-mark", "err"] {
        let name = support::unique(&format!("release-async-{how}"));
        let result = exit_async(name.clone(), how).await;
        assert!(
            !matches!(result, Err(AppError::Lock(_))),
            "{how}: {result:?}"
        );
        // Released with `.await` before the function returned, not in the background.
        assert!(!key_exists(&name), "{how}: key left behind");
    }
}

#[tokio::test]
async fn async_fn_releases_when_the_body_panics() {
    let name = support::unique("release-async-panic");
    let task = tokio::spawn(exit_async(name.clone(), "panic"));
    let error = task.await.expect_err("the body's panic propagates");
    assert!(error.is_panic());
    // The guard's `Drop` releases in the background.
    assert!(eventually(|| !key_exists(&name)), "key left behind");
}

#[tokio::test]
async fn async_fn_releases_when_cancelled() {
    let name = support::unique("release-async-cancel");
    let call = exit_async(name.clone(), "hang");
    let timed_out = tokio::time::timeout(Duration::from_millis(200), call).await;
    assert!(timed_out.is_err(), "the call was still running");
    assert!(eventually(|| !key_exists(&name)), "key left behind");
}

#[test]
fn methods_release_too() {
    struct Job {
        name: String,
    }
    impl Job {
        #[mutex("{self.name}", client = locks())]
        fn run(&mut self) -> bool {
            key_exists(&self.name)
        }
    }
    let mut job = Job {
        name: support::unique("release-method"),
    };
    assert!(job.run(), "held inside");
    assert!(!key_exists(&job.name), "released after");
}

/// Stops the server while the lock is held, so the release after the body fails.
#[mutex("{name}", client = locks, on_lost = "continue")]
async fn stop_the_server_inside(
    name: &str,
    locks: &redis_mutex::Client,
    server: &std::sync::Mutex<support::RedisServer>,
) -> u32 {
    server.lock().expect("server").stop();
    7
}

#[tokio::test]
async fn async_fn_logs_a_failed_release() {
    let name = support::unique("release-fails");
    let server = support::RedisServer::start();
    let locks = common::impatient_client(&server, Duration::from_millis(300));
    let server = std::sync::Mutex::new(server);
    common::warnings();
    let value = stop_the_server_inside(&name, &locks, &server).await;
    assert_eq!(value, 7, "the body's value stands");
    let logged = || {
        common::warnings()
            .lines()
            .any(|line| line.contains("WARN") && line.contains(&name) && line.contains("releas"))
    };
    assert!(
        eventually(logged),
        "the failed release was not logged:\n{}",
        common::warnings()
    );
}
