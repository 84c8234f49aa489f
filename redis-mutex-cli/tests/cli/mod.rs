//! Helpers for running the real `redis-mutex` binary against a spawned `redis-server`.
//!
//! Include after `mod support;` and `mod common;` (the workspace's `tests/support` and
//! `tests/common`) with `mod cli;`.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub(crate) use crate::common::{eventually, name};
use crate::support::RedisServer;

/// Generous bound for "should happen promptly": a loaded 2-core machine, yet a hang fails.
pub(crate) const PROMPTLY: Duration = Duration::from_secs(5);

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_redis-mutex");

/// The exit codes, as documented in `--help` and the README.
pub(crate) mod code {
    pub(crate) const USAGE: i32 = 64;
    pub(crate) const DATA: i32 = 65;
    pub(crate) const UNAVAILABLE: i32 = 69;
    pub(crate) const BUSY: i32 = 75;
    pub(crate) const LOST: i32 = 79;
    pub(crate) const CANNOT_EXECUTE: i32 = 126;
    pub(crate) const NOT_FOUND: i32 = 127;
}

/// `redis-mutex ARGS` aimed at `server` through `REDIS_MUTEX_URL`, with no other Redis
/// variables inherited, stdin closed and output captured.
pub(crate) fn command(server: &RedisServer, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("REDIS_MUTEX_URL", server.url())
        .env_remove("REDIS_URL")
        .env_remove("REDIS_MUTEX_FENCE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `redis-mutex ARGS` to completion.
pub(crate) fn run(server: &RedisServer, args: &[&str]) -> Output {
    command(server, args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {BIN}: {err}"))
}

/// Starts `redis-mutex ARGS` in the background.
pub(crate) fn start(server: &RedisServer, args: &[&str]) -> Child {
    command(server, args)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {BIN}: {err}"))
}

/// The exit code, panicking with the output when there is none (killed by a signal).
pub(crate) fn code(output: &Output) -> i32 {
    output
        .status
        .code()
        .unwrap_or_else(|| panic!("redis-mutex died by a signal: {}", describe(output)))
}

/// Status, stdout and stderr, for assertion messages.
pub(crate) fn describe(output: &Output) -> String {
    format!(
        "{}; stdout: {:?}; stderr: {:?}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// stderr as text.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// stdout as text.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts that `output` failed with `expected` and one line on stderr, and no panic.
pub(crate) fn assert_fails(output: &Output, expected: i32) -> String {
    assert_eq!(code(output), expected, "{}", describe(output));
    let stderr = stderr(output);
    assert_eq!(
        stderr.lines().count(),
        1,
        "not one line: {}",
        describe(output)
    );
    assert!(stderr.starts_with("redis-mutex: "), "{}", describe(output));
    assert!(!stderr.contains("panicked"), "{}", describe(output));
    stderr
}

/// A blocking client of the library, for holding and inspecting locks from the test.
pub(crate) fn client(server: &RedisServer) -> redis_mutex::blocking::Client {
    crate::common::blocking_client(server)
}

/// Takes lock `name` from the test process, waiting as long as it takes.
pub(crate) fn hold(server: &RedisServer, name: &str) -> redis_mutex::blocking::Guard {
    client(server)
        .mutex(name)
        .expect("lock")
        .lock()
        .expect("hold the lock")
}

/// The Redis key of lock `name` (default prefix), as the library computes it.
pub(crate) fn key(server: &RedisServer, name: &str) -> String {
    client(server).mutex(name).expect("lock").keys()[0].clone()
}

/// Whether lock `name` is held (its key exists).
pub(crate) fn is_held(server: &RedisServer, name: &str) -> bool {
    let exists: bool = redis::cmd("EXISTS")
        .arg(key(server, name))
        .query(&mut server.raw())
        .expect("EXISTS");
    exists
}

/// A fresh temporary directory, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(name(tag));
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// `name` inside the directory, as a `String` for shell scripts.
    pub(crate) fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Waits until `file` exists (written by a child to say it is running).
pub(crate) fn wait_for_file(file: &str) {
    assert!(
        eventually(PROMPTLY, || Path::new(file).exists()),
        "{file} never appeared"
    );
}

/// Sends `signal` (e.g. `"-TERM"`) to `pid` with kill(1).
pub(crate) fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}

/// Waits for `child` at most `limit`, killing it (and failing) when it takes longer.
pub(crate) fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("wait");
            panic!(
                "redis-mutex still running after {limit:?}: {}",
                describe(&output)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("wait")
}
