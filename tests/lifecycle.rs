//! How the end of a process, or a fork, meets the crate's runtime thread (issue: a guard
//! dropped as `main` returned left its lock held for a whole TTL; a forked child hung forever).

mod support;

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::name;

const CHILD: &str = env!("CARGO_BIN_EXE_lifecycle-child");

/// Runs the child program, killing it if it takes longer than `bound`.
fn run(args: &[&str], bound: Duration) -> Output {
    let mut child = Command::new(CHILD)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lifecycle-child");
    let started = Instant::now();
    while child.try_wait().expect("poll the child").is_none() {
        if started.elapsed() > bound {
            child.kill().ok();
            let output = child.wait_with_output().expect("reap the child");
            panic!(
                "lifecycle-child {args:?} still running after {bound:?} (hung): {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("reap the child")
}

#[test]
fn a_guard_dropped_as_main_returns_is_released_before_the_process_exits() {
    let server = support::shared();
    let url = server.url();
    for round in 0..10 {
        let lock = name("exit");
        let output = run(&["drop-at-exit", &url, &lock], Duration::from_secs(20));
        assert!(output.status.success(), "round {round}: {output:?}");
        assert_eq!(
            common::get(server, &common::key(&lock)),
            None,
            "round {round}: the lock outlived the process that dropped its guard"
        );
    }
}

#[test]
fn a_forked_child_fails_at_once_with_a_typed_error() {
    let server = support::shared();
    let output = run(
        &["fork", &server.url(), &name("fork")],
        Duration::from_secs(20),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("forked"), "{stdout}");
}
