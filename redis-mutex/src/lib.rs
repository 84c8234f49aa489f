//! A correct distributed mutex on Redis, for async and blocking Rust.
//!
//! ```no_run
//! # async fn demo() -> redis_mutex::Result<()> {
//! let client = redis_mutex::Client::open("redis://127.0.0.1/")?;
//! let guard = client.mutex("orders")?.lock().await?;
//! // ... only one holder of "orders" across every process runs this ...
//! guard.release().await?;
//! # Ok(()) }
//! ```
//!
//! # Which API
//!
//! * [`Client`], [`Mutex`], [`Guard`]: async, usable from any executor (on a tokio runtime the
//!   uncontended path runs in the caller's task; everything else awaits a channel fed by the
//!   crate's own runtime thread).
//! * [`blocking`]: the same for plain threads, also safe inside a tokio runtime.
//! * `#[mutex("name")]` (feature `macros`, on by default): hold named locks for the duration of
//!   a function, like the Python decorator this crate started from.
//! * [`Client::status`], [`Client::force_release`]: operator tools (what a lock name holds,
//!   forced release), as the `redis-mutex` command uses them; [`flush`] before exiting.
//!
//! Use a lock from this crate to keep *processes* (or machines) apart; inside one process,
//! `std::sync::Mutex` or `tokio::sync::Mutex` are far cheaper.
//!
//! # Guarantees
//!
//! See [`Mutex`] for what the lock guarantees and what no lease-based lock can, and
//! [`Mutex::with_fencing`] for the remedy. `docs/SAFETY.md` in the repository states every
//! guarantee with its assumptions (clocks, pauses, failover, eviction, persistence) and the test
//! that shows it.
//!
//! # Failure behaviour
//!
//! * A connection that drops is re-established on the next command; a call that fails on the
//!   way returns [`Error::Unreachable`] (after at most the connect or response timeout, 2 s by
//!   default), never hangs and never panics.
//! * A guard whose renewals fail keeps the lock until its lease runs out, then reports it lost.
//! * Release notifications make hand-overs prompt; waiters also re-check at least every
//!   [`max_poll_interval`](ClientBuilder::max_poll_interval) (500 ms), so a lost notification,
//!   a silent notification connection or a crashed holder delays a hand-over by at most that
//!   past the holder's expiry; a holder that is not of this crate (which never announces) is
//!   re-checked at its expiry.
//!
//! # Observability
//!
//! Spans `redis_mutex::acquire` and `redis_mutex::renew`, and `debug` events for acquire and
//! release, `warn` events for lost locks, through [`tracing`](https://docs.rs/tracing).
//!
//! With the feature `metrics`, through the [`metrics`](https://docs.rs/metrics) facade:
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `redis_mutex_wait_seconds` | histogram | from the call to `lock()` until acquired |
//! | `redis_mutex_hold_seconds` | histogram | from acquired until released |
//! | `redis_mutex_acquired_total` | counter | successful acquisitions |
//! | `redis_mutex_contended_total` | counter | acquisitions whose first attempt found the lock taken |
//! | `redis_mutex_renewals_total` | counter | successful lease renewals |
//! | `redis_mutex_lost_total` | counter | locks found lost (renewal, release or lease expiry) |
//!
//! Each carries a `lock` label: the lock's first name up to its first `:` (`account:42` is
//! recorded as `account`), so that per-entity lock names do not explode the label set.
//!
//! # Features
//!
//! * `macros` (default): the `#[mutex]` attribute.
//! * `metrics`: the metrics above.
//! * `tls`: `rediss://` URLs, through rustls (with its `ring` provider, installed as the
//!   process default unless the application installed one). Server certificates are checked
//!   against the system's roots, or the CAs given to `ClientBuilder::tls_root_certificates`.
//!
//! # Redis
//!
//! Redis 5 or newer (scripts read the server clock and write after it, which needs Redis 5's
//! effect replication); tested with Redis 7.0. Keys: `<prefix><name>` (default prefix
//! `MUTEX_`, as the Python original, which therefore interoperates), plus companions of the
//! crate's own under `redis-mutex:` (`redis-mutex:{<key>}:queue`, `…:fence`, …) for the waiter
//! queue and fencing counters, in the lock key's Cluster slot. No lock key may start with
//! `redis-mutex:` ([`Error::InvalidName`]), so no lock name under any prefix collides with them.
//!
//! With Redis ACLs, a user of this crate needs, besides its keys (`~<prefix>*` and
//! `~redis-mutex:{<prefix>*`, or `~redis-mutex:*` when the prefix or names carry hash tags):
//! the commands it sends, `SET`, `TYPE`, `PTTL`, `EVALSHA`, `SCRIPT|LOAD`,
//! `SUBSCRIBE`, `UNSUBSCRIBE`, `PING`; the commands its scripts run, `GET`, `DEL`, `APPEND`,
//! `PEXPIRE`, `TIME`, `ZADD`, `ZREM`, `ZRANGE`, `ZCARD`,
//! `PUBLISH`; and the channels `&redis-mutex:{<prefix>*}:released` (release announcements)
//! and `&redis-mutex:inbox:*` (hand-overs to this process's waiters). `INFO` is optional: on
//! its first connection a client reads `INFO cluster` (a Cluster node reached by a plain
//! `redis://` URL is refused with [`Error::InvalidUrl`], which names `redis+cluster://`) and
//! `INFO memory` (an eviction policy that can evict locks is warned about). Without the channels,
//! locking still works (announcements are best-effort); waiters then learn of releases by
//! polling (see [`ClientBuilder::max_poll_interval`]).
//!
//! # Redis Sentinel
//!
//! For a master with replicas watched by Redis Sentinel, give the sentinels and the master's
//! name instead of a server, wherever a URL goes ([`Client::open`], [`Client::builder`],
//! `REDIS_MUTEX_URL` / `REDIS_URL`, `#[mutex(server = "...")]`):
//!
//! ```text
//! redis+sentinel://[user:password@]host:port[,host:port…]/<master-name>[/<db>]
//! rediss+sentinel://…                      (TLS to the sentinels and the master; feature `tls`)
//! ```
//!
//! ```no_run
//! # async fn demo() -> redis_mutex::Result<()> {
//! use std::time::Duration;
//!
//! let client = redis_mutex::Client::builder(
//!     "redis+sentinel://:master-pw@10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/mymaster",
//! )
//! .sentinel_password("sentinel-pw")                  // when the sentinels require one
//! .replica_acks(1, Duration::from_millis(100))       // optional: see below
//! .build()?;
//! let guard = client.mutex("orders")?.lock().await?;
//! # Ok(()) }
//! ```
//!
//! A host without a port is taken as port 26379. The `user:password` of the URL is the
//! master's; the sentinels' own credentials are
//! [`sentinel_password`](ClientBuilder::sentinel_password) and
//! [`sentinel_username`](ClientBuilder::sentinel_username). A malformed URL (no master name, a
//! port out of range, …) is [`Error::InvalidUrl`] (a compile error in `#[mutex]`).
//!
//! The client asks the sentinels, in the URL's order, for the master (`SENTINEL
//! get-master-addr-by-name`), checks that it is one (`INFO replication`), and sends every lock
//! command there. It follows a failover as soon as a sentinel announces it (`+switch-master`,
//! to which it stays subscribed on one sentinel), and otherwise when a command fails the way it
//! does on a demoted or dead master (no connection, no answer, `READONLY`): it then asks the
//! sentinels again and retries the command once on the new master. While a failover is under
//! way (the old master is gone and the sentinels have not promoted a replica yet), calls fail
//! with [`Error::Unreachable`].
//!
//! **A failover can lose a lock.** Replication is asynchronous: a lock taken on the master an
//! instant before it fails may never reach the replica that replaces it, and a second caller can
//! then take the same lock on the new master. The holder is told at its next renewal (a third of
//! the TTL later at most): its key is gone on the new master, so
//! [`Guard::lost`] completes, [`Guard::is_held`] turns false, and releasing returns
//! [`Error::Lost`]. Stop work when `lost()` fires, and use fencing tokens
//! ([`Mutex::with_fencing`]) for storage that must refuse the overlapping holder: a token is at
//! least the master's clock in microseconds, so tokens keep increasing across a failover that
//! lost the counter, as long as the new master's clock is not behind the old one's (by more than
//! the time since the last token).
//!
//! [`ClientBuilder::replica_acks`] narrows the window: an acquisition counts only once that many
//! replicas acknowledge it (`WAIT`, as Redisson does); if they do not within the timeout, the
//! lock is released and the call fails with [`Error::NotReplicated`]. A failover can then lose
//! the lock only by promoting a replica that had not acknowledged it (Sentinel promotes the one
//! with the most data) or after losing the acknowledged replicas as well: `WAIT` makes a loss
//! less likely, not impossible, since neither the replica's disk nor the election is part of
//! it. It costs one round trip per acquisition, plus the replicas' delay (on loopback, on a
//! shared 2-core machine, 0.05 – 0.4 ms more per lock-and-release pair, which otherwise took
//! 0.11 – 0.44 ms: 1.4 – 3.9× as long, depending on the machine's load). A lock handed over
//! by a release is confirmed the same way before the waiter takes it, as soon as the release's
//! notification arrives: a failed confirmation releases it, and the waiter's acquisition fails
//! with [`Error::NotReplicated`].
//!
//! With ACLs, the sentinels must allow `SENTINEL|get-master-addr-by-name` and subscribing to
//! `+switch-master`; the master also needs `INFO` (not optional here), and `WAIT` with
//! `replica_acks`.
//!
//! # Redis Cluster
//!
//! `redis+cluster://[user:password@]host:port[,host:port…]` (`rediss+cluster://` with the
//! feature `tls`) names a Redis Cluster by some of its nodes, the seeds; the client learns the
//! others, and follows `MOVED` redirections after a resharding. The URL takes no database
//! (a cluster has only database 0) and no options; a malformed one is
//! [`Error::InvalidUrl`] saying what to fix (and a compile error in `#[mutex(server = "...")]`).
//!
//! ```no_run
//! # async fn demo() -> redis_mutex::Result<()> {
//! let client = redis_mutex::Client::open("redis+cluster://10.0.0.5:7000,10.0.0.6:7000")?;
//! let guard = client.mutex("orders")?.lock().await?;
//! # Ok(()) }
//! ```
//!
//! Each lock name, with its queue, fencing counter and channels, lives in its key's hash slot,
//! on one master, and behaves as on one server. A lock over names of several slots is taken
//! slot group by slot group in slot order, each group all-or-nothing, and given back whole when
//! a group is busy: never held in part, never deadlocked, but its waiters poll (every
//! [`max_poll_interval`](ClientBuilder::max_poll_interval), or when a release is announced)
//! instead of queueing, so first come, first served holds for single names and for names of
//! one slot only. Give the names of a multi-name lock a common hash tag (`{acct}:1`,
//! `{acct}:2`) to keep them in one slot. Release announcements use classic pub/sub, which a
//! cluster broadcasts to every node: waiters listen on a subscriber connected to the master of
//! their lock's slot (found with `CLUSTER SLOTS`), which hears its own announcements without
//! the cluster bus. The uncontended path runs in the caller's task as on one server, straight
//! to the slot's master over a connection driven by the caller's tokio runtime (a `MOVED` sends
//! the call through the cluster connection); the blocking API's goes through the crate's
//! runtime thread. During a slot migration, `ASK` is followed (`ASKING`); redirections that
//! outlast the response timeout fail with a connection error saying the command did not run.
//!
//! # Redlock over independent masters
//!
//! `redis+redlock://[user:password@]host[:port],host[:port],host[:port][,…][/db]`
//! (`rediss+redlock://` with feature `tls`) locks on several independent masters by majority,
//! as specified on redis.io ("Distributed Locks with Redis"), through the same API, blocking API
//! and `#[mutex]` attribute. At least 3 masters; an even number is accepted with a warning.
//!
//! * **Acquire**: one atomic script on every master at once, each bounded by
//!   [`ClientBuilder::node_timeout`] (50 ms by default); each master takes every name of the
//!   lock or none. Taken when a majority (`N/2 + 1`) took it while validity is left
//!   (`ttl − elapsed − drift`, drift = 1 % of the TTL + 2 ms), as soon as that majority
//!   answered (the slower masters' calls finish in the background); otherwise what was taken is
//!   given back at once. A release likewise returns once a majority's replies decide it, its
//!   other calls finishing in the background.
//! * **Late calls**: a call may reach a master late, or after a later one (a timed-out reply,
//!   a call left behind by a settled quorum, a retry on another connection). Each key holds
//!   `<token>#<attempt>`: an attempt never takes over a later attempt's key, a failed attempt's
//!   clean-up deletes only its own, and a release that found nothing of its own leaves a void
//!   mark (60 s) that turns away an acquisition arriving after it.
//! * **Lease**: a guard's lease is counted from before the attempt was sent, with the full TTL
//!   less the drift: since `elapsed` runs from that same instant, the lease never outlasts the
//!   spec's validity time. Renewals likewise, each judged by quorum: `lost()`, `is_held()` and
//!   [`Error::Lost`] mean a majority no longer holds the token.
//! * **Waiting**: no queue in Redis. A release is published on every master and waiters
//!   subscribe on every master, so they retry at once; they also retry when the holder's keys
//!   expire on enough masters, and after a random delay (up to 30 ms) after a split vote.
//!   Hand-over is prompt, but not first come, first served.
//! * **Uncontended path**: in the caller's task, over connections driven by the caller's
//!   tokio runtime, one per master, all reached at once (as on one server, no hop to the
//!   crate's thread). A master with credentials of its own gets them from
//!   [`ClientBuilder::node_credentials`].
//! * **Failures**: a minority of masters may be down, slow or restarted empty (a renewal that a
//!   majority confirmed takes the key again where it is missing). With a majority
//!   unreachable, acquisition fails at once with [`Error::Unreachable`]
//!   ([`is_connection`](Error::is_connection)), whose cause says how many masters answered and
//!   how many are needed.
//! * **Fencing** is refused with [`Error::InvalidConfig`] (at [`ClientBuilder::build`] with
//!   [`ClientBuilder::fencing`], else at the first attempt): per-master counters are
//!   independent, so no single round trip can issue a token above every earlier holder's.
//! * **Reads**: [`Mutex::is_locked`], [`Guard::is_owned`] and [`Client::status`] report the value
//!   a majority holds (no waiter count, no fencing counter); [`Client::force_release`] deletes
//!   the majority holder's keys everywhere.
//!
//! Safety rests on the spec's assumptions: master clocks that neither jump nor run more than
//! about 1 % fast; a crashed master restarted only after the longest TTL in use has passed
//! (or persistence with `appendfsync always`), since a master restarted empty forgets its
//! locks; and, as for every lease, holders that are not paused past their lease. Prefer a
//! Sentinel or Cluster deployment for failover with fencing tokens and fair queues. The README's
//! "Scaling out" section has the details.
//!
//! # Architecture
//!
//! Lock storage sits behind a `Backend` seam (one Redis server; the master found through
//! Sentinel, which delegates every lock operation to the one-server backend; a Redis Cluster;
//! or Redlock over several masters); the protocol — keys, tokens, Lua scripts — lives in one
//! module (`protocol`).
//! Waiting, renewal, the clean-up of abandoned attempts and the release of dropped guards run
//! on one background thread owned by the crate (`runtime`), so no caller can stall them. The
//! uncontended path does not leave the caller: on a tokio runtime, the first attempt and
//! `Guard::release` run in the caller's task over a connection driven by that runtime (one per
//! runtime, closed when the runtime shuts down); the blocking API uses a connection of the
//! calling thread (closed when the thread exits). So a lock + release pair costs what it costs
//! with plain redis-rs: two requests, four Redis commands, one thread wake-up each. With
//! Sentinel too, over a connection (of the runtime, or of the thread) to the master in use,
//! unless `replica_acks` is set (its confirmations run on the crate's thread): a call there
//! that a failover explains goes again through the crate's thread, which asks the sentinels
//! and retries on the new master.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
mod backend;
pub mod blocking;
mod client;
mod error;
mod guard;
mod lease;
mod lock;
mod names;
mod observe;
mod protocol;
mod queue;
mod renewal;
mod runtime;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use admin::{ForcedRelease, LockStatus};
pub use client::{Client, ClientBuilder, DEFAULT_URL};
pub use error::{BoxError, Error, Result};
pub use guard::Guard;
pub use lock::Mutex;
pub use names::{IntoLockNames, LockNames};
pub use protocol::MIN_TTL;
pub use runtime::flush;

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use redis_mutex_macros::mutex;

/// The README's examples, compiled as doc tests so they cannot rot.
#[cfg(all(doctest, feature = "macros"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// The crate README's (crates.io's) example, compiled as a doc test too.
#[cfg(all(doctest, feature = "macros"))]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;
