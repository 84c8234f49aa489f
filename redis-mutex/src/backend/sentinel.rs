//! A master watched by Redis Sentinel: found through the sentinels, followed after a failover.
//!
//! Every lock operation is [`SingleServer`]'s, on the current master: this module only decides
//! which server that is. The master is asked of the sentinels (`SENTINEL
//! get-master-addr-by-name`, each sentinel in the URL's order until one answers) on first use,
//! and checked to be a master (`INFO replication`, since a sentinel may name a master that was
//! just demoted). It is replaced when a sentinel announces a failover (`+switch-master`, see
//! [`watch`]), and when a command fails in a way a failover explains (no connection, no answer,
//! or `READONLY` from a demoted master, whose clients Sentinel disconnects when it reconfigures
//! it): the sentinels are then asked again; if they name another master, the command is retried
//! there once, and later commands go there too.
//!
//! Waiters listen for releases on the master in use when they start waiting; after a switch,
//! hand-overs to them are announced on the new master, so they take them by polling (within
//! `max_poll_interval`) until they next start waiting.
//!
//! The uncontended path (first attempt, release) runs in the caller's task over a connection of
//! the caller's runtime to the master in use ([`SentinelLocal`], the master's own
//! [`SingleServer`] caller-runtime connection), or for the blocking API over the calling
//! thread's connection to it, as on one server, unless [`ReplicaAcks`] are asked for. A call there is not retried after a failover: made for a master no longer in use,
//! or failing in a way a failover explains, it fails as a broken connection, and the caller
//! goes the usual way (the crate runtime, which asks the sentinels and retries), as after any
//! broken caller-runtime connection.
//!
//! With [`ReplicaAcks`], an acquisition counts only once enough replicas have it: after the
//! acquiring command, `WAIT` (see [`Inner::confirm`]). A hand-over is still taken as soon as
//! its notification arrives, once confirmed the same way (see
//! [`Backend::confirm_grant`]): a failed confirmation fails the waiter's acquisition with
//! [`Error::NotReplicated`] and the waiter releases the lock.

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use super::single::{ConnectionSettings, SingleServer};
use super::subscriber::Subscriber;
use super::{Backend, BoxFuture, Local, LocalConn, Subscription, Via, WaitAttempt};
use crate::admin::KeyState;
use crate::error::{Error, Result};
use crate::protocol::{self, Attempt, EXTEND, KeySet};
use crate::runtime;

/// How many replicas must acknowledge an acquisition, and how long they have
/// ([`ClientBuilder::replica_acks`](crate::ClientBuilder::replica_acks)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ReplicaAcks {
    pub(crate) replicas: u32,
    pub(crate) timeout: Duration,
}

/// Makes the `redis::Client` of the master at `host` and `port` (the URL's credentials and
/// database, TLS roots and checks included); the last argument is the master as messages
/// show it.
pub(crate) type OpenMaster = Box<dyn Fn(&str, u16, &str) -> Result<redis::Client> + Send + Sync>;

/// The deployment behind a `redis+sentinel://` URL.
pub(crate) struct SentinelBackend {
    inner: Arc<Inner>,
    /// Started with the first command (on the crate runtime).
    watching: std::sync::Once,
}

/// What [`SentinelBackend`] shares with its watcher task.
struct Inner {
    /// The URL, password redacted.
    display: String,
    master_name: String,
    /// One client per sentinel, in the URL's order.
    sentinels: Vec<(String, redis::Client)>,
    open_master: OpenMaster,
    settings: ConnectionSettings,
    acks: Option<ReplicaAcks>,
    current: RwLock<Option<Arc<Master>>>,
    /// Where waiters listen while no master is known: a sentinel, where no release is
    /// announced (see [`Backend::subscribe`]).
    no_master: OnceLock<Subscriber>,
    /// Serialises asking the sentinels.
    resolving: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SentinelBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelBackend")
            .field("server", &self.inner.display)
            .field("master_name", &self.inner.master_name)
            .field("acks", &self.inner.acks)
            .finish_non_exhaustive()
    }
}

