//! [`Guard`]: proof of holding a lock, its lease, renewal and release.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use crate::backend::{Local, Via};
use crate::error::{Error, Result};
use crate::lease::Lease;
use crate::lock::Mutex;
use crate::names::LockNames;
use crate::observe;
use crate::protocol;
use crate::renewal::{self, Renewal};
use crate::runtime;

/// A held lock. Dropping it releases the lock; so does [`release`](Guard::release), which also
/// reports whether the lock was still ours.
///
/// A guard owns its acquisition's token, not a thread: it is `Send + 'static` and may move to
/// another thread or task and be released there.
///
/// While it lives, its lease is renewed in the background every third of the TTL (unless
/// [renewal is off](Mutex::with_renewal)). If a renewal finds the lock gone or taken over, or
/// the lease runs out without a successful renewal, the guard knows: [`is_held`](Guard::is_held)
/// turns `false`, [`lost`](Guard::lost) completes, and releasing reports [`Error::Lost`].
///
/// # Dropping in async code
///
/// `Drop` cannot await, so dropping a guard hands its release to the crate's runtime thread,
/// which sends it at once: the lock is freed promptly even when the guard is dropped by a panic
/// or a cancelled task. Prefer [`release`](Guard::release) on the normal path anyway: it reports
/// a lost lock, and the lock is free when it returns.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(m: redis_mutex::Mutex) -> redis_mutex::Result<()> {
/// let guard = m.lock().await?;
/// println!("holding {:?} for at least {:?} more", guard.names(), guard.remaining());
/// guard.release().await?; // Err(Error::Lost) if the lease ran out meanwhile
/// # Ok(()) }
/// ```
#[must_use = "if unused the lock is released immediately"]
#[clippy::has_significant_drop]
pub struct Guard {
    held: Option<Held>,
}

/// Everything a release needs; moved out of the guard by `release` or `Drop`.
struct Held {
    mutex: Mutex,
    token: Arc<str>,
    fences: Vec<u64>,
    lease: Arc<Lease>,
    renewal: Option<Renewal>,
    acquired: Instant,
    /// Acquired through the Redis queue: someone else likely waits too, so the release goes
    /// straight to the script that hands the lock on.
    queued: bool,
}

impl Guard {
    /// A guard for an acquisition with a lease of `lease_len` granted by a request sent at
    /// `sent`. Starts renewal; a lease shorter than the TTL (a hand-over not yet claimed) is
    /// extended to the TTL a third into it, also with renewal off.
    pub(crate) fn new(
        mutex: Mutex,
        token: Arc<str>,
        fences: Vec<u64>,
        (sent, lease_len): (Instant, Duration),
        queued: bool,
    ) -> Guard {
        let lease = Lease::new(sent, lease_len);
        let claim = lease_len < mutex.settings.ttl;
        let renewal = (mutex.settings.renewal || claim)
            .then(|| {
                let span = tracing::debug_span!("redis_mutex::renew", lock = %mutex.spec.names);
                let keep_renewing = mutex.settings.renewal;
                // A third into the lease: a hand-over's short claim lease is extended once a
                // third of it is used, so a holder that releases sooner never pays for it.
                let due = Instant::now() + first_renewal(&lease, lease_len);
                let task = renew(
                    mutex.clone(),
                    token.clone(),
                    lease.clone(),
                    lease_len,
                    keep_renewing,
                );
                renewal::schedule(due, task.instrument(span))
                    .inspect_err(|error| {
                        tracing::error!(%error, lock = %mutex.spec.names, "cannot renew this lock: it ends with its lease");
                    })
                    .ok()
            })
            .flatten();
        tracing::debug!(lock = %mutex.spec.names, "acquired");
        Guard {
            held: Some(Held {
                mutex,
                token,
                fences,
                lease,
                renewal,
                acquired: Instant::now(),
                queued,
            }),
        }
    }

    fn held(&self) -> &Held {
        self.held
            .as_ref()
            .expect("a guard is only emptied by `release` or `Drop`, which consume it")
    }

