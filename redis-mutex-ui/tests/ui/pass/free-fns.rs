//! Plain and async free functions with every option, including names built from arguments.
#![deny(warnings)]

use std::time::Duration;

use redis_mutex::{Client, mutex};

/// One lock on the default server.
#[mutex("orders")]
fn one() {}

/// Several locks, all-or-nothing.
#[mutex(["a", "b", "c"])]
fn several() -> u32 {
    3
}

#[mutex("orders", server = "redis://127.0.0.1:6379/2")]
fn with_server() {}

#[mutex("account:{id}", ttl = "10s", wait = "2s")]
fn per_account(id: u64) -> u64 {
    id
}

#[mutex(["from:{from}", "to:{to}", "{{literal}}"], wait = "0s")]
fn transfer(from: &str, to: String, cents: u64) -> u64 {
    drop(to);
    cents
}

fn locks() -> &'static Client {
    static LOCKS: std::sync::OnceLock<Client> = std::sync::OnceLock::new();
    LOCKS.get_or_init(|| Client::open("redis://127.0.0.1/").unwrap())
}

#[mutex("jobs", client = locks())]
fn by_reference() {}

#[mutex("jobs", client = locks().clone(), wait = "forever")]
fn by_value() {}

#[mutex("jobs", client = Client::open("redis://127.0.0.1/"))]
fn from_result() {}

#[mutex("jobs", client = locks().blocking())]
fn blocking_client() {}

#[mutex("jobs", prefix = "app:", renew = false, fencing = true, ttl = "1m 30s")]
fn every_flag() {}

#[mutex("jobs", server = "redis://127.0.0.1/", prefix = "app:")]
fn server_and_prefix() {}

/// `prefix` applies to the client's locks, in either order.
#[mutex("jobs", client = locks(), prefix = "app:")]
fn client_and_prefix() {}

#[mutex("jobs", prefix = "app:", client = Client::open("redis://127.0.0.1/"))]
async fn prefix_and_client() -> redis_mutex::Result<()> {
    Ok(())
}

#[mutex("ledger", fencing = true, guard = lock)]
fn with_guard() -> Option<u64> {
    lock.and_then(|guard| guard.fencing_token())
}

#[mutex("ledger", crate = ::redis_mutex)]
fn crate_path() {}

#[mutex("ledger", crate = "redis_mutex")]
fn crate_string_and_trailing_comma() {}

#[mutex("tuple:{pair.0}:{pair.1}")]
fn tuple_fields(pair: (u8, &str)) {}

#[mutex("pattern:{a}:{b}")]
fn destructured((a, b): (u8, u8), _unused: u8) {}

#[mutex("raw:{r#type}")]
fn raw_identifier(r#type: &str) {}

#[mutex("mutable:{n}")]
fn mutable_argument(mut n: u32) -> u32 {
    n += 1;
    n
}

#[mutex("async")]
async fn async_one() {}

#[mutex("async:{id}", wait = "500ms", guard = lock)]
async fn async_with_everything(id: u64) -> Result<bool, redis_mutex::Error> {
    let held = lock.is_some_and(|guard| guard.is_held());
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(held)
}

#[mutex("async", client = locks())]
pub async fn async_by_reference(name: String) -> String {
    name
}

#[mutex("early")]
fn early_return(n: u32) -> Result<u32, redis_mutex::Error> {
    if n == 0 {
        return Ok(0);
    }
    let names = redis_mutex::LockNames::new("x")?;
    Ok(names.len() as u32 + n)
}

#[mutex("early")]
async fn async_early_return(n: u32) -> Result<u32, redis_mutex::Error> {
    if n == 0 {
        return Ok(0);
    }
    let names = redis_mutex::LockNames::new("x")?;
    Ok(names.len() as u32 + n)
}

pub(crate) mod visibility {
    #[redis_mutex::mutex("vis")]
    pub(crate) fn crate_visible() {}

    #[redis_mutex::mutex("vis")]
    pub(super) async fn super_visible() {}
}

/// The future of an annotated `async fn` is `Send` when the body's is.
fn assert_send<T: Send>(_: T) {}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    // Compile-only: these would need a server to run.
    let _ = (one as fn(), several as fn() -> u32, with_server as fn());
    let _ = (
        per_account as fn(u64) -> u64,
        transfer as fn(&str, String, u64) -> u64,
    );
    let _ = (
        by_reference as fn(),
        by_value as fn(),
        from_result as fn(),
        blocking_client as fn(),
    );
    let _ = (
        every_flag as fn(),
        server_and_prefix as fn(),
        client_and_prefix as fn(),
        with_guard as fn() -> Option<u64>,
    );
    let _ = (crate_path as fn(), crate_string_and_trailing_comma as fn());
    let _ = (
        tuple_fields as fn((u8, &str)),
        destructured as fn((u8, u8), u8),
    );
    let _ = (
        raw_identifier as fn(&str),
        mutable_argument as fn(u32) -> u32,
    );
    let _ = early_return as fn(u32) -> Result<u32, redis_mutex::Error>;
    let _ = (visibility::crate_visible as fn(),);
    if std::env::args().len() > 1000 {
        assert_send(async_one());
        assert_send(async_with_everything(1));
        assert_send(async_by_reference(String::new()));
        assert_send(async_early_return(1));
        assert_send(prefix_and_client());
        assert_send(visibility::super_visible());
    }
}