/// The master in use: its server, and the connection that waits for replicas.
#[derive(Debug)]
struct Master {
    /// `host:port`, as the sentinels named it.
    address: String,
    server: SingleServer,
    client: redis::Client,
    /// Only `EXTEND` + `WAIT` pairs run here, so that a `WAIT` holds up no other command.
    acks: OnceCell<ConnectionManager>,
}

/// A caller runtime's connection to the master in use when it was made (see the module docs).
#[derive(Clone)]
pub(crate) struct SentinelLocal {
    master: Arc<Master>,
    /// The master's [`SingleServer`] connection of that runtime (see [`SentinelLocal::single`]).
    conn: redis::aio::MultiplexedConnection,
}

impl SentinelLocal {
    /// The master's own [`Local`] that `local` (whose connection this is) wraps.
    fn single(&self, local: &Local) -> Local {
        Local {
            conn: LocalConn::Single(self.conn.clone()),
            runtime: local.runtime,
        }
    }
}

/// What a [`SentinelBackend`] is made of, as parsed from its URL and builder.
pub(crate) struct SentinelConfig {
    pub(crate) display: String,
    pub(crate) master_name: String,
    pub(crate) sentinels: Vec<(String, redis::Client)>,
    pub(crate) open_master: OpenMaster,
    pub(crate) settings: ConnectionSettings,
    pub(crate) acks: Option<ReplicaAcks>,
}

impl SentinelBackend {
    /// The master in use, for a call on a caller's own connection to it: none before one is
    /// known, nor with [`ReplicaAcks`] (whose confirmations run on the crate runtime).
    fn fast_master(&self) -> Option<Arc<Master>> {
        match self.inner.acks {
            Some(_) => None,
            None => self.inner.current(),
        }
    }

    /// A release (`held`: a holder's, with whether the lock was `contended`, see
    /// [`Backend::release_held`]), over `via`.
    fn release_as<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        via: &'a Via,
        held: Option<bool>,
    ) -> BoxFuture<'a, Result<usize>> {
        let on = move |master: Arc<Master>, via: Via| async move {
            match held {
                Some(contended) => {
                    let release = master.server.release_held(keys, token, &via, contended);
                    release.await
                }
                None => master.server.release(keys, token, &via).await,
            }
        };
        if let Via::Local(local) = via {
            let inner = &self.inner;
            return Box::pin(async move {
                if let Ok((master, via)) = inner.local_master(local) {
                    match on(master, via).await {
                        // Refused by a demoted master: it did not run.
                        Err(error) if refused_by_demoted(&error) => {}
                        // It may have run: the caller sends it again, as after a broken
                        // connection.
                        done => return done.map_err(on_local_failed),
                    }
                }
                // Not sent (the connection's master is no longer the one in use), or refused:
                // released on the master in use, as any other call.
                self.release_in_crate_runtime(keys, token).await
            });
        }
        let inner = self.inner();
        Box::pin(inner.on_master(move |master| Box::pin(on(master, Via::Shared))))
    }

    /// `release` on the master in use, through the crate runtime (which may ask the
    /// sentinels).
    async fn release_in_crate_runtime(&self, keys: &KeySet, token: &str) -> Result<usize> {
        let inner = self.inner.clone();
        let keys = KeySet::of_keys(keys.keys.clone());
        let token = token.to_owned();
        runtime::run(async move {
            let (keys, token) = (&keys, token.as_str());
            inner
                .on_master(|master| {
                    Box::pin(async move { master.server.release(keys, token, &Via::Shared).await })
                })
                .await
        })
        .await
    }

    /// Prepares the backend; no I/O happens until the first command.
    pub(crate) fn new(config: SentinelConfig) -> Self {
        SentinelBackend {
            inner: Arc::new(Inner::new(config)),
            watching: std::sync::Once::new(),
        }
    }

    /// The shared state, starting the watcher first if needed.
    fn inner(&self) -> &Arc<Inner> {
        self.watching.call_once(|| {
            tokio::spawn(watch(Arc::downgrade(&self.inner)));
        });
        &self.inner
    }
}