    /// The names of the held lock.
    pub fn names(&self) -> &LockNames {
        self.held().mutex.names()
    }

    /// This acquisition's owner token, the value stored at the lock's keys.
    pub fn token(&self) -> &str {
        &self.held().token
    }

    /// The fencing token of the lock's first name, when the lock was taken
    /// [with fencing](Mutex::with_fencing).
    ///
    /// Fencing tokens strictly increase across every holder of a name. Hand it to the resource
    /// you protect with each write and have it refuse tokens lower than the highest seen.
    pub fn fencing_token(&self) -> Option<u64> {
        self.held().fences.first().copied()
    }

    /// The fencing tokens of every name, in name order (empty without fencing).
    pub fn fencing_tokens(&self) -> &[u64] {
        &self.held().fences
    }

    /// Whether the lease is still ours as far as this process can tell, without asking Redis.
    ///
    /// `false` once a renewal found the lock gone or taken over, or once the lease deadline
    /// passed. The deadline is conservative: counted from before the acquire (or last renewal)
    /// request was sent, less a clock-drift margin of 1 % of the TTL plus 2 ms.
    pub fn is_held(&self) -> bool {
        !self.remaining().is_zero()
    }

    /// How long the lease lasts at least, as far as this process can tell; zero once lost.
    pub fn remaining(&self) -> Duration {
        self.held().lease.remaining()
    }

    /// Completes once the lock is no longer held: a renewal found it gone or taken over, or the
    /// lease ran out. Use it to stop work that must not continue without the lock.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(m: redis_mutex::Mutex) -> redis_mutex::Result<()> {
    /// # async fn long_work() {}
    /// let guard = m.lock().await?;
    /// tokio::select! {
    ///     () = long_work() => guard.release().await?,
    ///     () = guard.lost() => eprintln!("lost {} mid-way; stopping", guard.names()),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn lost(&self) {
        let lease = self.held().lease.clone();
        let _ = runtime::run_cancellable(async move {
            lease.expired().await;
            Ok(())
        })
        .await;
    }

    /// Blocks the thread until the lock is no longer held or `timeout` passes; returns whether
    /// it is lost.
    pub(crate) fn lost_timeout(&self, timeout: Duration) -> bool {
        self.held().lease.wait_expired(timeout)
    }

    /// Whether every key of the lock still holds this guard's token, asked of Redis now (unlike
    /// [`is_held`](Guard::is_held), which answers from this process' view of the lease).
    ///
    /// # Errors
    ///
    /// [`Error::Unreachable`], [`Error::Refused`] from Redis.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(m: redis_mutex::Mutex) -> redis_mutex::Result<()> {
    /// let guard = m.lock().await?;
    /// assert!(guard.is_owned().await?);
    /// # Ok(()) }
    /// ```
    pub async fn is_owned(&self) -> Result<bool> {
        runtime::run(self.is_owned_task()).await
    }

    /// The work of [`is_owned`](Guard::is_owned), detached from the guard's lifetime.
    pub(crate) fn is_owned_task(&self) -> impl Future<Output = Result<bool>> + Send + 'static {
        let held = self.held();
        let (mutex, token) = (held.mutex.clone(), held.token.clone());
        async move {
            let holders = mutex
                .client
                .server
                .backend
                .holders(&mutex.spec.keys)
                .await?;
            Ok(holders
                .iter()
                .all(|holder| holder.as_deref() == Some(&*token)))
        }
    }

    /// Resets the lease to `ttl` from now, if the lock is still ours.
    ///
    /// # Errors
    ///
    /// [`Error::Lost`] when the lock is no longer ours; [`Error::InvalidTtl`]; Redis errors.
    pub async fn extend(&self, ttl: Duration) -> Result<()> {
        let ttl = protocol::validate_ttl(ttl)?;
        runtime::run(self.extend_task(ttl)).await
    }

    /// The work of [`extend`](Guard::extend), detached from the guard's lifetime.
    pub(crate) fn extend_task(
        &self,
        ttl: Duration,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let held = self.held();
        let (mutex, token, lease) = (held.mutex.clone(), held.token.clone(), held.lease.clone());
        async move { extend(&mutex, &token, &lease, ttl).await }
    }

    /// Releases the lock now and reports whether it was still ours.
    ///
    /// # Errors
    ///
    /// [`Error::Lost`] (also logged as a warning) when the lease had run out or another owner
    /// held the lock: the work done under it may have overlapped another holder. Redis errors
    /// when the release could not be sent; the lock then frees itself when its lease runs out.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not cancel the release; it completes in the background.
    pub async fn release(mut self) -> Result<()> {
        let held = self.held.take().expect("not yet released");
        match held.mutex.client.server.backend.local() {
            Some(local) => held.release_here(local).await,
            None => runtime::run(async move { held.release(&Via::Shared).await }).await,
        }
    }

    pub(crate) fn release_blocking(mut self) -> Result<()> {
        let held = self.held.take().expect("not yet released");
        held.release_blocking()
    }

    /// `Drop` for the blocking API: waits for the release.
    pub(crate) fn drop_blocking(mut self) {
        if let Some(held) = self.held.take() {
            let names = held.mutex.spec.names.clone();
            log_release_error(&names, held.release_blocking());
        }
    }
}

