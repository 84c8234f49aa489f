//! The fault worker: a separate process that takes a lock the way an application would, so
//! the fault tests can pause (`SIGSTOP`), resume and kill (`SIGKILL`) lock holders and waiters.
//!
//! Run by the tests through `env!("CARGO_BIN_EXE_fault-worker")` with the arguments of
//! `Spec::args` (tests/fault/spec.rs); reports what it does on stdout, one `Event` per line
//! (tests/fault/event.rs). Stops after its iterations, or before the next one once its stdin
//! is closed.

#[path = "event.rs"]
mod event;
#[path = "spec.rs"]
mod spec;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use event::{Event, FailKind, Outcome, now};
use spec::{ApiKind, Spec};

fn emit(event: &Event) {
    let mut out = std::io::stdout().lock();
    // A closed pipe means the test is gone: nothing left to report to.
    let _ = writeln!(out, "{event}").and_then(|()| out.flush());
}

/// A held lock, whichever API took it.
trait Held {
    fn token(&self) -> &str;
    fn fence(&self) -> Option<u64>;
    fn is_held(&self) -> bool;
    fn remaining(&self) -> Duration;
    /// Holds for `hold` or until the loss of the lock is reported; returns whether it was.
    fn hold(&self, hold: Duration) -> bool;
    fn release(self: Box<Self>) -> redis_mutex::Result<()>;
}

/// Takes the lock, whichever API.
trait Locker {
    fn lock(&self) -> redis_mutex::Result<Box<dyn Held>>;
}

struct AsyncLocker {
    mutex: redis_mutex::Mutex,
    wait: Option<Duration>,
    runtime: Arc<tokio::runtime::Runtime>,
}

