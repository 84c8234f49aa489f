//! `redis-mutex status` and `redis-mutex release --force`.

use std::time::Duration;

use redis_mutex::{Client, LockStatus};
use serde_json::json;

use crate::args::{ReleaseArgs, StatusArgs};
use crate::exit::Failure;

/// Prints the state of each name: a line of text, or with `--json` one JSON object per line.
///
/// # Errors
///
/// Redis and bad-name failures.
pub(crate) async fn status(client: &Client, args: &StatusArgs) -> Result<(), Failure> {
    for status in client.status(args.names.as_slice()).await? {
        if args.json {
            println!("{}", as_json(&status));
        } else {
            println!("{}", as_text(&status));
        }
    }
    Ok(())
}

/// Removes the lock on each name and tells what was removed.
///
/// # Errors
///
/// A usage failure without `--force`; Redis and bad-name failures.
pub(crate) async fn release(client: &Client, args: &ReleaseArgs) -> Result<(), Failure> {
    if !args.force {
        return Err(Failure::usage(
            "`release` removes locks whoever holds them, and their holders may still be working; \
             pass --force to confirm",
        ));
    }
    for released in client.force_release(args.names.as_slice()).await? {
        let name = json!(released.name);
        match &released.removed_holder {
            Some(holder) => println!(
                "released {name}: removed key {} (holder {holder}, {})",
                released.key,
                lease(released.remaining)
            ),
            None => println!("{name} was not held: nothing removed"),
        }
    }
    Ok(())
}

/// One line of text about `status`.
fn as_text(status: &LockStatus) -> String {
    let mut text = format!("{}: ", json!(status.name));
    if status.is_held() {
        text.push_str("held, ");
        text.push_str(&lease(status.remaining));
    } else {
        text.push_str("free");
    }
    if let Some(counter) = status.fencing_counter {
        text.push_str(&format!(", fencing counter {counter}"));
    }
    let waiters = status.waiters;
    text.push_str(&format!(
        ", {waiters} waiter{} queued",
        if waiters == 1 { "" } else { "s" }
    ));
    text
}

/// `status` as one JSON object.
fn as_json(status: &LockStatus) -> serde_json::Value {
    json!({
        "name": status.name,
        "key": status.key,
        "held": status.is_held(),
        "holder": status.holder,
        "remaining_ms": status.remaining.map(millis),
        "fencing_counter": status.fencing_counter,
        "waiters": status.waiters,
    })
}

/// What is left of a lease, for people.
fn lease(remaining: Option<Duration>) -> String {
    match remaining {
        Some(left) => format!(
            "{} of lease left",
            humantime::format_duration(Duration::from_millis(millis(left)))
        ),
        None => "no expiry".to_owned(),
    }
}

/// Whole milliseconds.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