impl Held {
    async fn release(&self, via: &Via) -> Result<()> {
        if let Some(renewal) = &self.renewal {
            renewal.cancel();
        }
        let mutex = &self.mutex;
        let backend = &mutex.client.server.backend;
        let keys = &mutex.spec.keys;
        let released = backend
            .release_held(keys, &self.token, via, self.queued)
            .await?;
        self.released(released)
    }

    /// Concludes a release that found `released` of the lock's keys still ours.
    fn released(&self, released: usize) -> Result<()> {
        let mutex = &self.mutex;
        observe::released(&mutex.spec.names, self.acquired.elapsed());
        if released == mutex.spec.keys.keys.len() {
            tracing::debug!(lock = %mutex.spec.names, "released");
            Ok(())
        } else {
            if !self.lease.is_marked_lost() {
                observe::lost(&mutex.spec.names);
            }
            self.lease.mark_lost();
            tracing::warn!(lock = %mutex.spec.names, "released a lock that was no longer held: its lease had run out or another owner had taken it");
            Err(Error::Lost {
                names: mutex.spec.names.clone(),
            })
        }
    }

    /// Releases in the calling task over `local`, the caller runtime's connection. A broken
    /// connection (its runtime is going away, say) sends the release again through the crate
    /// runtime, and so does a caller that stops waiting before the reply: the lock is released
    /// whatever happens to this future.
    async fn release_here(self, local: Local) -> Result<()> {
        let mut unfinished = Unfinished(Some(self));
        let Some(held) = &unfinished.0 else {
            unreachable!("just set")
        };
        let backend = &held.mutex.client.server.backend;
        match held.release(&Via::Local(local.clone())).await {
            Err(error) if error.is_broken_connection() => {
                backend.local_failed(&local);
                let held = unfinished.0.take().expect("still here");
                runtime::run(held.release_again()).await
            }
            done => {
                unfinished.0 = None;
                done
            }
        }
    }

    /// The blocking API's release: on the calling thread's connection, else through the crate
    /// runtime.
    fn release_blocking(self) -> Result<()> {
        if let Some(renewal) = &self.renewal {
            renewal.cancel();
        }
        let mutex = &self.mutex;
        let backend = &mutex.client.server.backend;
        match backend.release_on_thread(&mutex.spec.keys, &self.token, self.queued) {
            Some(Ok(released)) => self.released(released),
            Some(Err(error)) if error.is_broken_connection() => {
                runtime::block_on(self.release_again())
            }
            Some(Err(error)) => Err(error),
            None => runtime::block_on(async move { self.release(&Via::Shared).await }),
        }
    }

