//! The crate-owned runtime: one named background thread driving a current-thread tokio runtime.
//!
//! Every wait, renewal, clean-up and the release of a dropped guard runs here, never on the
//! caller's runtime (only the uncontended path runs in the caller, see `backend::local`). So
//!
//! * the async API works on any executor (it only awaits a channel), and a client cached per URL
//!   outlives the `#[tokio::test]` runtime that first used it;
//! * a caller that blocks its own runtime, or drops it, stops none of its guards' renewals;
//! * the blocking API waits on a std channel, which does not panic inside a tokio runtime
//!   (unlike `Runtime::block_on` or `blocking_recv`), and needs no runtime from its caller;
//! * a guard dropped in async code has somewhere to send its release.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::runtime::Handle;
use tokio::sync::{Notify, oneshot};

use crate::error::{Error, Result};

/// The runtime thread, and the process that started it.
struct Started {
    handle: Handle,
    pid: u32,
}

fn handle() -> Result<&'static Handle> {
    static STARTED: OnceLock<std::result::Result<Started, String>> = OnceLock::new();
    let started = STARTED
        .get_or_init(|| start().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|message| Error::Runtime {
            source: std::io::Error::other(message.clone()),
        })?;
    // A forked child inherits the handle but not the thread behind it (nor the connections'
    // tasks): waiting on it would hang forever.
    if forked::since_start() && started.pid != std::process::id() {
        return Err(Error::Forked {
            parent: started.pid,
        });
    }
    Ok(&started.handle)
}

/// Whether the process may have forked since the runtime started, cheaply: `getpid` is a
/// system call, and this check runs on every lock and release.
#[cfg(unix)]
mod forked {
    use std::sync::atomic::{AtomicBool, Ordering};

    static FORKED: AtomicBool = AtomicBool::new(false);

    extern "C" fn in_child() {
        FORKED.store(true, Ordering::Relaxed);
    }

    /// Has every child created by `fork` (libc's, and so `std::process::Command`'s, which
    /// `exec`s right after) flag itself as forked.
    pub(super) fn watch() {
        // SAFETY: `in_child` is a plain `extern "C" fn()` that only stores to an atomic (which
        // is async-signal-safe, as a handler run in a forked child must be) and stays valid for
        // the life of the process.
        if unsafe { libc::pthread_atfork(None, None, Some(in_child)) } != 0 {
            // Without the hook, every check compares process ids.
            in_child();
        }
    }

    pub(super) fn since_start() -> bool {
        FORKED.load(Ordering::Relaxed)
    }
}

#[cfg(not(unix))]
mod forked {
    pub(super) fn watch() {}

    pub(super) fn since_start() -> bool {
        false
    }
}

fn start() -> std::io::Result<Started> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("redis-mutex")
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("redis-mutex".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    at_exit::register();
    forked::watch();
    Ok(Started {
        handle,
        pid: std::process::id(),
    })
}

/// Fails with [`Error::Forked`] in a forked child, and when the runtime could not start: what
/// every entry point checks, also those that may not need the runtime for this call.
pub(crate) fn check() -> Result<()> {
    handle().map(drop)
}

/// The crate runtime's id.
pub(crate) fn id() -> Result<tokio::runtime::Id> {
    Ok(handle()?.id())
}

/// Spawns `future` on the crate runtime (the scheduler of [`crate::renewal`]).
pub(crate) fn spawn<F>(future: F) -> Result<tokio::task::AbortHandle>
where
    F: Future<Output = ()> + Send + 'static,
{
    Ok(handle()?.spawn(future).abort_handle())
}

/// How long a normal process exit waits for releases still on their way to Redis.
const EXIT_FLUSH: Duration = Duration::from_secs(5);

/// Flushes pending releases when the process exits normally (returning from `main`, or
/// `std::process::exit`), so that a guard dropped right before does not leave its lock held
/// until its lease runs out.
#[cfg(unix)]
mod at_exit {
    pub(super) fn register() {
        extern "C" fn flush_at_exit() {
            super::flush_blocking(super::EXIT_FLUSH);
        }
        // SAFETY: `flush_at_exit` is a plain `extern "C" fn()` that never unwinds (it only
        // waits on a channel, with a timeout) and stays valid for the life of the process.
        if unsafe { libc::atexit(flush_at_exit) } != 0 {
            tracing::debug!(
                "could not register the exit flush; call redis_mutex::flush before exiting"
            );
        }
    }
}

#[cfg(not(unix))]
mod at_exit {
    pub(super) fn register() {}
}

/// [`flush`] for a caller that cannot await: the exit hook.
fn flush_blocking(timeout: Duration) -> bool {
    let Ok(handle) = handle() else { return true };
    // No early return when nothing is counted yet: an acquisition abandoned just before the
    // exit starts its clean-up only once the runtime notices, which `settle` waits for.
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(settle(timeout).await);
    });
    rx.recv_timeout(timeout + Duration::from_millis(100))
        .unwrap_or(false)
}

/// Runs `future` on the crate runtime without waiting for it. Used for releases from `Drop`.
pub(crate) fn spawn_detached<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match handle() {
        Ok(handle) => {
            DETACHED.fetch_add(1, Ordering::SeqCst);
            drop(handle.spawn(async move {
                let _done = DetachedDone;
                future.await;
            }));
        }
        Err(error) => tracing::error!(%error, "redis-mutex runtime unavailable; release skipped"),
    }
}

