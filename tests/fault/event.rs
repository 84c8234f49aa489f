//! What a fault worker reports, one line per event on its stdout, and the clock it stamps
//! events with.
//!
//! Shared by the worker binary (`tests/fault/worker.rs`, which prints events) and the tests
//! (which parse them), so both sides agree on the format by construction.
//!
//! A line is a verb followed by `key=value` fields; a `msg=` field, when present, is last and
//! takes the rest of the line:
//!
//! ```text
//! ready pid=4242
//! waiting at=1234567
//! acquired at=1234999 token=5f0c... fence=7 held=true key=5f0c... ttl_ms=1000
//! released at=1299999 outcome=lost lost_seen=true
//! failed at=1300000 kind=timeout elapsed_ms=1003 msg=timed out after ...
//! done
//! ```

#![allow(dead_code)]

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Nanoseconds of `CLOCK_MONOTONIC`: one clock for every process of the machine, so events of
/// different workers and of the test itself can be ordered against each other.
pub(crate) fn now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC) failed");
    let secs = u64::try_from(ts.tv_sec).expect("monotonic seconds are positive");
    let nanos = u64::try_from(ts.tv_nsec).expect("monotonic nanoseconds are positive");
    secs * 1_000_000_000 + nanos
}

/// The time between two [`now`] stamps (zero if `later` is not later).
pub(crate) fn between(earlier: u64, later: u64) -> Duration {
    Duration::from_nanos(later.saturating_sub(earlier))
}

/// How a holder's release went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The lock was still ours and is released.
    Ok,
    /// `Error::Lost`: the lease had run out or the key was taken over.
    Lost,
    /// Any other error (unreachable server, ...).
    Error,
}

/// Why a lock call failed, as `Error`'s predicates classify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailKind {
    Busy,
    Timeout,
    Lost,
    Connection,
    Other,
}

/// One thing a worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// The worker is up.
    Ready { pid: u32 },
    /// About to call the lock method.
    Waiting { at: u64 },
    /// The lock method returned a guard: the critical section starts `at`. `key` is the lock
    /// key's value read right after (when the worker was given a direct server URL to check).
    Acquired {
        at: u64,
        token: String,
        fence: Option<u64>,
        held: bool,
        key: Option<String>,
        ttl_ms: u64,
    },
    /// The critical section ended `at`: before the release was sent, or when the guard's lease
    /// ran out as far as the guard could tell, whichever came first. `lost_seen`: the guard
    /// reported the loss (`lost()`, `remaining()`) during the section.
    Released {
        at: u64,
        outcome: Outcome,
        lost_seen: bool,
    },
    /// The critical section ended `at` (as for `Released`), and the release is about to be
    /// sent: a worker killed between the release and its report still has its section end.
    Releasing { at: u64, lost_seen: bool },
    /// The lock method failed after `elapsed_ms`.
    Failed {
        at: u64,
        kind: FailKind,
        elapsed_ms: u64,
        msg: String,
    },
    /// The worker is done and exits.
    Done,
}

impl Event {
    /// Whether the holder was told it lost the lock: by its guard, or by its release.
    pub(crate) fn told_lost(&self) -> bool {
        matches!(self, Event::Released { outcome, lost_seen, .. } if *lost_seen || *outcome == Outcome::Lost)
    }
}

fn word<T: fmt::Debug>(value: &T) -> String {
    format!("{value:?}").to_lowercase()
}

fn opt<T: fmt::Display>(value: Option<&T>) -> String {
    value.map_or_else(|| "-".to_owned(), ToString::to_string)
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Ready { pid } => write!(f, "ready pid={pid}"),
            Event::Waiting { at } => write!(f, "waiting at={at}"),
            Event::Acquired {
                at,
                token,
                fence,
                held,
                key,
                ttl_ms,
            } => write!(
                f,
                "acquired at={at} token={token} fence={} held={held} key={} ttl_ms={ttl_ms}",
                opt(fence.as_ref()),
                opt(key.as_ref())
            ),
            Event::Releasing { at, lost_seen } => {
                write!(f, "releasing at={at} lost_seen={lost_seen}")
            }
            Event::Released {
                at,
                outcome,
                lost_seen,
            } => write!(
                f,
                "released at={at} outcome={} lost_seen={lost_seen}",
                word(outcome)
            ),
            Event::Failed {
                at,
                kind,
                elapsed_ms,
                msg,
            } => write!(
                f,
                "failed at={at} kind={} elapsed_ms={elapsed_ms} msg={}",
                word(kind),
                msg.replace('\n', " ")
            ),
            Event::Done => f.write_str("done"),
        }
    }
}

/// The fields of one line.
struct Fields<'a> {
    line: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
    msg: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn parse(line: &'a str, rest: &'a str) -> Self {
        let (head, msg) = match rest.find("msg=") {
            Some(i) => (&rest[..i], Some(&rest[i + 4..])),
            None => (rest, None),
        };
        let pairs = head
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .collect();
        Fields { line, pairs, msg }
    }

    fn str(&self, name: &str) -> Result<&'a str, String> {
        self.pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("no `{name}` in event line {:?}", self.line))
    }

    fn get<T: FromStr>(&self, name: &str) -> Result<T, String> {
        let raw = self.str(name)?;
        raw.parse()
            .map_err(|_| format!("bad `{name}={raw}` in event line {:?}", self.line))
    }

    fn opt<T: FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        match self.str(name)? {
            "-" => Ok(None),
            _ => self.get(name).map(Some),
        }
    }
}

impl FromStr for Event {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, String> {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let f = Fields::parse(line, rest);
        Ok(match verb {
            "ready" => Event::Ready { pid: f.get("pid")? },
            "waiting" => Event::Waiting { at: f.get("at")? },
            "acquired" => Event::Acquired {
                at: f.get("at")?,
                token: f.get("token")?,
                fence: f.opt("fence")?,
                held: f.get("held")?,
                key: f.opt("key")?,
                ttl_ms: f.get("ttl_ms")?,
            },
            "releasing" => Event::Releasing {
                at: f.get("at")?,
                lost_seen: f.get("lost_seen")?,
            },
            "released" => Event::Released {
                at: f.get("at")?,
                outcome: match f.str("outcome")? {
                    "ok" => Outcome::Ok,
                    "lost" => Outcome::Lost,
                    _ => Outcome::Error,
                },
                lost_seen: f.get("lost_seen")?,
            },
            "failed" => Event::Failed {
                at: f.get("at")?,
                kind: match f.str("kind")? {
                    "busy" => FailKind::Busy,
                    "timeout" => FailKind::Timeout,
                    "lost" => FailKind::Lost,
                    "connection" => FailKind::Connection,
                    _ => FailKind::Other,
                },
                elapsed_ms: f.get("elapsed_ms")?,
                msg: f.msg.unwrap_or_default().to_owned(),
            },
            "done" => Event::Done,
            _ => return Err(format!("unknown event line {line:?}")),
        })
    }
}
