//! [`Mutex`]: a named distributed lock, and how it is acquired.

use std::fmt;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use crate::backend::{BoxFuture, Local, Via, WaitAttempt, Wake};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::guard::Guard;
use crate::names::{IntoLockNames, LockNames};
use crate::observe;
use crate::protocol::{self, Attempt, KeySet};
use crate::queue::Line;
use crate::runtime;

/// A distributed lock over one name, or over several names taken all-or-nothing.
///
/// A `Mutex` is a cheap, cloneable description: creating one sends nothing to Redis. Acquiring it
/// returns a [`Guard`]; the lock is held until the guard is released or dropped, or its lease
/// runs out (by default the lease is renewed while the guard lives).
///
/// # What it guarantees
///
/// * **Exclusion while the lease lasts.** The lock key holds a fresh random token per
///   acquisition; only that token's holder can release or extend it, so a holder whose lease ran
///   out can never delete its successor's key.
/// * **Crash safety.** A holder that dies frees the lock when its lease runs out (the TTL).
/// * **All-or-nothing multi-name locks, without deadlock.** A guard holds every name or none.
///   Waiters join the queue of every name in one atomic step, so all waiters stand in the same
///   order in every queue and `["a", "b"]` and `["b", "a"]` never wait for each other.
/// * **Fair, prompt hand-over.** Waiters queue in Redis, first come first served (a waiter for
///   several names too, without ever deadlocking); a release hands the lock to the next live
///   waiter and tells it over pub/sub. A hand-over is acted on only while it is current, so a
///   paused or slow waiter never takes a lock that went to someone else meanwhile. Waiters also
///   re-check every [`max_poll_interval`](crate::ClientBuilder::max_poll_interval), and at
///   the expiry of a holder that is not of this crate (such as the Python original's, which
///   never announces its release).
///
/// Like every lease-based lock, it cannot stop a paused holder (a long GC pause, a stopped VM)
/// from acting after its lease ran out. Where that matters, turn on
/// [fencing tokens](Mutex::with_fencing) and have the protected resource reject stale ones.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> redis_mutex::Result<()> {
/// let client = redis_mutex::Client::from_env()?;
/// let orders = client.mutex("orders")?;
///
/// let guard = orders.lock().await?;
/// // ... only one process in the whole deployment runs this at a time ...
/// guard.release().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Mutex {
    pub(crate) client: Client,
    pub(crate) spec: Arc<Spec>,
    pub(crate) settings: Settings,
}

/// What identifies the lock: its names and the Redis names derived from them.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) names: LockNames,
    pub(crate) keys: KeySet,
    pub(crate) line: Arc<Line>,
    /// Whether this lock's latest waiting acquisition found it taken at its first attempt: the
    /// next one then joins the Redis queue at once instead of trying a plain `SET NX` first.
    pub(crate) contended: AtomicBool,
}

/// How the lock is taken and held.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) ttl: Duration,
    pub(crate) wait: Option<Duration>,
    pub(crate) renewal: bool,
    pub(crate) fencing: bool,
}

/// How long an acquisition may wait.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Patience {
    Once,
    Until(Instant),
    Forever,
}

impl Patience {
    /// Until `wait` from now; forever when that instant is past what the clock can represent
    /// (`Duration::MAX`), rather than panicking on the overflow.
    pub(crate) fn within(wait: Duration) -> Patience {
        Instant::now()
            .checked_add(wait)
            .map_or(Patience::Forever, Patience::Until)
    }

    /// Until `deadline`.
    pub(crate) fn until(deadline: std::time::Instant) -> Patience {
        Patience::Until(Instant::from_std(deadline))
    }
}

impl Mutex {
    pub(crate) fn new(client: Client, names: impl IntoLockNames) -> Result<Mutex> {
        let names = LockNames::new(names)?;
        let keys = KeySet::new(&client.options.prefix, names.as_slice())?;
        let line = client.server.queues.line(&keys.keys);
        let settings = Settings {
            ttl: client.options.ttl,
            wait: client.options.wait,
            renewal: client.options.renewal,
            fencing: client.options.fencing,
        };
        Ok(Mutex {
            client,
            spec: Arc::new(Spec {
                names,
                keys,
                line,
                contended: AtomicBool::new(false),
            }),
            settings,
        })
    }

