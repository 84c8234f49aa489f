//! `redis-mutex status` and `redis-mutex release --force` against a spawned redis-server.

#[path = "../../tests/support/mod.rs"]
mod support;

#[path = "../../tests/common/mod.rs"]
mod common;

mod cli;

use std::time::Duration;

use cli::{
    PROMPTLY, client, code, describe, eventually, finish, hold, is_held, run, start, stdout,
};
use serde_json::Value;

/// `status --json NAMES`, one parsed object per line.
fn status(server: &support::RedisServer, names: &[&str]) -> Vec<Value> {
    let mut args = vec!["status", "--json"];
    args.extend(names);
    let output = run(server, &args);
    assert_eq!(code(&output), 0, "{}", describe(&output));
    stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn status_json_tells_free_from_held() {
    let server = support::shared();
    let (free, held) = (cli::name("free"), cli::name("held"));
    let ttl = Duration::from_secs(10);
    let guard = client(server)
        .mutex(held.as_str())
        .unwrap()
        .with_fencing(true)
        .with_ttl(ttl)
        .unwrap()
        .lock()
        .unwrap();

    let objects = status(server, &[&held, &free]);
    let [first, second] = &objects[..] else {
        panic!("{objects:?}")
    };
    // Names come sorted, as locks take them.
    let (free_status, held_status) = if free < held {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(free_status["name"], free.as_str());
    assert_eq!(free_status["held"], false);
    assert_eq!(free_status["remaining_ms"], Value::Null);
    assert_eq!(free_status["holder"], Value::Null);

    assert_eq!(held_status["held"], true);
    assert_eq!(held_status["key"], cli::key(server, &held).as_str());
    assert_eq!(held_status["holder"], guard.token());
    assert_eq!(
        held_status["fencing_counter"],
        guard.fencing_token().unwrap()
    );
    let left = held_status["remaining_ms"].as_u64().unwrap();
    assert!(left > 0 && left <= 10_000, "{left} ms left");
    assert_eq!(held_status["waiters"], 0);
}

#[test]
fn status_counts_queued_waiters_and_text_reads_well() {
    let server = support::shared();
    let lock = cli::name("queued");
    let guard = hold(server, &lock);
    let waiter = start(server, &["exec", "--wait", "20s", &lock, "--", "true"]);
    assert!(
        eventually(PROMPTLY, || status(server, &[&lock])[0]["waiters"] == 1),
        "the waiter never showed up in the queue"
    );
    let output = run(server, &["status", &lock]);
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!("\"{lock}\": held, ")) && text.contains("1 waiter queued"),
        "{text}"
    );
    guard.release().unwrap();
    assert_eq!(code(&finish(waiter, PROMPTLY)), 0);
    let text = stdout(&run(server, &["status", &lock]));
    assert_eq!(text, format!("\"{lock}\": free, 0 waiters queued\n"));
}

#[test]
fn release_force_removes_the_holders_lock_and_says_so() {
    let server = support::shared();
    let (held, free) = (cli::name("stuck"), cli::name("idle"));
    let guard = hold(server, &held);
    let output = run(server, &["release", "--force", &held, &free]);
    assert_eq!(code(&output), 0, "{}", describe(&output));
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "released \"{held}\": removed key {}",
            cli::key(server, &held)
        )) && text.contains(guard.token()),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"{free}\" was not held: nothing removed")),
        "{text}"
    );
    assert!(!is_held(server, &held));
    assert!(guard.release().unwrap_err().is_lost());
}

#[test]
fn release_force_hands_the_lock_to_the_next_waiter() {
    let server = support::shared();
    let lock = cli::name("handed");
    let guard = hold(server, &lock);
    let waiter = start(server, &["exec", &lock, "--", "true"]);
    assert!(eventually(
        PROMPTLY,
        || status(server, &[&lock])[0]["waiters"] == 1
    ));
    let output = run(server, &["release", "--force", &lock]);
    assert_eq!(code(&output), 0, "{}", describe(&output));
    assert_eq!(code(&finish(waiter, PROMPTLY)), 0);
    drop(guard);
}

#[test]
fn release_without_force_refuses() {
    let server = support::shared();
    let lock = cli::name("unforced");
    let guard = hold(server, &lock);
    let message = cli::assert_fails(&run(server, &["release", &lock]), cli::code::USAGE);
    assert!(message.contains("--force"), "{message}");
    assert!(guard.is_held() && is_held(server, &lock));
}

#[test]
fn prefix_applies_to_exec_and_status_alike() {
    let server = support::shared();
    let lock = cli::name("prefixed");
    // The command asks, while holding the lock, what the same prefix shows for it.
    let script = format!("'{}' status --json --prefix custom: {lock}", cli::BIN);
    let output = run(
        server,
        &[
            "exec", "--prefix", "custom:", &lock, "--", "sh", "-c", &script,
        ],
    );
    assert_eq!(code(&output), 0, "{}", describe(&output));
    let seen: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(seen["held"], true);
    assert_eq!(seen["key"], format!("custom:{lock}"));
    assert_eq!(
        status(server, &[&lock])[0]["held"],
        false,
        "not under the default prefix"
    );
}