struct AsyncHeld {
    guard: redis_mutex::Guard,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl Locker for AsyncLocker {
    fn lock(&self) -> redis_mutex::Result<Box<dyn Held>> {
        let guard = self.runtime.block_on(async {
            match self.wait {
                Some(wait) => self.mutex.try_lock_for(wait).await,
                None => self.mutex.lock().await,
            }
        })?;
        Ok(Box::new(AsyncHeld {
            guard,
            runtime: self.runtime.clone(),
        }))
    }
}

impl Held for AsyncHeld {
    fn token(&self) -> &str {
        self.guard.token()
    }
    fn fence(&self) -> Option<u64> {
        self.guard.fencing_token()
    }
    fn is_held(&self) -> bool {
        self.guard.is_held()
    }
    fn remaining(&self) -> Duration {
        self.guard.remaining()
    }
    fn hold(&self, hold: Duration) -> bool {
        self.runtime
            .block_on(async { tokio::time::timeout(hold, self.guard.lost()).await.is_ok() })
    }
    fn release(self: Box<Self>) -> redis_mutex::Result<()> {
        let AsyncHeld { guard, runtime } = *self;
        runtime.block_on(guard.release())
    }
}

struct BlockingLocker {
    mutex: redis_mutex::blocking::Mutex,
    wait: Option<Duration>,
}

impl Locker for BlockingLocker {
    fn lock(&self) -> redis_mutex::Result<Box<dyn Held>> {
        let guard = match self.wait {
            Some(wait) => self.mutex.try_lock_for(wait),
            None => self.mutex.lock(),
        }?;
        Ok(Box::new(guard))
    }
}

impl Held for redis_mutex::blocking::Guard {
    fn token(&self) -> &str {
        redis_mutex::blocking::Guard::token(self)
    }
    fn fence(&self) -> Option<u64> {
        self.fencing_token()
    }
    fn is_held(&self) -> bool {
        redis_mutex::blocking::Guard::is_held(self)
    }
    fn remaining(&self) -> Duration {
        redis_mutex::blocking::Guard::remaining(self)
    }
    fn hold(&self, hold: Duration) -> bool {
        self.lost_timeout(hold)
    }
    fn release(self: Box<Self>) -> redis_mutex::Result<()> {
        redis_mutex::blocking::Guard::release(*self)
    }
}

/// Pretends to hold: the worker the checker must catch.
struct NoLock;

impl Locker for NoLock {
    fn lock(&self) -> redis_mutex::Result<Box<dyn Held>> {
        Ok(Box::new(Pretend(format!("nolock-{}", std::process::id()))))
    }
}

struct Pretend(String);

impl Held for Pretend {
    fn token(&self) -> &str {
        &self.0
    }
    fn fence(&self) -> Option<u64> {
        None
    }
    fn is_held(&self) -> bool {
        true
    }
    fn remaining(&self) -> Duration {
        Duration::MAX
    }
    fn hold(&self, hold: Duration) -> bool {
        std::thread::sleep(hold);
        false
    }
    fn release(self: Box<Self>) -> redis_mutex::Result<()> {
        Ok(())
    }
}

fn locker(spec: &Spec) -> redis_mutex::Result<Box<dyn Locker>> {
    if !spec.lock {
        return Ok(Box::new(NoLock));
    }
    let mut builder = redis_mutex::Client::builder(spec.url.as_str());
    if let Some(interval) = spec.max_poll {
        builder = builder.max_poll_interval(interval);
    }
    if let Some(timeout) = spec.timeout {
        builder = builder.connect_timeout(timeout).response_timeout(timeout);
    }
    let client = builder.build()?;
    let mutex = client
        .mutex(spec.name.as_str())?
        .with_ttl(spec.ttl)?
        .with_renewal(spec.renewal)
        .with_fencing(spec.fencing);
    Ok(match spec.api {
        ApiKind::Async => Box::new(AsyncLocker {
            mutex,
            wait: spec.wait,
            runtime: Arc::new(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime"),
            ),
        }),
        ApiKind::Blocking => Box::new(BlockingLocker {
            mutex: mutex.into(),
            wait: spec.wait,
        }),
    })
}

fn fail_kind(error: &redis_mutex::Error) -> FailKind {
    if error.is_busy() {
        FailKind::Busy
    } else if error.is_timeout() {
        FailKind::Timeout
    } else if error.is_lost() {
        FailKind::Lost
    } else if error.is_connection() {
        FailKind::Connection
    } else {
        FailKind::Other
    }
}

/// The lock key's value, read over a connection of its own straight to the server.
fn read_key(url: &str, key: &str) -> Option<String> {
    let client = redis::Client::open(url).ok()?;
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .ok()?;
    con.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    redis::cmd("GET").arg(key).query(&mut con).ok()?
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// How often a holder looks at its lease while it holds the lock.
const STEP: Duration = Duration::from_millis(20);

/// Holds the lock for `hold` from `start`, or until the guard reports it lost. Returns whether
/// it did, and when the critical section ended: now, or when the lease ran out as far as the
/// guard could tell (`remaining()` reached zero), whichever came first. So a holder frozen past
/// its lease, or slow to wake, does not count the time it no longer held the lock.
///
/// `deadline` is when the lease ends at the latest, as of the start: `remaining()` read before
/// the clock, so that it errs on the long side.
fn hold(held: &dyn Held, hold: Duration, mut deadline: u64) -> (bool, u64) {
    let until = Instant::now() + hold;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let remaining = held.remaining();
        let at = now();
        if left.is_zero() {
            return (false, at.min(deadline));
        }
        if remaining.is_zero() {
            return (true, at.min(deadline));
        }
        deadline = at.saturating_add(nanos(remaining));
        if held.hold(left.min(remaining).min(STEP)) {
            return (true, now().min(deadline));
        }
    }
}

/// One critical section; `Err(())` when the lock call failed.
fn section(spec: &Spec, locker: &dyn Locker) -> Result<(), ()> {
    emit(&Event::Waiting { at: now() });
    let started = Instant::now();
    let held = match locker.lock() {
        Ok(held) => held,
        Err(error) => {
            emit(&Event::Failed {
                at: now(),
                kind: fail_kind(&error),
                elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                msg: error.to_string(),
            });
            return Err(());
        }
    };
    let remaining = held.remaining();
    let at = now();
    let still_held = held.is_held();
    let key = spec
        .check_url
        .as_deref()
        .and_then(|url| read_key(url, &format!("MUTEX_{}", spec.name)));
    emit(&Event::Acquired {
        at,
        token: held.token().to_owned(),
        fence: held.fence(),
        held: still_held,
        key,
        ttl_ms: u64::try_from(spec.ttl.as_millis()).unwrap_or(u64::MAX),
    });
    let (lost_seen, end) = hold(
        held.as_ref(),
        spec.hold,
        at.saturating_add(nanos(remaining)),
    );
    emit(&Event::Releasing { at: end, lost_seen });
    let outcome = match held.release() {
        Ok(()) => Outcome::Ok,
        Err(error) if error.is_lost() => Outcome::Lost,
        Err(_) => Outcome::Error,
    };
    emit(&Event::Released {
        at: end,
        outcome,
        lost_seen,
    });
    Ok(())
}

/// Dies with the test: a test killed by a signal cannot kill its workers, and a frozen worker
/// would stay frozen forever. (Linux sends the signal when the *thread* that spawned us ends:
/// spawn workers from the thread that also stops them, as a test does.)
#[cfg(target_os = "linux")]
fn die_with_parent() {
    // SAFETY: `prctl(PR_SET_PDEATHSIG, sig)` takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
    // The parent may have died before the call: then we were re-parented already.
    // SAFETY: `getppid` has no preconditions.
    if unsafe { libc::getppid() } == 1 {
        std::process::exit(3);
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent() {}

fn main() -> ExitCode {
    die_with_parent();
    let spec = match Spec::parse(std::env::args().skip(1)) {
        Ok(spec) => spec,
        Err(error) => {
            eprintln!("fault-worker: {error}");
            return ExitCode::from(2);
        }
    };
    // Closing our stdin asks us to stop after the current critical section.
    let stop = Arc::new(AtomicBool::new(false));
    let stop_on_eof = stop.clone();
    std::thread::spawn(move || {
        for _ in std::io::stdin().lock().lines() {}
        stop_on_eof.store(true, Ordering::SeqCst);
    });
    emit(&Event::Ready {
        pid: std::process::id(),
    });
    let locker = match locker(&spec) {
        Ok(locker) => locker,
        Err(error) => {
            eprintln!("fault-worker: {error}");
            return ExitCode::from(2);
        }
    };
    let mut done = 0;
    while spec.iterations.is_none_or(|n| done < n) && !stop.load(Ordering::SeqCst) {
        if section(&spec, locker.as_ref()).is_ok() {
            done += 1;
        } else if spec.iterations.is_some() {
            break;
        }
        std::thread::sleep(spec.gap);
    }
    emit(&Event::Done);
    ExitCode::SUCCESS
}