    /// The same lock with a lease of `ttl` instead of the client's default.
    ///
    /// The only fallible `with_*` method, by design: a TTL is the only setting of a lock that
    /// can be invalid, so it is checked here, where the bad value is given, rather than at
    /// every `lock()`. [`with_wait`](Mutex::with_wait), [`with_renewal`](Mutex::with_renewal)
    /// and [`with_fencing`](Mutex::with_fencing) accept any value and return the lock itself.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTtl`] when `ttl` is under [`MIN_TTL`](crate::MIN_TTL) or above what Redis
    /// accepts.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # let client = redis_mutex::Client::open("redis://127.0.0.1/")?;
    /// let m = client.mutex("report")?.with_ttl(Duration::from_secs(5))?;
    /// assert_eq!(m.ttl(), Duration::from_secs(5));
    /// assert!(m.with_ttl(Duration::ZERO).unwrap_err().is_invalid_input());
    /// # Ok::<(), redis_mutex::Error>(())
    /// ```
    pub fn with_ttl(mut self, ttl: Duration) -> Result<Mutex> {
        self.settings.ttl = protocol::validate_ttl(ttl)?;
        Ok(self)
    }

    /// The same lock whose [`lock`](Mutex::lock) waits at most `wait` (`None`: forever).
    pub fn with_wait(mut self, wait: Option<Duration>) -> Mutex {
        self.settings.wait = wait;
        self
    }

    /// The same lock with automatic lease renewal on or off.
    ///
    /// With renewal on (the default), a guard renews its lease every third of the TTL for as long
    /// as it lives, so the TTL only bounds how long a *crashed* holder blocks others. With renewal
    /// off, the lease ends after the TTL whatever the holder is doing.
    pub fn with_renewal(mut self, renewal: bool) -> Mutex {
        self.settings.renewal = renewal;
        self
    }

    /// The same lock handing out fencing tokens (or not).
    ///
    /// A fencing token is a number, strictly increasing per name across all holders, taken in the
    /// same round trip as the lock. Pass it to the storage you protect and have it reject any
    /// token lower than one it has seen: a holder that was paused past its lease is then stopped
    /// at the storage. See [`Guard::fencing_token`].
    pub fn with_fencing(mut self, fencing: bool) -> Mutex {
        self.settings.fencing = fencing;
        self
    }

    /// The lock's names, sorted and without duplicates.
    pub fn names(&self) -> &LockNames {
        &self.spec.names
    }

    /// The Redis keys of the lock (prefix + name), in name order.
    pub fn keys(&self) -> &[String] {
        &self.spec.keys.keys
    }

    /// The lease time to live.
    pub fn ttl(&self) -> Duration {
        self.settings.ttl
    }

    /// The client this lock belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Acquires the lock, waiting as long as needed (or as long as the configured
    /// [`wait`](crate::ClientBuilder::wait)).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when a configured wait runs out; [`Error::Unreachable`],
    /// [`Error::Refused`] or [`Error::WrongType`] from Redis.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future at any point (in `select!`, under `timeout`) never
    /// leaves the lock held. An attempt already sent is cleaned up with its token, and a lock
    /// acquired after the caller stopped waiting is released at once.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(m: redis_mutex::Mutex) -> redis_mutex::Result<()> {
    /// let guard = m.lock().await?;
    /// assert!(guard.is_held());
    /// # Ok(()) }
    /// ```
    pub async fn lock(&self) -> Result<Guard> {
        self.acquire(self.patience()).await
    }

    /// How long [`lock`](Mutex::lock) waits, from now.
    pub(crate) fn patience(&self) -> Patience {
        match self.settings.wait {
            Some(wait) => Patience::within(wait),
            None => Patience::Forever,
        }
    }

