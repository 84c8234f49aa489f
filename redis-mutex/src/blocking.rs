//! The blocking API: the same client, locks and guards for plain threads.
//!
//! An uncontended lock and its release run on the calling thread, over a connection of its own
//! (one per thread and server, closed when the thread exits); waiting and anything else is
//! handed to the crate's runtime thread while the calling thread parks. It needs no runtime
//! from the caller and does not panic when called from inside one (it then blocks that
//! runtime's worker thread for the duration, as any blocking call would; in async code prefer
//! the async API).
//!
//! # Examples
//!
//! ```no_run
//! use redis_mutex::blocking::Client;
//!
//! let client = Client::open("redis://127.0.0.1/")?;
//! let orders = client.mutex("orders")?;
//! {
//!     let _guard = orders.lock()?;
//!     // ... exclusive work ...
//! } // released here, and the release has completed when `drop` returns
//! # Ok::<(), redis_mutex::Error>(())
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::lock::Patience;
use crate::names::{IntoLockNames, LockNames};
use crate::runtime;

/// The blocking twin of [`crate::Client`]. Cheap to clone; shares connections with async
/// clients of the same URL.
#[derive(Clone, Debug)]
pub struct Client {
    inner: crate::Client,
}

impl Client {
    /// See [`crate::Client::open`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`](crate::Error::InvalidUrl) when `url` cannot be parsed.
    pub fn open(url: &str) -> Result<Client> {
        crate::Client::open(url).map(Client::from)
    }

    /// A builder for a blocking client of `url` with non-default options: the same
    /// [`ClientBuilder`](crate::ClientBuilder) as the async client's, finished with
    /// [`build_blocking`](crate::ClientBuilder::build_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let client = redis_mutex::blocking::Client::builder("redis://127.0.0.1/")
    ///     .ttl(Duration::from_secs(10))
    ///     .build_blocking()?;
    /// assert_eq!(client.ttl(), Duration::from_secs(10));
    /// # Ok::<(), redis_mutex::Error>(())
    /// ```
    pub fn builder(url: impl Into<String>) -> crate::ClientBuilder {
        crate::Client::builder(url)
    }

    /// See [`crate::Client::from_env`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`](crate::Error::InvalidUrl) when the URL cannot be parsed.
    pub fn from_env() -> Result<Client> {
        crate::Client::from_env().map(Client::from)
    }

    /// See [`crate::Client::mutex`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`](crate::Error::InvalidName) when there is no name or one is empty.
    pub fn mutex(&self, names: impl IntoLockNames) -> Result<Mutex> {
        self.inner.mutex(names).map(Mutex::from)
    }

    /// The async client this one wraps.
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// The server address, password redacted.
    pub fn server(&self) -> &str {
        self.inner.server()
    }

    /// See [`crate::Client::prefix`].
    pub fn prefix(&self) -> &str {
        self.inner.prefix()
    }

    /// See [`crate::Client::ttl`].
    pub fn ttl(&self) -> Duration {
        self.inner.ttl()
    }
}

impl From<crate::Client> for Client {
    fn from(inner: crate::Client) -> Self {
        Client { inner }
    }
}

/// The blocking twin of [`crate::Mutex`].
#[derive(Clone)]
pub struct Mutex {
    inner: crate::Mutex,
}

impl From<crate::Mutex> for Mutex {
    fn from(inner: crate::Mutex) -> Self {
        Mutex { inner }
    }
}

impl fmt::Debug for Mutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl Mutex {
    fn acquire(&self, patience: Patience) -> Result<Guard> {
        self.inner.acquire_blocking(patience).map(Guard::from)
    }

    /// Acquires the lock, waiting as long as needed (or the configured wait).
    /// See [`crate::Mutex::lock`].
    ///
    /// # Errors
    ///
    /// As [`crate::Mutex::lock`].
    pub fn lock(&self) -> Result<Guard> {
        self.acquire(self.inner.patience())
    }

    /// One attempt. See [`crate::Mutex::try_lock`].
    ///
    /// # Errors
    ///
    /// [`Error::Busy`](crate::Error::Busy) when the lock is held elsewhere; as
    /// [`crate::Mutex::try_lock`].
    pub fn try_lock(&self) -> Result<Guard> {
        self.acquire(Patience::Once)
    }

