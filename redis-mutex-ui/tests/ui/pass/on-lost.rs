//! `on_lost`: the default (cancel for an `async fn` whose return type can carry the error,
//! continue otherwise), `"cancel"` on every return type that can carry it, `"continue"` on
//! plain and async fns.
#![deny(warnings)]

use std::fmt::Display;
use std::io;

use redis_mutex::{Client, mutex};

type AppResult<T> = Result<T, AppError>;

#[derive(Debug)]
pub struct AppError;

impl From<redis_mutex::Error> for AppError {
    fn from(_: redis_mutex::Error) -> Self {
        AppError
    }
}

fn locks() -> Client {
    Client::open("redis://127.0.0.1/").unwrap()
}

/// By default: cancelled on loss, `Err(Error::Lost)`.
#[mutex("default-result")]
async fn default_result() -> redis_mutex::Result<u8> {
    Ok(1)
}

/// By default: runs on (no way to return the error).
#[mutex("default-unit")]
async fn default_unit() {}

#[mutex("default-option")]
async fn default_option() -> Option<u8> {
    Some(1)
}

#[mutex("default-impl")]
async fn default_impl_trait() -> impl Display {
    1
}

#[mutex("default-impl-in-result")]
async fn default_impl_in_result() -> Result<impl Display, AppError> {
    Ok(1)
}

#[mutex("cancel", on_lost = "cancel")]
async fn cancel_result() -> Result<u8, redis_mutex::Error> {
    Ok(1)
}

#[mutex("cancel", on_lost = "cancel", guard = lock, ttl = "10s")]
async fn cancel_alias() -> AppResult<bool> {
    Ok(lock.is_some())
}

#[mutex("cancel", on_lost = "cancel")]
async fn cancel_io() -> io::Result<u8> {
    Ok(1)
}

#[mutex("cancel", on_lost = "cancel")]
async fn cancel_boxed() -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    Ok(1)
}

#[mutex("cancel", on_lost = "cancel")]
async fn cancel_generic<E: From<redis_mutex::Error>>() -> Result<u8, E> {
    Ok(1)
}

#[mutex("cancel", on_lost = "cancel")]
async fn cancel_impl_in_result() -> Result<impl Display, AppError> {
    Ok(1)
}

pub struct Worker(pub u32);

impl Worker {
    #[mutex("worker:{self.0}", on_lost = "cancel")]
    async fn step(&self) -> AppResult<&Self> {
        Ok(self)
    }
}

#[mutex("continue", on_lost = "continue")]
async fn continue_result() -> redis_mutex::Result<u8> {
    Ok(1)
}

#[mutex("continue", on_lost = "continue")]
async fn continue_unit() {}

/// Plain `fn`s are never interrupted; `"continue"` says so.
#[mutex("continue", on_lost = "continue")]
fn continue_plain() -> redis_mutex::Result<u8> {
    Ok(1)
}

#[mutex("client", client = locks(), on_lost = "cancel")]
async fn with_client() -> redis_mutex::Result<()> {
    Ok(())
}

fn assert_send<F: std::future::Future + Send>(future: F) -> F {
    future
}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    if std::env::args().len() > 1000 {
        drop(assert_send(default_result()));
        drop((default_unit(), default_option(), default_impl_trait()));
        drop(default_impl_in_result());
        drop((cancel_result(), cancel_alias(), cancel_io(), cancel_boxed()));
        drop((cancel_generic::<AppError>(), cancel_impl_in_result()));
        drop(assert_send(Worker(1).step()));
        drop((continue_result(), continue_unit(), with_client()));
        let _ = continue_plain();
    }
}