    /// Makes one attempt to acquire the lock (the Python original's `acquire(blocking=False)`).
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] when someone else holds it; Redis errors as for [`lock`](Mutex::lock).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`lock`](Mutex::lock).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(m: redis_mutex::Mutex) -> redis_mutex::Result<()> {
    /// match m.try_lock().await {
    ///     Ok(guard) => { /* do the work */ guard.release().await?; }
    ///     Err(e) if e.is_busy() => { /* someone else is on it */ }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn try_lock(&self) -> Result<Guard> {
        self.acquire(Patience::Once).await
    }

    /// Acquires the lock, waiting at most `wait`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when `wait` runs out; Redis errors as for [`lock`](Mutex::lock).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`lock`](Mutex::lock).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(m: redis_mutex::Mutex) -> redis_mutex::Result<()> {
    /// use std::time::Duration;
    /// let guard = m.try_lock_for(Duration::from_secs(2)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn try_lock_for(&self, wait: Duration) -> Result<Guard> {
        self.acquire(Patience::within(wait)).await
    }

    /// Acquires the lock, waiting at most until `deadline`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when `deadline` passes; Redis errors as for [`lock`](Mutex::lock).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`lock`](Mutex::lock).
    pub async fn try_lock_until(&self, deadline: std::time::Instant) -> Result<Guard> {
        self.acquire(Patience::until(deadline)).await
    }

    /// Whether anyone holds any of the lock's names right now, as Redis says (by the time the
    /// answer arrives it may have changed: use it for monitoring, not to decide whether to
    /// lock; [`try_lock`](Mutex::try_lock) is the atomic way).
    ///
    /// # Errors
    ///
    /// [`Error::WrongType`] when a key holds a non-string value; [`Error::Unreachable`],
    /// [`Error::Refused`] from Redis.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(m: redis_mutex::Mutex) -> redis_mutex::Result<()> {
    /// if m.is_locked().await? {
    ///     println!("{} is busy", m.names());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn is_locked(&self) -> Result<bool> {
        let this = self.clone();
        runtime::run(async move {
            let holders = this.client.server.backend.holders(&this.spec.keys).await?;
            Ok(holders.iter().any(Option::is_some))
        })
        .await
    }

    fn span(&self) -> tracing::Span {
        tracing::debug_span!(
            "redis_mutex::acquire",
            lock = %self.spec.names,
            server = %self.client.server()
        )
    }

    async fn acquire(&self, patience: Patience) -> Result<Guard> {
        let span = self.span();
        // The uncontended path runs in the caller's task when its runtime has a connection of
        // its own, and so does waiting behind this process's earlier waiters; everything past
        // a busy first attempt runs on the crate runtime.
        runtime::check()?;
        let local = self.client.server.backend.local();
        // Boxed, so that a caller's `lock()` future stays small (thousands may wait at once).
        let fast = Box::pin(self.acquire_fast(patience, local))
            .instrument(span.clone())
            .await;
        let resume = match fast.resume() {
            ControlFlow::Continue(resume) => resume,
            ControlFlow::Break(done) => return done,
        };
        let this = self.clone();
        runtime::run_cancellable(
            async move { this.acquire_here(patience, resume).await }.instrument(span),
        )
        .await
    }

    /// The blocking API's acquisition: its first attempt on the calling thread's own
    /// connection, anything more on the crate runtime.
    pub(crate) fn acquire_blocking(&self, patience: Patience) -> Result<Guard> {
        runtime::check()?;
        let span = self.span();
        let resume = match span
            .in_scope(|| self.acquire_fast_blocking(patience))
            .resume()
        {
            ControlFlow::Continue(resume) => resume,
            ControlFlow::Break(done) => return done,
        };
        let this = self.clone();
        runtime::block_on(async move { this.acquire_here(patience, resume).await }.instrument(span))
    }

    /// Where a first attempt outside the crate runtime starts: `None` when it should not be
    /// made (someone of this process is in line: wait behind them; or the lock is contended:
    /// queue at once), else this process's line for the lock, held.
    fn fast_turn(&self, once: bool) -> Option<Option<tokio::sync::OwnedMutexGuard<()>>> {
        let turn = match self.client.options.local_queue && !once {
            true => Some(self.spec.line.clone().try_lock_owned().ok()?),
            false => None,
        };
        (once || !self.spec.contended.load(Ordering::Relaxed)).then_some(turn)
    }

    /// What a first attempt outside the crate runtime comes to. `broken` is told when the
    /// attempt's connection broke (the attempt's clean-up is on its way: the acquisition
    /// starts over, with another token, on the crate runtime).
    fn fast_outcome(
        &self,
        result: Result<Option<Guard>>,
        once: bool,
        resume: Resume,
        broken: impl FnOnce(),
    ) -> Fast {
        if let Err(error) = &result
            && error.is_broken_connection()
        {
            broken();
            return Fast::NotTried;
        }
        match self.first_attempt_outcome(result, once) {
            ControlFlow::Break(done) => Fast::Done(done),
            ControlFlow::Continue(()) => Fast::Wait(resume),
        }
    }

    /// What a plain first attempt (`SET NX`, or the all-or-nothing script) comes to: the
    /// acquisition's end (acquired, failed, or busy for a caller that does not wait), or, for a
    /// caller that waits, the lock noted as contended and the wait ahead.
    fn first_attempt_outcome(
        &self,
        result: Result<Option<Guard>>,
        once: bool,
    ) -> ControlFlow<Result<Guard>> {
        match result {
            Ok(Some(guard)) => ControlFlow::Break(Ok(guard)),
            Ok(None) => {
                observe::contended(&self.spec.names);
                if once {
                    return ControlFlow::Break(Err(Error::Busy {
                        names: self.spec.names.clone(),
                    }));
                }
                self.spec.contended.store(true, Ordering::Relaxed);
                ControlFlow::Continue(())
            }
            Err(error) => ControlFlow::Break(Err(error)),
        }
    }

    /// The first attempt, in the caller's task over its runtime's connection `local` (none:
    /// no attempt here, only the wait in this process's line).
    async fn acquire_fast(&self, patience: Patience, local: Option<Local>) -> Fast {
        let once = matches!(patience, Patience::Once);
        let Some(turn) = self.fast_turn(once) else {
            if matches!(patience, Patience::Forever) && self.client.options.local_queue {
                // Wait for this process's earlier waiters here, not in a task on the crate
                // runtime: thousands of waiters then cost the crate runtime nothing. (A bounded
                // wait needs a timer, which the caller's runtime may not have.)
                let started = Instant::now();
                let turn = self.spec.line.clone().lock_owned().await;
                return Fast::Wait(Resume {
                    turn: Some(turn),
                    started,
                    contended: self.spec.contended.load(Ordering::Relaxed),
                });
            }
            return Fast::NotTried;
        };
        let Some(local) = local else {
            return Fast::NotTried;
        };
        let started = Instant::now();
        let token: Arc<str> = protocol::new_token().into();
        let via = Via::Local(local.clone());
        let result = self.attempt(&token, started, once, &via).await;
        let resume = Resume {
            turn,
            started,
            contended: false,
        };
        self.fast_outcome(result, once, resume, || {
            self.client.server.backend.local_failed(&local);
        })
    }

    /// The first attempt of the blocking API, on the calling thread's connection.
    fn acquire_fast_blocking(&self, patience: Patience) -> Fast {
        let once = matches!(patience, Patience::Once);
        let Some(turn) = self.fast_turn(once) else {
            return Fast::NotTried;
        };
        let started = Instant::now();
        let token: Arc<str> = protocol::new_token().into();
        let backend = &self.client.server.backend;
        let sent = Instant::now();
        let settings = &self.settings;
        let Some(attempt) = backend.acquire_on_thread(
            &self.spec.keys,
            &token,
            settings.ttl,
            settings.fencing,
            once,
        ) else {
            return Fast::NotTried;
        };
        // A failed attempt may have set the key: clean up (its connection is closed now).
        let cleanup = Cleanup {
            mutex: Some(self.clone()),
            token: token.clone(),
            after: After::Closed,
        };
        let result = attempt.map(|attempt| match attempt {
            Attempt::Acquired { fences } => Some(self.acquired(
                cleanup,
                &token,
                fences,
                (sent, settings.ttl),
                started,
                false,
            )),
            Attempt::Busy { .. } => None,
        });
        let resume = Resume {
            turn,
            started,
            contended: false,
        };
        self.fast_outcome(result, once, resume, || {})
    }

    /// The acquisition, on the crate runtime; `resume` when a first attempt outside it found the
    /// lock taken, or the caller waited in this process's line.
    async fn acquire_here(&self, patience: Patience, resume: Option<Resume>) -> Result<Guard> {
        let token: Arc<str> = protocol::new_token().into();
        let (started, _turn, contended) = match resume {
            Some(Resume {
                turn,
                started,
                contended,
            }) => (started, turn, contended),
            None => {
                let started = Instant::now();
                // Join this process's line for the lock: only its head contends in Redis. A
                // newcomer goes straight to Redis only when nobody here is waiting, so the
                // line stays fair.
                let once = matches!(patience, Patience::Once);
                let queued = self.client.options.local_queue && !once;
                let (turn, waited_in_line) = match queued {
                    false => (None, false),
                    true => match self.spec.line.clone().try_lock_owned() {
                        Ok(turn) => (Some(turn), false),
                        Err(_) => (Some(self.wait_turn(patience, started).await?), true),
                    },
                };

                // The plain first attempt. Skipped after waiting in line, when the lock was
                // just taken by the task ahead of us, and while the lock is contended (the
                // previous waiting acquisition found it taken): joining the Redis queue at once
                // (the wait script also takes a free lock) saves a round trip and lets the
                // holder's release hand the lock straight to us.
                let contended = !once && self.spec.contended.load(Ordering::Relaxed);
                if !waited_in_line && !contended {
                    let result = self.attempt(&token, started, once, &Via::Shared).await;
                    if let ControlFlow::Break(done) = self.first_attempt_outcome(result, once) {
                        return done;
                    }
                }
                (started, turn, contended)
            }
        };
        // Boxed: a task waiting in this process's line above weighs only what that needs.
        Box::pin(self.wait_queued(patience, token, started, contended)).await
    }

    /// The wait in the lock's queue in Redis, `contended` telling whether the lock counted as
    /// contended when no plain attempt was made.
    async fn wait_queued(
        &self,
        patience: Patience,
        token: Arc<str>,
        started: Instant,
        contended: bool,
    ) -> Result<Guard> {
        // From here until acquired, `token` may sit in the lock's queue in Redis, or be handed
        // the lock by a release: if this future is dropped or fails, take it out (and pass the
        // lock on, if it was handed to us meanwhile).
        let mut cleanup = Cleanup {
            mutex: Some(self.clone()),
            token: token.clone(),
            after: After::Sent(Via::Shared),
        };
        // Listen *before* the next attempt, so a release that lands in between still wakes us
        // (the notification leaves a permit). Registering is local and immediate; Redis'
        // confirmation is awaited within the wait's bound (and at most the connect plus the
        // response timeout), and without it the wait goes on by polling.
        let backend = &self.client.server.backend;
        let mut subscription = backend.subscribe(&self.spec.keys, token.clone());
        let confirmed = match patience {
            Patience::Until(deadline) => {
                tokio::time::timeout_at(deadline, subscription.confirmed()).await
            }
            _ => Ok(subscription.confirmed().await),
        };
        if let Ok(Err(error)) = confirmed {
            tracing::debug!(%error, "waiting without release notifications for now");
        }
        let max_poll = self.client.options.max_poll_interval;
        // A queue entry lapses unless refreshed, so a waiter that died leaves the queue within
        // `queue_entry`; a hand-over to it holds the lock up no longer than that either.
        let queue_entry = (max_poll * 3).max(Duration::from_secs(1));
        let mut wait = WaitAttempt {
            queue_entry,
            claim: queue_entry.min(self.settings.ttl),
            number: 0,
        };
        loop {
            wait.number += 1;
            let sent = Instant::now();
            let attempt = backend
                .wait_attempt(
                    &self.spec.keys,
                    &token,
                    self.settings.ttl,
                    self.settings.fencing,
                    wait,
                )
                .await?;
            if wait.number == 1 && contended {
                // The first attempt of an acquisition that skipped the fast path: it says
                // whether the lock is still contended.
                let busy = matches!(attempt, Attempt::Busy { .. });
                self.spec.contended.store(busy, Ordering::Relaxed);
                if busy {
                    observe::contended(&self.spec.names);
                }
            }
            let pttl = match attempt {
                Attempt::Acquired { fences } => {
                    let lease = self.settings.ttl;
                    return Ok(self.acquired(
                        cleanup,
                        &token,
                        fences,
                        (sent, lease),
                        started,
                        true,
                    ));
                }
                Attempt::Busy { pttl } => pttl,
            };
            // Sleep until the holder's lease runs out at the latest (it may have crashed, or be
            // a client that does not announce releases), bounded by `max_poll`.
            let mut nap = pttl.unwrap_or(max_poll).min(max_poll);
            if let Patience::Until(deadline) = patience {
                let now = Instant::now();
                if now >= deadline {
                    // Out of the queue before returning, so that what the caller does next (a
                    // release on a connection of its own, say) cannot reach Redis before it.
                    cleanup.finish().await;
                    return Err(Error::Timeout {
                        names: self.spec.names.clone(),
                        waited: now - started,
                    });
                }
                nap = nap.min(deadline - now);
            }
            tracing::trace!(?nap, "waiting for a release");
            let wake = tokio::select! {
                wake = subscription.wait() => Some(wake),
                () = tokio::time::sleep(nap) => None,
            };
            // A hand-over is acted on only when it names this round's attempt: the release then
            // ran after that attempt, so the handed lease (`claim`) lasts at least until
            // `sent + claim`. Take it while that bound is recent; the guard extends it to the
            // full lease in the background, a third into it. A grant naming an earlier attempt
            // is stale (the handed lease may have lapsed and the lock changed hands since), and
            // a grant seen late may be about to lapse: then the next attempt claims the lock if
            // it is still ours, and otherwise waits on.
            if let Some(Wake::Granted(grant)) = wake
                && self.spec.keys.keys.len() == 1
                && grant.attempt == wait.number
                && sent.elapsed() < wait.claim / 2
            {
                let mut lease = (sent, wait.claim);
                // A backend that confirms every acquisition (Sentinel with replica
                // acknowledgements: `WAIT`) confirms a hand-over too; the others return no
                // confirmation, and the grant is taken without a round trip. The confirmation
                // is sent with at least half the claim window left, and first claims the lock:
                // it restarts the lease at `ttl` only if the key still holds our token, in one
                // atomic step on the server. So however long the confirmation then takes (up
                // to the backend's own timeout, such as `replica_acks`' for `WAIT`), it cannot
                // eat into the claim window: once claimed, the lock is ours for `ttl` from no
                // earlier than the confirmation's start, which is the lease the guard starts
                // with (as on a first attempt, whose confirmation takes from its lease
                // likewise). Checking the claim window again after the confirmation is thus
                // unneeded. Should the claim reach the server after the handed lease lapsed (a
                // round trip longer than half the window), the key is no longer ours and
                // nothing was changed: the next attempt queues again (the hand-over took us
                // out of the queue), or takes the lock if free. A failed
                // confirmation fails the acquisition as a failed first attempt does, and the
                // lock, claimed or not, is released before the error is returned, so that
                // the caller never holds it.
                if let Some(confirmation) =
                    backend.confirm_grant(&self.spec.keys, &token, self.settings.ttl)
                {
                    // Boxed, so that the waiting future of the backends that confirm nothing
                    // stays as small as it was.
                    let (kept, confirmed) = Box::pin(confirm_grant(confirmation, cleanup)).await?;
                    cleanup = kept;
                    match confirmed {
                        Some(confirming) => lease = (confirming, self.settings.ttl),
                        None => continue,
                    }
                }
                let fences = grant.fence.into_iter().collect();
                return Ok(self.acquired(cleanup, &token, fences, lease, started, true));
            }
        }
    }

    /// Wraps up a successful acquisition whose lease of `lease.1` began no earlier than
    /// `lease.0`; `queued` when it went through the Redis queue (others likely wait too).
    fn acquired(
        &self,
        cleanup: Cleanup,
        token: &Arc<str>,
        fences: Vec<u64>,
        lease: (Instant, Duration),
        started: Instant,
        queued: bool,
    ) -> Guard {
        cleanup.disarm();
        observe::acquired(&self.spec.names, started.elapsed());
        Guard::new(self.clone(), token.clone(), fences, lease, queued)
    }

    /// Waits for this process's earlier waiters on the same lock.
    async fn wait_turn(
        &self,
        patience: Patience,
        started: Instant,
    ) -> Result<tokio::sync::OwnedMutexGuard<()>> {
        let line = self.spec.line.clone();
        match patience {
            Patience::Until(deadline) => tokio::time::timeout_at(deadline, line.lock_owned())
                .await
                .map_err(|_| Error::Timeout {
                    names: self.spec.names.clone(),
                    waited: started.elapsed(),
                }),
            _ => Ok(line.lock_owned().await),
        }
    }

    /// The first attempt: `SET NX` for one name, the all-or-nothing script for several.
    async fn attempt(
        &self,
        token: &Arc<str>,
        started: Instant,
        probe: bool,
        via: &Via,
    ) -> Result<Option<Guard>> {
        let backend = &self.client.server.backend;
        let sent = Instant::now();
        // Until the reply is in, the key may or may not be ours: clean up if this future is
        // dropped or the reply is an error.
        let cleanup = Cleanup {
            mutex: Some(self.clone()),
            token: token.clone(),
            after: After::Sent(via.clone()),
        };
        let attempt = backend
            .acquire(
                &self.spec.keys,
                token,
                self.settings.ttl,
                self.settings.fencing,
                probe,
                via,
            )
            .await?;
        Ok(match attempt {
            Attempt::Acquired { fences } => Some(self.acquired(
                cleanup,
                token,
                fences,
                (sent, self.settings.ttl),
                started,
                false,
            )),
            Attempt::Busy { .. } => {
                cleanup.disarm();
                None
            }
        })
    }
}