    /// The release again, on the shared connection, after one on another connection that broke
    /// before its reply. That one may have reached Redis: a key found gone is then what the
    /// caller asked for, not a lost lock.
    async fn release_again(self) -> Result<()> {
        let keys = &self.mutex.spec.keys;
        let backend = &self.mutex.client.server.backend;
        match backend.release(keys, &self.token, &Via::Shared).await? {
            0 => Ok(()),
            released => self.released(released),
        }
    }

    async fn release_logged(self) {
        let names = self.mutex.spec.names.clone();
        log_release_error(&names, self.release(&Via::Shared).await);
    }
}

/// Logs a failed release of a dropped guard (a lost lock is logged where it is found).
fn log_release_error(names: &LockNames, result: Result<()>) {
    if let Err(error) = result
        && !error.is_lost()
    {
        tracing::warn!(lock = %names, %error, "releasing a dropped guard failed; the lock frees itself when its lease runs out");
    }
}

/// A release under way in a caller's task: if the caller stops waiting before it is done, the
/// release is sent again from the crate runtime (a release that finds the key gone or someone
/// else's changes nothing).
struct Unfinished(Option<Held>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(held) = self.0.take() {
            runtime::spawn_detached(held.release_logged());
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            runtime::spawn_detached(held.release_logged());
        }
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.held {
            Some(held) => f
                .debug_struct("Guard")
                .field("names", held.mutex.names())
                .field("server", &held.mutex.client.server())
                .field("remaining", &held.lease.remaining())
                .field("fencing_tokens", &held.fences)
                .finish_non_exhaustive(),
            None => f.write_str("Guard(released)"),
        }
    }
}

/// Extends the lease of `token` to `ttl`, updating `lease`.
async fn extend(mutex: &Mutex, token: &str, lease: &Lease, ttl: Duration) -> Result<()> {
    let keys = &mutex.spec.keys;
    let sent = Instant::now();
    let extended = mutex.client.server.backend.extend(keys, token, ttl).await?;
    if extended == keys.keys.len() {
        lease.renewed(sent, ttl);
        Ok(())
    } else {
        lease.mark_lost();
        observe::lost(&mutex.spec.names);
        tracing::warn!(lock = %mutex.spec.names, "lock lost: its key is gone or holds another owner's token");
        Err(Error::Lost {
            names: mutex.spec.names.clone(),
        })
    }
}

/// The watchdog: renews the lease once a third of it is used up, until aborted or the lock is
/// lost (or, without `keep_renewing`, after the first renewal, which claims a handed-over lock).
/// After a failed renewal it retries at a quarter of what is left of the lease.
/// How long from now a lease of `lease_len` is renewed: a third into it.
fn first_renewal(lease: &Lease, lease_len: Duration) -> Duration {
    lease.remaining().saturating_sub(lease_len * 2 / 3)
}

async fn renew(
    mutex: Mutex,
    token: Arc<str>,
    lease: Arc<Lease>,
    mut lease_len: Duration,
    keep_renewing: bool,
) {
    let ttl = mutex.settings.ttl;
    let mut retrying = false;
    loop {
        let wait = if retrying {
            (lease.remaining() / 4).max(Duration::from_millis(10))
        } else {
            first_renewal(&lease, lease_len)
        };
        tokio::time::sleep(wait).await;
        match extend(&mutex, &token, &lease, ttl).await {
            Ok(()) => {
                retrying = false;
                lease_len = ttl;
                observe::renewed(&mutex.spec.names);
                tracing::trace!("renewed");
                if !keep_renewing {
                    return;
                }
            }
            Err(error) if error.is_lost() => return,
            Err(error) => {
                if lease.remaining().is_zero() {
                    lease.mark_lost();
                    observe::lost(&mutex.spec.names);
                    tracing::warn!(%error, "lock lost: its lease ran out while renewals failed");
                    return;
                }
                retrying = true;
                tracing::debug!(%error, "renewal failed; retrying while the lease lasts");
            }
        }
    }
}
