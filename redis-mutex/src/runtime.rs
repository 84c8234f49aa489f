//! The crate-owned runtime: one named background thread driving a current-thread tokio runtime.
//!
//! Every connection, wait, renewal and release runs here, never on the caller's runtime. So
//!
//! * the async API works on any executor (it only awaits a channel), and a client cached per URL
//!   outlives the `#[tokio::test]` runtime that first used it;
//! * the blocking API waits on a std channel, which does not panic inside a tokio runtime
//!   (unlike `Runtime::block_on` or `blocking_recv`), and needs no runtime from its caller;
//! * a guard dropped in async code has somewhere to send its release.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::{Notify, oneshot};

use crate::error::{Error, Result};

fn handle() -> Result<&'static Handle> {
    static HANDLE: OnceLock<std::result::Result<Handle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| start().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|message| Error::Runtime {
            source: std::io::Error::other(message.clone()),
        })
}

fn start() -> std::io::Result<Handle> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("redis-mutex")
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("redis-mutex".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(handle)
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
/// A program that exits right after dropping a [`Guard`](crate::Guard) in async code, or right
/// after an acquisition was cancelled (dropped in `select!`, under `timeout`) or gave up with
/// [`Error::Timeout`], should call it first: exiting cuts such a clean-up off, and a lock
/// handed to the abandoned waiter meanwhile would then stay taken until its lease runs out.
/// [`Guard::release`](crate::Guard::release) needs no flush: it returns once the release is
/// done. The blocking API needs none either: its drops wait for their releases.
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
        // Let tasks whose caller has just gone away run first, so the clean-ups they start
        // are counted.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        let settled = tokio::time::timeout(timeout, async {
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
        .is_ok();
        let _ = tx.send(settled);
    });
    rx.await.unwrap_or(false)
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
        let _ = tx.send(future.await);
    });
    rx.await
        .unwrap_or_else(|_| std::panic::resume_unwind(Box::new("redis-mutex task panicked")))
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
            output = future => drop(tx.send(output)),
        }
    });
    rx.await
        .unwrap_or_else(|_| std::panic::resume_unwind(Box::new("redis-mutex task panicked")))
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
        let _ = tx.send(future.await);
    });
    rx.recv()
        .unwrap_or_else(|_| std::panic::resume_unwind(Box::new("redis-mutex task panicked")))
}
