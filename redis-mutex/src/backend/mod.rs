//! The seam between the lock logic and where locks live.
//!
//! [`Backend`] is the lock protocol's I/O: one acquire attempt, release, extend, and release
//! notifications, each over a whole [`KeySet`]. The waiting, queueing, lease and renewal logic in
//! [`crate::lock`] and [`crate::guard`] is written once against it. Implementations:
//! [`single::SingleServer`] (one server); [`sentinel::SentinelBackend`], which finds the master
//! through Redis Sentinel and delegates every operation to a `SingleServer` for it;
//! [`cluster::ClusterBackend`] (a Redis Cluster); and [`redlock::Redlock`], a quorum over
//! independent masters.
//!
//! Most calls run on the crate runtime, over connections it drives. The uncontended path (one
//! acquire attempt, one release) may instead run in the caller's task over a [`Local`]
//! connection driven by the caller's own tokio runtime, which saves the hops to the crate's
//! thread and back: see [`Via`].

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::admin::KeyState;
use crate::error::Result;
use crate::protocol::{Attempt, KeySet};

pub(crate) mod cluster;
mod connect;
mod local;
pub(crate) mod redlock;
pub(crate) mod sentinel;
pub(crate) mod single;
mod subscriber;

pub(crate) use subscriber::{Subscription, Wake};

/// A connection driven by the caller's tokio runtime (see [`Backend::local`]).
#[derive(Clone)]
pub(crate) struct Local {
    conn: LocalConn,
    runtime: tokio::runtime::Id,
}

/// What a caller runtime's connection is, by backend: each backend only ever meets its own
/// kind (it made them).
#[derive(Clone)]
enum LocalConn {
    /// To one server.
    Single(redis::aio::MultiplexedConnection),
    /// To a Redis Cluster, and to its masters.
    Cluster(cluster::ClusterLocal),
    /// One per Redlock master, in the backend's order (`None`: that master did not answer the
    /// connect; it is reached over the crate's connection instead).
    Redlock(Arc<[Option<redis::aio::MultiplexedConnection>]>),
    /// To the master a Sentinel deployment had in use when it was made.
    Sentinel(sentinel::SentinelLocal),
}

impl From<redis::aio::MultiplexedConnection> for LocalConn {
    fn from(conn: redis::aio::MultiplexedConnection) -> Self {
        LocalConn::Single(conn)
    }
}

impl From<cluster::ClusterLocal> for LocalConn {
    fn from(conns: cluster::ClusterLocal) -> Self {
        LocalConn::Cluster(conns)
    }
}

impl From<Arc<[Option<redis::aio::MultiplexedConnection>]>> for LocalConn {
    fn from(conns: Arc<[Option<redis::aio::MultiplexedConnection>]>) -> Self {
        LocalConn::Redlock(conns)
    }
}

impl fmt::Debug for Local {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Local")
    }
}

impl Local {
    /// The error of a backend handed a caller runtime's connection it did not make (a bug:
    /// each backend's [`Backend::local`] makes its own kind); the caller then starts over on
    /// the shared connection, as after a broken one.
    fn foreign(server: &str) -> crate::Error {
        crate::Error::unreachable(
            server,
            std::io::ErrorKind::NotConnected,
            "the caller runtime's connection belongs to another backend",
        )
    }
}

/// Which connection a command goes on.
///
/// Commands on one connection reach Redis in the order they were sent, and only then: the
/// clean-up of an interrupted attempt goes on the attempt's own connection, so it can never
/// overtake the attempt (see `Cleanup` in [`crate::lock`]).
#[derive(Clone, Debug)]
pub(crate) enum Via {
    /// The connection the crate runtime drives (the default).
    Shared,
    /// The caller runtime's connection.
    Local(Local),
}

/// A boxed, sendable future, as returned by [`Backend`] methods.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a waiting attempt stands in the lock's queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitAttempt {
    /// How long the queue entry lasts unless refreshed by the next attempt.
    pub(crate) queue_entry: Duration,
    /// The lease a hand-over to this waiter starts with, until the waiter claims it.
    pub(crate) claim: Duration,
    /// This attempt's number, counted per acquisition from 1.
    pub(crate) number: u64,
}

