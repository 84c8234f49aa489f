//! Interoperability with the Python original: its `Mutex` class (the blog post's code, run by a
//! real `python3` with redis-py) and this crate exclude each other on the same lock name, and
//! neither deletes the other's lock.
//!
//! Needs `python3` with the `redis` package (`scripts/install-deps` installs it); the interpreter
//! can be chosen with `REDIS_MUTEX_PYTHON`.

mod common;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{PROMPTLY, key, name};

/// The original `Mutex` class, verbatim but for two lines marked `# test:` (the server's port,
/// which the original leaves at Redis' default, and `current_thread`, the name of
/// `currentThread` in Python versions that no longer have the old one), plus a small driver.
const SEED: &str = r#"
from redis import Redis
import sys
import threading
import time

class Mutex:
    def __init__(self, name, server="127.0.0.1"):
        self.name = name
        self.key_name = "MUTEX_" + name
        self.id = threading.current_thread().ident  # test: currentThread() in the original
        self.redis = Redis(host=server, port=int(sys.argv[1]))  # test: port added

    def acquire(self, blocking=True, ex=30):
        r = self.redis.set(self.key_name, self.id, ex=ex, nx=True)
        if blocking:
            while not r:
                time.sleep(0.01)
                r = self.redis.set(self.key_name, self.id, ex=ex, nx=True)
        return r

    def release(self):
        r = self.redis.get(self.key_name)
        if r != None and r.decode() == str(self.id):
            self.redis.delete(self.key_name)

name, action = sys.argv[2], sys.argv[3]
lock = Mutex(name)
if action == "hold":
    lock.acquire()
    print("held", flush=True)
    time.sleep(float(sys.argv[4]))
    lock.release()
    print("released", flush=True)
elif action == "try":
    if lock.acquire(blocking=False):
        print("acquired", flush=True)
        lock.release()
    else:
        lock.release()  # owner-checked: must leave another owner's lock alone
        print("busy", flush=True)
"#;

/// The first interpreter that can import redis-py.
fn python() -> String {
    let candidates = std::env::var("REDIS_MUTEX_PYTHON")
        .into_iter()
        .chain(["python3".to_owned(), "/usr/bin/python3".to_owned()]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import redis"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if ok {
            return python;
        }
    }
    panic!(
        "no python3 with the `redis` package: run scripts/install-deps, or set REDIS_MUTEX_PYTHON"
    );
}

fn seed(lock: &str, args: &[&str]) -> Child {
    let port = support::shared().port().to_string();
    Command::new(python())
        .args(["-c", SEED, &port, lock])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python3")
}

fn next_line(out: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    out.read_line(&mut line).expect("read python's output");
    line.trim().to_owned()
}

#[test]
fn a_python_holder_excludes_us_and_we_take_over_after_its_release() {
    let lock = name("py-holds");
    let mut holder = seed(&lock, &["hold", "1.0"]);
    let mut out = BufReader::new(holder.stdout.take().unwrap());
    assert_eq!(next_line(&mut out), "held");
    let mutex = common::blocking_client(support::shared())
        .mutex(lock.as_str())
        .unwrap();
    assert!(mutex.try_lock().unwrap_err().is_busy());
    let started = Instant::now();
    let guard = mutex.try_lock_for(Duration::from_secs(10)).unwrap();
    // Python let go (after about 1 s) before we got it, and its key is ours now.
    assert_eq!(next_line(&mut out), "released");
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(
        common::get(support::shared(), &key(&lock)).as_deref(),
        Some(guard.token())
    );
    guard.release().unwrap();
    assert!(holder.wait().unwrap().success());
}

#[test]
fn our_holder_excludes_python_and_python_never_deletes_our_lock() {
    let lock = name("we-hold");
    let mutex = common::blocking_client(support::shared())
        .mutex(lock.as_str())
        .unwrap();
    let guard = mutex.lock().unwrap();
    let output = seed(&lock, &["try"]).wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "busy");
    // Python's owner-checked release (called on "busy") left ours alone.
    assert_eq!(
        common::get(support::shared(), &key(&lock)).as_deref(),
        Some(guard.token())
    );
    guard.release().unwrap();
    let deadline = Instant::now() + PROMPTLY;
    loop {
        let output = seed(&lock, &["try"]).wait_with_output().unwrap();
        match String::from_utf8_lossy(&output.stdout).trim() {
            "acquired" => break,
            other => assert!(Instant::now() < deadline, "python still gets {other:?}"),
        }
    }
}