impl fmt::Debug for Mutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("names", &self.spec.names)
            .field("server", &self.client.server())
            .field("ttl", &self.settings.ttl)
            .field("wait", &self.settings.wait)
            .field("renewal", &self.settings.renewal)
            .field("fencing", &self.settings.fencing)
            .finish()
    }
}

/// How the first attempt outside the crate runtime went.
enum Fast {
    /// Acquired, or failed for good.
    Done(Result<Guard>),
    /// The lock is taken, or was just taken by the waiter ahead of us in this process: wait on
    /// the crate runtime, keeping our place in this process's line.
    Wait(Resume),
    /// Not tried, or tried over a connection that broke: start over on the crate runtime.
    NotTried,
}

impl Fast {
    /// Where the acquisition goes on from on the crate runtime, or how it ended.
    fn resume(self) -> ControlFlow<Result<Guard>, Option<Resume>> {
        match self {
            Fast::Done(result) => ControlFlow::Break(result),
            Fast::Wait(resume) => ControlFlow::Continue(Some(resume)),
            Fast::NotTried => ControlFlow::Continue(None),
        }
    }
}

/// Where a waiting acquisition picks up after a first attempt that found the lock taken, or
/// after waiting in this process's line (its first attempt is then skipped).
struct Resume {
    turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    started: Instant,
    /// Whether the lock counted as contended, when no attempt was made.
    contended: bool,
}