    /// Waits at most `wait`. See [`crate::Mutex::try_lock_for`].
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`](crate::Error::Timeout) when the wait runs out; as
    /// [`crate::Mutex::try_lock_for`].
    pub fn try_lock_for(&self, wait: Duration) -> Result<Guard> {
        self.acquire(Patience::within(wait))
    }

    /// Waits at most until `deadline`. See [`crate::Mutex::try_lock_until`].
    ///
    /// # Errors
    ///
    /// As [`try_lock_for`](Mutex::try_lock_for).
    pub fn try_lock_until(&self, deadline: Instant) -> Result<Guard> {
        self.acquire(Patience::until(deadline))
    }

    /// See [`crate::Mutex::is_locked`].
    ///
    /// # Errors
    ///
    /// As [`crate::Mutex::is_locked`].
    pub fn is_locked(&self) -> Result<bool> {
        let mutex = self.inner.clone();
        runtime::block_on(async move { mutex.is_locked().await })
    }

    /// See [`crate::Mutex::with_ttl`].
    ///
    /// The only fallible `with_*` method, as in the async API: a TTL is the only setting that
    /// can be invalid, so it is checked where it is given; the other `with_*` methods accept
    /// any value.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTtl`](crate::Error::InvalidTtl).
    pub fn with_ttl(self, ttl: Duration) -> Result<Mutex> {
        self.inner.with_ttl(ttl).map(Mutex::from)
    }

    /// See [`crate::Mutex::with_wait`].
    pub fn with_wait(self, wait: Option<Duration>) -> Mutex {
        self.inner.with_wait(wait).into()
    }

    /// See [`crate::Mutex::with_renewal`].
    pub fn with_renewal(self, renewal: bool) -> Mutex {
        self.inner.with_renewal(renewal).into()
    }

    /// See [`crate::Mutex::with_fencing`].
    pub fn with_fencing(self, fencing: bool) -> Mutex {
        self.inner.with_fencing(fencing).into()
    }

    /// The lock's names, sorted and without duplicates.
    pub fn names(&self) -> &LockNames {
        self.inner.names()
    }

    /// The Redis keys of the lock.
    pub fn keys(&self) -> &[String] {
        self.inner.keys()
    }

    /// The lease time to live.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl()
    }

    /// The async lock this one wraps.
    pub fn as_async(&self) -> &crate::Mutex {
        &self.inner
    }
}

/// The blocking twin of [`crate::Guard`]. Dropping it releases the lock and waits for the
/// release to complete (bounded by the response timeout), so a program may exit right after.
#[must_use = "if unused the lock is released immediately"]
#[clippy::has_significant_drop]
pub struct Guard {
    inner: Option<crate::Guard>,
}

impl From<crate::Guard> for Guard {
    fn from(inner: crate::Guard) -> Self {
        Guard { inner: Some(inner) }
    }
}

impl Guard {
    fn inner(&self) -> &crate::Guard {
        self.inner
            .as_ref()
            .expect("only emptied by `release` or `Drop`")
    }

    /// See [`crate::Guard::release`].
    ///
    /// # Errors
    ///
    /// [`Error::Lost`](crate::Error::Lost) when the lock was no longer ours; Redis errors.
    pub fn release(mut self) -> Result<()> {
        self.inner
            .take()
            .expect("not yet released")
            .release_blocking()
    }

    /// See [`crate::Guard::extend`].
    ///
    /// # Errors
    ///
    /// [`Error::Lost`](crate::Error::Lost) when the lock is no longer ours; Redis errors.
    pub fn extend(&self, ttl: Duration) -> Result<()> {
        let guard = self.inner();
        crate::protocol::validate_ttl(ttl)?;
        runtime::block_on(guard.extend_task(ttl))
    }

    /// Blocks until the lock is lost or `timeout` passes; returns whether it is lost.
    /// The blocking form of [`crate::Guard::lost`], with a timeout as in
    /// `std::sync::mpsc::Receiver::recv_timeout`.
    pub fn lost_timeout(&self, timeout: Duration) -> bool {
        self.inner().lost_timeout(timeout)
    }

    /// See [`crate::Guard::is_owned`].
    ///
    /// # Errors
    ///
    /// As [`crate::Guard::is_owned`].
    pub fn is_owned(&self) -> Result<bool> {
        runtime::block_on(self.inner().is_owned_task())
    }

    /// See [`crate::Guard::is_held`].
    pub fn is_held(&self) -> bool {
        self.inner().is_held()
    }

    /// See [`crate::Guard::remaining`].
    pub fn remaining(&self) -> Duration {
        self.inner().remaining()
    }

    /// See [`crate::Guard::names`].
    pub fn names(&self) -> &LockNames {
        self.inner().names()
    }

    /// See [`crate::Guard::token`].
    pub fn token(&self) -> &str {
        self.inner().token()
    }

    /// See [`crate::Guard::fencing_token`].
    pub fn fencing_token(&self) -> Option<u64> {
        self.inner().fencing_token()
    }

    /// See [`crate::Guard::fencing_tokens`].
    pub fn fencing_tokens(&self) -> &[u64] {
        self.inner().fencing_tokens()
    }

    /// The async guard, for code that mixes both APIs. Its `Drop` does not wait for the
    /// release.
    pub fn into_async(mut self) -> crate::Guard {
        self.inner.take().expect("not yet released")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(guard) = self.inner.take() {
            guard.drop_blocking();
        }
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(guard) => fmt::Debug::fmt(guard, f),
            None => f.write_str("Guard(released)"),
        }
    }
}