impl Inner {
    fn new(config: SentinelConfig) -> Self {
        Inner {
            no_master: OnceLock::new(),
            display: config.display,
            master_name: config.master_name,
            sentinels: config.sentinels,
            open_master: config.open_master,
            settings: config.settings,
            acks: config.acks,
            current: RwLock::new(None),
            resolving: tokio::sync::Mutex::new(()),
        }
    }

    fn current(&self) -> Option<Arc<Master>> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The master in use, asking the sentinels first if there is none yet.
    async fn master(&self) -> Result<Arc<Master>> {
        match self.current() {
            Some(master) => Ok(master),
            None => self.rediscover(None).await,
        }
    }

    /// Asks the sentinels for the master, unless another caller already replaced `failed`
    /// (or found the first master) meanwhile. Returns the master to use now.
    async fn rediscover(&self, failed: Option<&Arc<Master>>) -> Result<Arc<Master>> {
        let _one_at_a_time = self.resolving.lock().await;
        let current = self.current();
        if let Some(current) = &current
            && failed.is_none_or(|failed| !Arc::ptr_eq(failed, current))
        {
            return Ok(current.clone());
        }
        let (host, port) = self.ask_sentinels().await?;
        let address = format!("{host}:{port}");
        if let Some(current) = current
            && current.address == address
        {
            return Ok(current);
        }
        let shown = format!(
            "{address} (master `{}` of {})",
            self.master_name, self.display
        );
        let client = (self.open_master)(&host, port, &shown)?;
        self.check_role(&client, &shown).await?;
        tracing::info!(master = %shown, "redis-mutex: using the master named by the sentinels");
        let master = Arc::new(Master {
            address,
            server: SingleServer::new(client.clone(), shown, self.settings),
            client,
            acks: OnceCell::new(),
        });
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(master.clone());
        Ok(master)
    }

    /// The master's address from the first sentinel that names one.
    async fn ask_sentinels(&self) -> Result<(String, u16)> {
        let mut failures = Vec::new();
        for (address, sentinel) in &self.sentinels {
            let reply: Result<Option<(String, u16)>> = self
                .query(
                    sentinel,
                    address,
                    redis::cmd("SENTINEL")
                        .arg("get-master-addr-by-name")
                        .arg(&self.master_name),
                )
                .await;
            match reply {
                Ok(Some(master)) => return Ok(master),
                Ok(None) => failures.push(format!(
                    "{address} knows no master named `{}`",
                    self.master_name
                )),
                Err(error) => failures.push(format!("{address}: {}", error_chain(&error))),
            }
        }
        Err(Error::Unreachable {
            server: self.display.clone(),
            source: format!(
                "no sentinel named a master `{}` ({})",
                self.master_name,
                failures.join("; ")
            )
            .into(),
        })
    }

    /// Refuses a server that is not a master (a sentinel's answer during a failover may
    /// name a master that was just demoted).
    async fn check_role(&self, client: &redis::Client, shown: &str) -> Result<()> {
        let info: String = self
            .query(client, shown, redis::cmd("INFO").arg("replication"))
            .await?;
        if info.lines().any(|line| line.trim() == "role:master") {
            Ok(())
        } else {
            Err(Error::unreachable(
                shown,
                std::io::ErrorKind::Other,
                "the sentinels name it as the master, but it is a replica (a failover is under \
                 way?); try again shortly",
            ))
        }
    }

