//! The return type decides between `Err(e.into())` and a panic by its type, not its name:
//! aliases, `Box<dyn Error>`, generic error types and non-`Result` returns all expand.
#![deny(warnings)]

use std::io;

use redis_mutex::mutex;

type AppResult<T> = Result<T, AppError>;

#[derive(Debug)]
pub struct AppError;

impl From<redis_mutex::Error> for AppError {
    fn from(_: redis_mutex::Error) -> Self {
        AppError
    }
}

#[mutex("alias")]
fn crate_alias() -> redis_mutex::Result<u8> {
    Ok(1)
}

#[mutex("alias")]
fn own_alias() -> AppResult<u8> {
    Ok(1)
}

/// `io::Error` implements `From<redis_mutex::Error>`: lock errors are returned.
#[mutex("io")]
fn io_alias() -> io::Result<u8> {
    Ok(1)
}

#[mutex("boxed")]
fn boxed() -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    Ok(1)
}

#[mutex("generic")]
fn generic_error<E: From<redis_mutex::Error>>() -> Result<u8, E> {
    Ok(1)
}

/// No `From` bound on `E`: lock errors panic.
#[mutex("generic")]
fn generic_unbounded<E>() -> Result<u8, E> {
    Ok(1)
}

#[mutex("option")]
fn option() -> Option<u8> {
    Some(1)
}

#[mutex("never")]
fn never() -> ! {
    std::process::exit(0)
}

#[mutex("async-io")]
async fn async_io() -> io::Result<u8> {
    Ok(1)
}

#[mutex("async-alias")]
async fn async_alias() -> AppResult<u8> {
    let value: u8 = "1".parse().map_err(|_| AppError)?;
    Ok(value)
}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    if std::env::args().len() > 1000 {
        let _ = (crate_alias(), own_alias(), io_alias(), boxed(), option());
        let _ = (generic_error::<AppError>(), generic_unbounded::<()>());
        drop((async_io(), async_alias()));
        never();
    }
}