/// How many tasks of [`spawn_detached`] have not finished yet.
static DETACHED: AtomicUsize = AtomicUsize::new(0);

/// Notified whenever [`DETACHED`] drops to zero.
static SETTLED: Notify = Notify::const_new();

/// Counts a detached task as finished when dropped (also when it panics or is cancelled).
struct DetachedDone;

impl Drop for DetachedDone {
    fn drop(&mut self) {
        if DETACHED.fetch_sub(1, Ordering::SeqCst) == 1 {
            SETTLED.notify_waiters();
        }
    }
}

/// Waits, at most `timeout`, until the work that dropped guards and abandoned acquisitions left
/// to the crate's runtime thread is done: each such release has been answered by Redis (or has
/// failed). Returns whether everything finished in time.
///
/// Such a clean-up follows a [`Guard`](crate::Guard) dropped in async code, or an acquisition
/// cancelled (dropped in `select!`, under `timeout`) or given up with [`Error::Timeout`]; cut
/// off by the end of the process, it would leave the lock taken until its lease runs out. A
/// normal exit (returning from `main`, `std::process::exit`) flushes by itself, for up to 5 s,
/// on Unix; call `flush` to choose the bound, to know the outcome, or before leaving some
/// other way (`abort`, `exec`). [`Guard::release`](crate::Guard::release) needs no flush: it
/// returns once the release is done. The blocking API needs none either: its drops wait for
/// their releases.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(m: redis_mutex::Mutex) {
/// use std::time::Duration;
///
/// if let Ok(guard) = m.try_lock_for(Duration::from_secs(1)).await {
///     drop(guard); // the release is sent in the background
/// }
/// // About to exit: let pending releases and clean-ups reach Redis first.
/// redis_mutex::flush(Duration::from_secs(2)).await;
/// # }
/// ```
pub async fn flush(timeout: Duration) -> bool {
    let Ok(handle) = handle() else { return true };
    let (tx, rx) = oneshot::channel();
    handle.spawn(async move {
        let _ = tx.send(settle(timeout).await);
    });
    rx.await.unwrap_or(false)
}

/// Waits on the crate runtime, at most `timeout`, until no detached task is left.
async fn settle(timeout: Duration) -> bool {
    // Let tasks whose caller has just gone away run first, so the clean-ups they start are
    // counted.
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    tokio::time::timeout(timeout, async {
        loop {
            let notified = SETTLED.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if DETACHED.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    })
    .await
    .is_ok()
}

/// What a task on the crate runtime ended with: its output, or the payload of its panic.
type Outcome<T> = std::result::Result<Result<T>, Box<dyn Any + Send>>;

/// Runs `future`, catching a panic so that it can be resumed, payload intact, in the caller.
async fn outcome<T>(future: impl Future<Output = Result<T>>) -> Outcome<T> {
    AssertUnwindSafe(future).catch_unwind().await
}

/// Hands a task's outcome to its caller: the output, or the task's panic, resumed here.
/// `None` (the task was dropped unfinished) means the runtime went away.
fn deliver<T>(outcome: Option<Outcome<T>>) -> Result<T> {
    match outcome {
        Some(Ok(output)) => output,
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => Err(Error::Runtime {
            source: std::io::Error::other("the redis-mutex runtime stopped a task unfinished"),
        }),
    }
}

/// Runs `future` on the crate runtime and awaits its output from any executor.
///
/// Dropping the returned future stops waiting for the output but lets `future` finish, so work
/// that must complete (a release, a cleanup) is never cut in half by a caller's cancellation.
/// `future` itself watches for an abandoned caller where that matters (see
/// [`run_cancellable`]).
pub(crate) async fn run<F, T>(future: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    handle()?.spawn(async move {
        let _ = tx.send(outcome(future).await);
    });
    deliver(rx.await.ok())
}

/// Like [`run`], but `future` is dropped as soon as the caller stops waiting. An output that is
/// ready but no longer wanted is dropped on the crate runtime (a guard's `Drop` then releases).
pub(crate) async fn run_cancellable<F, T>(future: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let (mut tx, rx) = oneshot::channel();
    handle()?.spawn(async move {
        tokio::select! {
            biased;
            () = tx.closed() => {}
            output = outcome(future) => drop(tx.send(output)),
        }
    });
    deliver(rx.await.ok())
}

/// Runs `future` on the crate runtime and blocks the calling thread until it is done.
///
/// Safe to call from any thread, including a tokio worker (it then blocks that worker, as any
/// blocking call does).
pub(crate) fn block_on<F, T>(future: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle()?.spawn(async move {
        let _ = tx.send(outcome(future).await);
    });
    deliver(rx.recv().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_panic_reaches_the_caller_with_its_payload() {
        let caught = std::panic::catch_unwind(|| {
            block_on(async {
                if std::hint::black_box(true) {
                    panic!("boom {}", 42);
                }
                Ok(())
            })
        });
        let payload = caught.expect_err("the panic is resumed in the caller");
        // A `String`, or a `&str` when the compiler formatted the message at compile time.
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        assert_eq!(message, Some("boom 42"));
        // The runtime survives it.
        assert_eq!(block_on(async { Ok(7) }).unwrap(), 7);
    }
}