    /// One command on a connection of its own, bounded by the connect and response timeouts.
    async fn query<T: redis::FromRedisValue>(
        &self,
        client: &redis::Client,
        shown: &str,
        command: &redis::Cmd,
    ) -> Result<T> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.settings.connect_timeout))
            .set_response_timeout(Some(self.settings.response_timeout));
        let bound = self.settings.connect_timeout + self.settings.response_timeout;
        let reply = tokio::time::timeout(bound, async {
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            command.query_async(&mut conn).await
        })
        .await
        .unwrap_or_else(|_| Err(timed_out(bound)));
        reply.map_err(|error| Error::from_redis(shown, None, error))
    }

    /// Runs `op` on the master; when it fails in a way a failover explains and the sentinels
    /// now name another master, runs it once more there.
    async fn on_master<'a, T>(
        &'a self,
        op: impl Fn(Arc<Master>) -> BoxFuture<'a, Result<T>>,
    ) -> Result<T> {
        let master = self.master().await?;
        match op(master.clone()).await {
            Err(error) if after_failover(&error) => {
                let Ok(next) = self.rediscover(Some(&master)).await else {
                    return Err(error);
                };
                if Arc::ptr_eq(&next, &master) {
                    return Err(error);
                }
                tracing::debug!(%error, "redis-mutex: retrying on the new master");
                op(next).await
            }
            result => result,
        }
    }

    /// The master and connection for a call over `local`, a caller runtime's connection: a
    /// broken-connection error when its master is no longer the one in use.
    fn local_master(&self, local: &Local) -> Result<(Arc<Master>, Via)> {
        let LocalConn::Sentinel(own) = &local.conn else {
            return Err(broken(&self.display, "a connection of another backend"));
        };
        match self.current() {
            Some(current) if Arc::ptr_eq(&current, &own.master) => {
                Ok((current, Via::Local(own.single(local))))
            }
            _ => Err(broken(
                &own.master.address,
                "made for a master no longer in use (a failover)",
            )),
        }
    }

    /// With [`ReplicaAcks`], an [`Attempt::Acquired`] holds only once the replicas have it
    /// (see [`replicated`](Inner::replicated)). When too few replicas acknowledge in time, the
    /// keys are released and the acquisition fails with [`Error::NotReplicated`]; a lock found
    /// gone meanwhile is reported busy.
    async fn confirm(
        &self,
        master: &Master,
        keys: &KeySet,
        token: &str,
        ttl: Duration,
        attempt: Attempt,
    ) -> Result<Attempt> {
        let (Some(acks), Attempt::Acquired { .. }) = (self.acks, &attempt) else {
            return Ok(attempt);
        };
        match self.replicated(master, keys, token, ttl, acks).await {
            Ok(true) => Ok(attempt),
            outcome => {
                if let Err(error) = master.server.release(keys, token, &Via::Shared).await {
                    tracing::debug!(%error, "release of an unconfirmed acquisition failed; the key expires with its TTL");
                }
                outcome.map(|_| Attempt::Busy { pttl: None })
            }
        }
    }

    /// Whether enough replicas have the lock `token` holds: on the acks connection, in one
    /// round trip, `EXTEND` to `ttl` (a write that also checks the lock is still ours: `WAIT`
    /// waits for the writes of its own connection, and this one comes after the acquisition,
    /// whatever connection took it) and `WAIT`. `Ok(false)`: the lock was no longer ours;
    /// [`Error::NotReplicated`]: too few replicas acknowledged in time. Releases nothing.
    async fn replicated(
        &self,
        master: &Master,
        keys: &KeySet,
        token: &str,
        ttl: Duration,
        acks: ReplicaAcks,
    ) -> Result<bool> {
        match self
            .wait_for_replicas(master, keys, token, ttl, acks)
            .await?
        {
            None => Ok(false),
            Some(acknowledged) if acknowledged >= acks.replicas => Ok(true),
            Some(acknowledged) => Err(Error::NotReplicated {
                key: keys.keys[0].clone(),
                server: master.server.server().to_owned(),
                acknowledged,
                required: acks.replicas,
                timeout: acks.timeout,
            }),
        }
    }

    /// How many replicas acknowledged the acquisition (`None`: the lock was no longer ours).
    async fn wait_for_replicas(
        &self,
        master: &Master,
        keys: &KeySet,
        token: &str,
        ttl: Duration,
        acks: ReplicaAcks,
    ) -> Result<Option<u32>> {
        let error = |source| Error::from_redis(master.server.server(), Some(&keys.keys[0]), source);
        let mut conn = master
            .acks
            .get_or_try_init(|| async {
                let timeout = self.settings.response_timeout + acks.timeout;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.settings.connect_timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(0);
                let connect = ConnectionManager::new_with_config(master.client.clone(), config);
                // Bounded as a whole, as `SingleServer`'s connect is (TCP, TLS, handshake).
                let mut conn = tokio::time::timeout(self.settings.connect_timeout, connect)
                    .await
                    .unwrap_or_else(|_| Err(timed_out(self.settings.connect_timeout)))?;
                EXTEND.load_async(&mut conn).await?;
                Ok(conn)
            })
            .await
            .map_err(error)?
            .clone();
        // One round trip: the script by its hash (loaded above), then `WAIT`.
        let mut pipe = redis::pipe();
        pipe.cmd("EVALSHA")
            .arg(EXTEND.get_hash())
            .arg(keys.keys.len())
            .arg(&keys.keys)
            .arg(token)
            .arg(protocol::ttl_millis(ttl))
            .cmd("WAIT")
            .arg(acks.replicas)
            .arg(
                u64::try_from(acks.timeout.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            );
        let (extended, acknowledged): (usize, u32) = match pipe.query_async(&mut conn).await {
            // The server restarted (or its scripts were flushed) since the script was loaded.
            Err(e) if e.code() == Some("NOSCRIPT") => {
                EXTEND.load_async(&mut conn).await.map_err(error)?;
                pipe.query_async(&mut conn).await.map_err(error)?
            }
            reply => reply.map_err(error)?,
        };
        if extended < keys.keys.len() {
            return Ok(None);
        }
        Ok(Some(acknowledged))
    }
}

