//! How lock errors surface from annotated functions: a function returning
//! `Result<_, E: From<redis_mutex::Error>>` gets `Err`, any other panics with a message naming
//! the lock and the cause. `wait = "0s"` gives up at once, `wait = "300ms"` after that long.

mod common;
mod support;

use std::any::Any;
use std::time::{Duration, Instant};

use common::shared_client as locks;
use redis_mutex::{Client, mutex};

/// A client for a port nothing listens on, failing fast.
fn nowhere() -> Client {
    Client::builder(format!("redis://127.0.0.1:{}/", support::free_port()))
        .connect_timeout(Duration::from_millis(500))
        .build()
        .expect("open client")
}

/// Holds `name` through the plain API until the returned guard drops.
fn hold(name: &str) -> redis_mutex::blocking::Guard {
    locks()
        .blocking()
        .mutex(name)
        .expect("mutex")
        .try_lock()
        .expect("test holds the lock")
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[mutex("{name}", client = locks(), wait = "0s")]
fn try_once(name: &str) -> Result<(), redis_mutex::Error> {
    Ok(())
}

#[mutex("{name}", client = locks(), wait = "0s")]
fn try_once_or_panic(name: &str) -> u32 {
    1
}

#[test]
fn wait_zero_gives_up_at_once() {
    let name = support::unique("errors-busy");
    let guard = hold(&name);
    let started = Instant::now();
    let error = try_once(&name).expect_err("held elsewhere");
    assert!(error.is_busy(), "{error}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(error.to_string().contains(&name), "{error}");

    let payload = std::panic::catch_unwind(|| try_once_or_panic(&name)).expect_err("panics");
    let message = panic_message(payload);
    assert!(
        message.contains(&name),
        "the panic names the lock: {message}"
    );
    assert!(
        message.contains("try_once_or_panic"),
        "and the function: {message}"
    );
    assert!(
        message.contains("held by another owner"),
        "and the cause: {message}"
    );

    drop(guard);
    try_once(&name).expect("free again");
}

#[mutex("{name}", client = locks(), wait = "300ms")]
fn wait_a_little(name: &str) -> redis_mutex::Result<()> {
    Ok(())
}

#[test]
fn a_bounded_wait_times_out() {
    let name = support::unique("errors-timeout");
    let _guard = hold(&name);
    let started = Instant::now();
    let error = wait_a_little(&name).expect_err("held elsewhere");
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[mutex("{name}", client = locks(), wait = "0s")]
async fn try_once_async(name: String) -> Result<(), redis_mutex::Error> {
    Ok(())
}

#[mutex("{name}", client = locks(), wait = "0s")]
async fn try_once_async_or_panic(name: String) {}

#[tokio::test]
async fn async_fns_surface_errors_the_same_way() {
    let name = support::unique("errors-async");
    // The blocking API works inside a runtime too (it blocks this thread briefly).
    let guard = hold(&name);
    let error = try_once_async(name.clone()).await.expect_err("held");
    assert!(error.is_busy(), "{error}");

    let join = tokio::spawn(try_once_async_or_panic(name.clone()))
        .await
        .expect_err("panics");
    let message = panic_message(join.into_panic());
    assert!(message.contains(&name), "{message}");

    drop(guard);
    try_once_async(name).await.expect("free again");
}

#[derive(Debug)]
struct AppError(redis_mutex::Error);

impl From<redis_mutex::Error> for AppError {
    fn from(error: redis_mutex::Error) -> Self {
        AppError(error)
    }
}

type AppResult<T> = Result<T, AppError>;

#[mutex("{name}", client = locks(), wait = "0s")]
fn alias(name: &str) -> AppResult<()> {
    Ok(())
}

#[mutex("{name}", client = locks(), wait = "0s")]
fn boxed(name: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

#[mutex("{name}", client = locks(), wait = "0s")]
fn generic<E: From<redis_mutex::Error>>(name: &str) -> Result<(), E> {
    Ok(())
}

/// `io::Error: From<redis_mutex::Error>`: `io::Result` functions get the error too.
#[mutex("{name}", client = locks(), wait = "0s")]
fn io(name: &str) -> std::io::Result<()> {
    Ok(())
}

#[test]
fn the_return_type_decides_not_its_name() {
    let name = support::unique("errors-types");
    let _guard = hold(&name);
    assert!(alias(&name).expect_err("alias").0.is_busy());
    let boxed = boxed(&name).expect_err("boxed");
    assert!(
        boxed
            .downcast_ref::<redis_mutex::Error>()
            .is_some_and(|e| e.is_busy())
    );
    assert!(generic::<AppError>(&name).expect_err("generic").0.is_busy());
    let io = io(&name).expect_err("io::Result gets the error");
    assert_eq!(io.kind(), std::io::ErrorKind::WouldBlock);
    assert!(
        io.get_ref()
            .and_then(|e| e.downcast_ref::<redis_mutex::Error>())
            .is_some_and(|e| e.is_busy())
    );
}

#[mutex("{name}", client = nowhere())]
fn unreachable(name: &str) -> Result<(), redis_mutex::Error> {
    Ok(())
}

#[mutex("{name}", client = nowhere())]
fn unreachable_or_panic(name: &str) {}

/// A `server` literal, opened once on first use: nothing listens on port 1.
#[mutex("{name}", server = "redis://127.0.0.1:1/")]
fn unreachable_literal(name: &str) -> Result<(), redis_mutex::Error> {
    Ok(())
}

#[test]
fn connection_errors_surface() {
    let name = support::unique("errors-unreachable");
    let error = unreachable(&name).expect_err("no server");
    assert!(error.is_connection(), "{error}");
    let error = unreachable_literal(&name).expect_err("no server");
    assert!(error.is_connection(), "{error}");
    assert!(error.to_string().contains("127.0.0.1:1"), "{error}");

    let payload = std::panic::catch_unwind(|| unreachable_or_panic(&name)).expect_err("panics");
    let message = panic_message(payload);
    assert!(message.contains(&name), "{message}");
    assert!(message.contains("could not reach"), "{message}");
}

#[mutex("{name}", client = locks())]
fn named(name: &str) -> Result<(), redis_mutex::Error> {
    Ok(())
}

#[test]
fn a_name_that_formats_empty_is_an_error() {
    let error = named("").expect_err("empty name");
    assert!(
        matches!(error, redis_mutex::Error::InvalidName { .. }),
        "{error}"
    );
}