/// Awaits the `confirmation` of a hand-over (see [`Backend::confirm_grant`]), whose waiter's
/// clean-up is `cleanup`. Gives `cleanup` back, with when the confirmation started when the
/// lock is ours (with a lease of the full TTL from then), or with `None` when it is no longer
/// ours. On an error, cleans up (releasing the lock) before returning it.
///
/// [`Backend::confirm_grant`]: crate::backend::Backend::confirm_grant
async fn confirm_grant(
    confirmation: BoxFuture<'_, Result<bool>>,
    cleanup: Cleanup,
) -> Result<(Cleanup, Option<Instant>)> {
    let confirming = Instant::now();
    match confirmation.await {
        Ok(true) => Ok((cleanup, Some(confirming))),
        Ok(false) => Ok((cleanup, None)),
        Err(error) => {
            cleanup.finish().await;
            Err(error)
        }
    }
}

/// Releases an in-flight attempt's token unless disarmed.
///
/// The release goes on the attempt's own connection, so it reaches Redis after the attempt and
/// cannot be overtaken by it. When that connection is gone (closed after an error, or its
/// runtime shut down: the attempt was written, or never will be), the release goes on the
/// shared connection, and once more a moment later, for an attempt still on its way to Redis.
struct Cleanup {
    mutex: Option<Mutex>,
    token: Arc<str>,
    after: After,
}