/// Follows failovers as the sentinels announce them: subscribed to `+switch-master` on one
/// sentinel at a time (the next one when its connection fails), it switches to the new master
/// as soon as a failover of this master is announced. Without it, a client would notice a
/// failover only when a command fails; a master demoted while it is up keeps taking writes
/// (which the failover discards) until Sentinel reconfigures it, some seconds later.
///
/// Ends when the backend is dropped.
async fn watch(inner: std::sync::Weak<Inner>) {
    const RETRY: Duration = Duration::from_secs(1);
    for turn in 0.. {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let (address, sentinel) = &strong.sentinels[turn % strong.sentinels.len()];
        let (address, sentinel, name) = (
            address.clone(),
            sentinel.clone(),
            strong.master_name.clone(),
        );
        let subscribed = tokio::time::timeout(
            strong.settings.connect_timeout + strong.settings.response_timeout,
            async {
                let mut pubsub = sentinel.get_async_pubsub().await?;
                pubsub.subscribe("+switch-master").await?;
                redis::RedisResult::Ok(pubsub)
            },
        )
        .await;
        drop(strong);
        let mut messages = match subscribed {
            Ok(Ok(pubsub)) => pubsub.into_on_message(),
            Ok(Err(error)) => {
                tracing::debug!(%error, sentinel = %address, "redis-mutex: cannot watch for failovers");
                tokio::time::sleep(RETRY).await;
                continue;
            }
            Err(_) => {
                tracing::debug!(sentinel = %address, "redis-mutex: cannot watch for failovers (timeout)");
                continue;
            }
        };
        while let Some(message) = messages.next().await {
            let payload: String = message.get_payload().unwrap_or_default();
            // `<master-name> <old-ip> <old-port> <new-ip> <new-port>`
            let fields: Vec<&str> = payload.split(' ').collect();
            let [switched, _, _, host, port] = fields[..] else {
                continue;
            };
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let current = inner.current();
            let moved = current
                .as_ref()
                .is_some_and(|master| master.address != format!("{host}:{port}"));
            if switched == name && moved {
                tracing::info!(master = %name, new = %format!("{host}:{port}"), "redis-mutex: the sentinels announced a failover");
                if let Err(error) = inner.rediscover(current.as_ref()).await {
                    tracing::debug!(%error, "redis-mutex: could not switch to the new master yet");
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Whether `error` is what a command sees when the master it was sent to has failed over: no
/// connection or no answer, or a demoted master's `READONLY`.
fn after_failover(error: &Error) -> bool {
    match error {
        Error::Unreachable { .. } => true,
        Error::Refused { source, .. } => {
            source
                .downcast_ref::<redis::RedisError>()
                .and_then(redis::RedisError::code)
                == Some("READONLY")
                // A script's write refused on a replica, as some versions word it.
                || source.to_string().contains("READONLY")
        }
        _ => false,
    }
}

/// A broken-connection error (see [`Error::is_broken_connection`]) at `server`, because of
/// `why`: the caller then goes the usual way, through the crate runtime.
fn broken(server: &str, why: &str) -> Error {
    let cause = std::io::Error::new(std::io::ErrorKind::ConnectionReset, why.to_owned());
    Error::Unreachable {
        server: server.to_owned(),
        source: Box::new(redis::RedisError::from(cause)),
    }
}

/// Whether `error` is a demoted master's refusal (`READONLY`): the command did not run.
fn refused_by_demoted(error: &Error) -> bool {
    matches!(error, Error::Refused { .. }) && after_failover(error)
}

/// An error of a call over a caller runtime's connection, as a broken connection when a
/// failover explains it (see [`after_failover`]): the call then goes again through the crate
/// runtime, which asks the sentinels.
fn on_local_failed(error: Error) -> Error {
    if !after_failover(&error) || error.is_broken_connection() {
        return error;
    }
    let server = match &error {
        Error::Unreachable { server, .. } | Error::Refused { server, .. } => server.clone(),
        _ => String::new(),
    };
    broken(&server, &format!("{error}; the master may have changed"))
}

/// The error of a connection or command that took longer than `bound`.
fn timed_out(bound: Duration) -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no answer within {bound:?}"),
    ))
}

/// An error and its causes, for a message that gathers several.
fn error_chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Every call but the uncontended path's goes through the crate runtime, on the shared
/// connection of the master in use, so that each can be retried on a new master after a
/// failover. The uncontended path goes on a caller runtime's connection to the master in use
/// ([`Backend::local`], see the module docs), or, for the blocking API, on the calling thread's
/// ([`Backend::acquire_on_thread`], [`Backend::release_on_thread`]).
impl Backend for SentinelBackend {
    fn server(&self) -> &str {
        &self.inner.display
    }

    // The caller-runtime paths use `self.inner` directly: `inner()` would start the watcher on
    // the caller's runtime. (A caller-runtime connection exists only once a master was found,
    // through the crate runtime, which started it there.)
    fn local(&self) -> Option<Local> {
        let master = self.fast_master()?;
        let Local {
            conn: LocalConn::Single(conn),
            runtime,
        } = master.server.local()?
        else {
            return None;
        };
        Some(Local {
            runtime,
            conn: LocalConn::Sentinel(SentinelLocal { master, conn }),
        })
    }

    fn local_failed(&self, local: &Local) {
        if let LocalConn::Sentinel(own) = &local.conn {
            own.master.server.local_failed(&own.single(local));
        }
    }

    /// The blocking API's first attempt, on the calling thread's connection to the master in
    /// use (see [`local`](Backend::local)).
    fn acquire_on_thread(
        &self,
        keys: &KeySet,
        token: &str,
        ttl: Duration,
        fencing: bool,
        probe: bool,
    ) -> Option<Result<Attempt>> {
        let master = self.fast_master()?;
        let attempt = master
            .server
            .acquire_on_thread(keys, token, ttl, fencing, probe)?;
        Some(attempt.map_err(on_local_failed))
    }

    /// The blocking API's release, on the calling thread's connection to the master in use.
    /// Refused by a demoted master (it did not run), it goes through the crate runtime (`None`),
    /// to the master in use.
    fn release_on_thread(
        &self,
        keys: &KeySet,
        token: &str,
        contended: bool,
    ) -> Option<Result<usize>> {
        let master = self.fast_master()?;
        match master.server.release_on_thread(keys, token, contended)? {
            Err(error) if refused_by_demoted(&error) => None,
            done => Some(done.map_err(on_local_failed)),
        }
    }

    fn acquire<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
        fencing: bool,
        probe: bool,
        via: &'a Via,
    ) -> BoxFuture<'a, Result<Attempt>> {
        if let Via::Local(local) = via {
            let inner = &self.inner;
            return Box::pin(async move {
                let (master, via) = inner.local_master(local)?;
                let acquire = master
                    .server
                    .acquire(keys, token, ttl, fencing, probe, &via);
                acquire.await.map_err(on_local_failed)
            });
        }
        let inner = self.inner();
        Box::pin(inner.on_master(move |master| {
            Box::pin(async move {
                let attempt = master
                    .server
                    .acquire(keys, token, ttl, fencing, probe, &Via::Shared)
                    .await?;
                inner.confirm(&master, keys, token, ttl, attempt).await
            })
        }))
    }

    fn wait_attempt<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
        fencing: bool,
        wait: WaitAttempt,
    ) -> BoxFuture<'a, Result<Attempt>> {
        let inner = self.inner();
        Box::pin(inner.on_master(move |master| {
            Box::pin(async move {
                let attempt = master
                    .server
                    .wait_attempt(keys, token, ttl, fencing, wait)
                    .await?;
                inner.confirm(&master, keys, token, ttl, attempt).await
            })
        }))
    }

    /// With [`ReplicaAcks`], a hand-over counts only once the replicas have it, as any other
    /// acquisition: the confirmation claims the lock (`EXTEND` to `ttl`) and waits for the
    /// replicas in one round trip (see [`Inner::replicated`]). Without, `None`.
    fn confirm_grant<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
    ) -> Option<BoxFuture<'a, Result<bool>>> {
        let inner = self.inner();
        let acks = inner.acks?;
        Some(Box::pin(inner.on_master(move |master| {
            Box::pin(async move { inner.replicated(&master, keys, token, ttl, acks).await })
        })))
    }

    fn release<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        via: &'a Via,
    ) -> BoxFuture<'a, Result<usize>> {
        self.release_as(keys, token, via, None)
    }

    /// The master's own [`release_held`](Backend::release_held) (which first tries the cheap
    /// release of an uncontended lock), wherever the release goes.
    fn release_held<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        via: &'a Via,
        contended: bool,
    ) -> BoxFuture<'a, Result<usize>> {
        self.release_as(keys, token, via, Some(contended))
    }

    fn extend<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<usize>> {
        let inner = self.inner();
        Box::pin(inner.on_master(move |master| {
            Box::pin(async move { master.server.extend(keys, token, ttl).await })
        }))
    }

    fn subscribe(&self, keys: &KeySet, token: Arc<str>) -> Subscription {
        let inner = self.inner();
        match inner.current() {
            Some(master) => master.server.subscriber().subscribe(keys.channels(), token),
            // Registering must not wait for Redis. Waiters subscribe after an attempt, which
            // found the master, except after another task's attempt that failed: this one
            // then waits by polling, on a subscription where no release is ever announced.
            None => inner
                .no_master
                .get_or_init(|| {
                    let (address, sentinel) = &inner.sentinels[0];
                    Subscriber::spawn(sentinel.clone(), address.clone(), inner.settings.into())
                })
                .subscribe(keys.channels(), token),
        }
    }

    fn holders<'a>(&'a self, keys: &'a KeySet) -> BoxFuture<'a, Result<Vec<Option<String>>>> {
        let inner = self.inner();
        Box::pin(
            inner.on_master(move |master| {
                Box::pin(async move { master.server.holders(keys).await })
            }),
        )
    }

    fn inspect<'a>(&'a self, keys: &'a KeySet) -> BoxFuture<'a, Result<KeyState>> {
        let inner = self.inner();
        Box::pin(
            inner.on_master(move |master| {
                Box::pin(async move { master.server.inspect(keys).await })
            }),
        )
    }
}
