//! Fault workers: lock holders and waiters in processes of their own, which a test can freeze
//! (`SIGSTOP`), thaw (`SIGCONT`) and kill (`SIGKILL`), and whose [`Event`]s it reads.
//!
//! ```ignore
//! let history = Arc::new(History::new());
//! let mut w = Worker::spawn("w", &Spec::new(server.url(), "orders").forever(), Some(&history));
//! w.wait_for(PROMPTLY, |e| matches!(e, Event::Acquired { .. }));
//! w.freeze();   // recorded in the history
//! w.thaw();
//! w.kill();
//! ```

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::event::{Event, now};
use super::history::History;
use super::spec::Spec;

/// The worker binary, built by cargo alongside the tests.
const WORKER_BIN: &str = env!("CARGO_BIN_EXE_fault-worker");

/// Events read so far, and whether the worker's stdout is closed.
#[derive(Debug, Default)]
struct Log {
    events: Vec<Event>,
    eof: bool,
}

#[derive(Debug, Default)]
struct Shared {
    log: Mutex<Log>,
    changed: Condvar,
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running worker; killed when dropped.
#[derive(Debug)]
pub(crate) struct Worker {
    label: String,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    shared: Arc<Shared>,
    history: Option<Arc<History>>,
    frozen: bool,
}

impl Worker {
    /// Starts a worker doing `spec`, named `label` in messages and in `history` (which, when
    /// given, records its sections, freezes and death).
    pub(crate) fn spawn(label: &str, spec: &Spec, history: Option<&Arc<History>>) -> Worker {
        let mut child = Command::new(WORKER_BIN)
            .args(spec.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {WORKER_BIN}: {err}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let shared = Arc::new(Shared::default());
        {
            let (shared, history, label) = (shared.clone(), history.cloned(), label.to_owned());
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let event: Event = line
                        .parse()
                        .unwrap_or_else(|err| panic!("worker {label}: {err}"));
                    if let Some(history) = &history {
                        history.record(&label, &event);
                    }
                    shared.log().events.push(event);
                    shared.changed.notify_all();
                }
                shared.log().eof = true;
                shared.changed.notify_all();
            });
        }
        Worker {
            label: label.to_owned(),
            stdin: child.stdin.take(),
            child: Some(child),
            shared,
            history: history.cloned(),
            frozen: false,
        }
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The process id.
    ///
    /// # Panics
    ///
    /// If the worker was killed or has been waited for.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("a live worker").id()
    }

    /// Every event so far.
    pub(crate) fn events(&self) -> Vec<Event> {
        self.shared.log().events.clone()
    }

    /// The first event since the `skip`-th matching `pred`, waiting up to `timeout` for it;
    /// `None` if none came (or the worker exited first).
    pub(crate) fn next_event(
        &self,
        skip: usize,
        timeout: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        let mut log = self.shared.log();
        loop {
            if let Some(event) = log.events.iter().skip(skip).find(|e| pred(e)) {
                return Some(event.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            if log.eof {
                return None;
            }
            log = self
                .shared
                .changed
                .wait_timeout(log, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// [`next_event`](Self::next_event) from the start.
    pub(crate) fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> Option<Event> {
        self.next_event(0, timeout, pred)
    }

    /// Like [`wait_for`](Self::wait_for), panicking when nothing matched; `what` names it.
    #[track_caller]
    pub(crate) fn expect(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> Event {
        self.wait_for(timeout, pred).unwrap_or_else(|| {
            panic!(
                "worker {}: no {what} within {timeout:?}; its events: {:#?}",
                self.label,
                self.events()
            )
        })
    }

    /// Freezes the worker (`SIGSTOP`) and waits until the kernel reports it stopped.
    pub(crate) fn freeze(&mut self) {
        let pid = self.pid();
        signal(pid, libc::SIGSTOP);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !is_stopped(pid) {
            assert!(
                Instant::now() < deadline,
                "worker {} did not stop",
                self.label
            );
            thread::sleep(Duration::from_millis(1));
        }
        self.frozen = true;
        if let Some(history) = &self.history {
            history.frozen(&self.label, now());
        }
    }

    /// Lets a frozen worker run again (`SIGCONT`).
    pub(crate) fn thaw(&mut self) {
        if let Some(history) = &self.history {
            history.thawed(&self.label, now());
        }
        signal(self.pid(), libc::SIGCONT);
        self.frozen = false;
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// Kills the worker (`SIGKILL`, also when frozen) and reaps it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let at = now();
            let _ = child.wait();
            // Everything the worker wrote before it died is recorded before its death: a section
            // it reported ended (its release on the way) must not be stretched to the kill.
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut log = self.shared.log();
            while !log.eof && Instant::now() < deadline {
                log = self
                    .shared
                    .changed
                    .wait_timeout(log, Duration::from_millis(50))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            drop(log);
            if let Some(history) = &self.history {
                history.killed(&self.label, at);
            }
        }
    }

    /// Asks the worker to stop after its current critical section (closes its stdin), and
    /// waits up to `timeout` for it to exit; kills it after that. Returns whether it exited on
    /// its own.
    pub(crate) fn stop(&mut self, timeout: Duration) -> bool {
        if self.frozen {
            self.thaw();
        }
        self.stdin = None;
        let deadline = Instant::now() + timeout;
        while let Some(child) = self.child.as_mut() {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return true;
            }
            if Instant::now() >= deadline {
                self.kill();
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(pid: u32, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("a pid fits pid_t");
    // SAFETY: `kill` has no memory-safety preconditions; `pid` is our own child, not yet
    // reaped (so the pid cannot have been reused).
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}) failed: {}",
        std::io::Error::last_os_error()
    );
}

/// Whether `/proc/PID/stat` says the process is stopped (`T`).
fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name, which is in parentheses and may contain spaces.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            == Some("T")
    })
}
