//! With `#[test]` and `#[tokio::test]`, in both orders (compiled here as a binary, where tests
//! are configured out; `tests/macro_*.rs` run such tests for real).
#![deny(warnings)]

use redis_mutex::mutex;

#[mutex("test")]
#[test]
fn mutex_then_test() {}

#[test]
#[mutex("test")]
fn test_then_mutex() {}

#[mutex("test")]
#[tokio::test]
async fn mutex_then_tokio_test() {}

#[tokio::test]
#[mutex("test")]
async fn tokio_test_then_mutex() {}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {}