/// Where the attempt a [`Cleanup`] follows went.
enum After {
    /// On this connection, which may still be open.
    Sent(Via),
    /// On a connection closed since.
    Closed,
}

/// How long after a clean-up on another connection than its attempt's the clean-up is repeated.
const CLEANUP_REPEAT: Duration = Duration::from_secs(1);

impl Cleanup {
    fn disarm(mut self) {
        self.mutex = None;
    }
}

impl Cleanup {
    /// Cleans up now, waiting until it is done.
    async fn finish(mut self) {
        if let Some(mutex) = self.mutex.take() {
            clean_up(mutex, self.token.clone(), self.sent_on()).await;
        }
    }

    /// The connection the attempt went on, if still usable.
    fn sent_on(&self) -> Option<Via> {
        match &self.after {
            After::Sent(via) => Some(via.clone()),
            After::Closed => None,
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mutex) = self.mutex.take() {
            runtime::spawn_detached(clean_up(mutex, self.token.clone(), self.sent_on()));
        }
    }
}

/// Takes `token` out of `mutex`'s keys and queues, after an attempt sent on `sent_on` (`None`:
/// on a connection closed since).
async fn clean_up(mutex: Mutex, token: Arc<str>, sent_on: Option<Via>) {
    let backend = &mutex.client.server.backend;
    let keys = &mutex.spec.keys;
    let result = match &sent_on {
        Some(via) => backend.release(keys, &token, via).await,
        None => Err(Error::unreachable(
            backend.server(),
            std::io::ErrorKind::NotConnected,
            "the attempt's connection is closed",
        )),
    };
    let result = match (result, &sent_on) {
        (Err(error), Some(Via::Shared)) => Err(error),
        (Err(error), _) if error.is_connection() => {
            if let Some(Via::Local(local)) = &sent_on {
                backend.local_failed(local);
            }
            let first = backend.release(keys, &token, &Via::Shared).await;
            tokio::time::sleep(CLEANUP_REPEAT).await;
            first.and(backend.release(keys, &token, &Via::Shared).await)
        }
        (result, _) => result,
    };
    if let Err(error) = result {
        tracing::debug!(%error, lock = %mutex.spec.names, "cleanup of an interrupted attempt failed; the key expires with its TTL");
    }
}