/// Where locks live. All methods run on the crate runtime.
pub(crate) trait Backend: fmt::Debug + Send + Sync + 'static {
    /// The server address(es) for messages, passwords redacted.
    fn server(&self) -> &str;

    /// One attempt to take every key of `keys` for `token`, with a lease of `ttl`. With
    /// `probe`, a failed attempt also finds out what holds the key (a non-string value is
    /// [`Error::WrongType`](crate::Error::WrongType)) and for how long; without, a busy
    /// single-name lock may report no TTL (the caller waits with
    /// [`wait_attempt`](Backend::wait_attempt), which checks both anyway).
    ///
    /// An error leaves it unknown whether the keys were set: callers clean up with
    /// [`release`](Backend::release) of the same token, on the same connection.
    fn acquire<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
        fencing: bool,
        probe: bool,
        via: &'a Via,
    ) -> BoxFuture<'a, Result<Attempt>>;

    /// A connection driven by the runtime of the calling task, when that is a tokio runtime
    /// other than the crate's and such a connection is ready; `None` otherwise (the call then
    /// goes through the crate runtime). Never waits: a missing connection is opened in the
    /// background, for later calls.
    fn local(&self) -> Option<Local> {
        None
    }

    /// [`acquire`](Backend::acquire) over the calling thread's own synchronous connection, for
    /// the blocking API: `None` when the thread has none now (the call then goes through the
    /// crate runtime). An error closes that connection, so a clean-up cannot go on it: callers
    /// clean up on the shared connection instead, and once more a moment later.
    fn acquire_on_thread(
        &self,
        keys: &KeySet,
        token: &str,
        ttl: Duration,
        fencing: bool,
        probe: bool,
    ) -> Option<Result<Attempt>> {
        let _ = (keys, token, ttl, fencing, probe);
        None
    }

    /// [`release_held`](Backend::release_held) over the calling thread's own synchronous
    /// connection: `None` when the thread has none now.
    fn release_on_thread(
        &self,
        keys: &KeySet,
        token: &str,
        contended: bool,
    ) -> Option<Result<usize>> {
        let _ = (keys, token, contended);
        None
    }

    /// Forgets `local` after it failed (its runtime is gone, or its connection broke), so the
    /// next [`local`](Backend::local) opens another.
    fn local_failed(&self, local: &Local) {
        let _ = local;
    }

    /// An attempt by a caller that is willing to wait: like [`acquire`](Backend::acquire), but
    /// when the lock is taken, joins (or stays in) the lock's waiter queue, where a release may
    /// hand the lock over with a lease of `wait.claim` (announced as [`Wake::Granted`] naming
    /// `wait.attempt`; a later `wait_attempt` then finds the lock ours and claims it, restarting
    /// its lease at `ttl`).
    fn wait_attempt<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
        fencing: bool,
        wait: WaitAttempt,
    ) -> BoxFuture<'a, Result<Attempt>>;

    /// What a waiter must do before taking a hand-over announced to `token` as
    /// [`Wake::Granted`]: `None` (the default) when the announcement is enough, else a
    /// confirmation to await first. Returning `None` costs the waiter nothing: no allocation,
    /// no await.
    ///
    /// A confirmation claims the handed lock as the waiter's next
    /// [`wait_attempt`](Backend::wait_attempt) would (its lease restarts at `ttl`, only if it
    /// still holds `token`), then checks whatever else the backend requires of an acquisition.
    /// `Ok(true)`: the lock is `token`'s, with a lease of `ttl` from no earlier than this call.
    /// `Ok(false)`: the lock is no longer `token`'s (the handed lease lapsed first); the waiter
    /// attempts again. An error (such as [`Error::NotReplicated`](crate::Error::NotReplicated))
    /// fails the acquisition; the confirmation does not release the lock itself, the caller
    /// does, with [`release`](Backend::release) of `token`, as after any failed attempt.
    fn confirm_grant<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
    ) -> Option<BoxFuture<'a, Result<bool>>> {
        let _ = (keys, token, ttl);
        None
    }

    /// Deletes the keys still holding `token`, and takes `token` out of the waiter queue (so it
    /// also cleans up after an abandoned wait). A freed lock goes to the next live waiter, or is
    /// announced as free. Returns how many keys were `token`'s.
    fn release<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        via: &'a Via,
    ) -> BoxFuture<'a, Result<usize>>;

    /// [`release`](Backend::release) by a holder (a guard, not a clean-up). Unless `contended`
    /// (this process saw the lock taken lately), a backend may first try a cheaper release that
    /// works when nobody waits, and fall back to [`release`](Backend::release) when someone does.
    fn release_held<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        via: &'a Via,
        contended: bool,
    ) -> BoxFuture<'a, Result<usize>> {
        let _ = contended;
        self.release(keys, token, via)
    }

    /// Resets the lease of the keys still holding `token` to `ttl`. Returns how many.
    fn extend<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<usize>>;

    /// Registers for release announcements of `keys`, and for hand-overs to `token`, without
    /// waiting for Redis (see [`Subscription::confirmed`]).
    fn subscribe(&self, keys: &KeySet, token: Arc<str>) -> Subscription;

    /// The token each key of `keys` holds now (`None`: free), in name order.
    fn holders<'a>(&'a self, keys: &'a KeySet) -> BoxFuture<'a, Result<Vec<Option<String>>>>;

    /// Reads the state of the single-name lock `keys` in one atomic step (for
    /// [`crate::admin`]).
    fn inspect<'a>(&'a self, keys: &'a KeySet) -> BoxFuture<'a, Result<KeyState>>;
}
