//! Redis Cluster: locks spread over the masters of a cluster by the slot of their keys.
//!
//! Every Redis name of one lock name (the lock key and its companions: queue, waiter entries,
//! fencing counter, release channel) hashes to the lock key's slot (see [`crate::protocol`]),
//! so each script call for names of one slot runs, unchanged, on the master that owns the slot,
//! through redis-rs's cluster connection, which routes a call by the slot of its first key and
//! follows the cluster's topology. The scripts also read waiter entries not listed in their
//! `KEYS`; those live in the same slot, which Redis accepts from a script without flags
//! (`tests/cluster.rs` shows it on a real cluster).
//!
//! A lock over names of several slots cannot be taken by one script. It is taken slot group by
//! slot group, in ascending slot order, each group all-or-nothing with
//! [`ACQUIRE`](protocol::ACQUIRE); when a group is busy, the groups already taken are released before the attempt reports
//! [`Attempt::Busy`], so no caller ever holds some of its names while it waits for others, and
//! no two callers can deadlock. Such a waiter polls (woken by release announcements, and at
//! least every `max_poll_interval`) instead of standing in the Redis queues, so first come,
//! first served holds for single names and for names of one slot (hash tags `{…}` keep a
//! multi-name lock in one slot), not for a lock across slots.
//!
//! Release announcements and hand-overs are published with classic `PUBLISH`, which a cluster
//! broadcasts to every node, and which the publishing node delivers to its own subscribers at
//! once: a waiter listens on a subscriber connected to the master of its lock's slot (one per
//! master that has waiters, see [`subscribers`]), which hears its lock's announcements
//! without a hop over the cluster bus; hand-overs to it go to that subscriber's inbox channel.
//! Until the slot map is known, and for locks across slots, waiters listen on a subscriber
//! connected to any seed node, which hears every announcement over the bus. (Sharded pub/sub
//! would need a channel per lock slot for hand-overs, which go to one inbox channel per
//! subscriber, and Redis 7.)
//!
//! The uncontended path (one attempt, one release, from a tokio runtime other than the crate's)
//! runs in the caller's task over a cluster connection driven by the caller's runtime (one per
//! runtime, kept as the single-server backend keeps its plain ones).
//!
//! Calls are never retried by redis-rs, which could run a script twice after a timeout: a
//! reply the caller never saw is an error, cleaned up as on one server. Only replies that prove
//! a command did not run are acted on here, within the response timeout:
//!
//! - `ASK` (a slot migrating, the key not, or no longer, on the source node): the command goes,
//!   at once and once, to the node named, with `ASKING` in front on that node's connection
//!   (see `ask`);
//! - `MOVED` (after a resharding; redis-rs refreshes its slot map), `TRYAGAIN` (a command of
//!   several keys of a migrating slot that are not all on the node), `CLUSTERDOWN` and
//!   `MASTERDOWN` (during a failover): retried after a pause, growing from 10 ms.
//!
//! So no call runs twice: every command and script (`SET NX`, acquire, wait, release,
//! unlock, extend, the holder probe) is sent again only after such a reply, never after a
//! reply that was lost. During a slot migration, a command on one key always reaches the node
//! that has the key (or, when neither has it, the target, where it is created), so locks keep
//! excluding each other: taking a single name, extending a lock, and an uncontended
//! single-name release (which takes the lock key only, with `UNLOCK`) complete during a
//! migration. A script of several keys (a multi-name lock, a wait in the queue, a release with
//! a waiter) runs there only when every one of its keys exists on one of the two nodes; a key
//! on the other node, or on neither (an empty queue), gets it `TRYAGAIN`, retried within the
//! response timeout, so it may wait for the migration to end.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use redis::aio::MultiplexedConnection;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{FromRedisValue, RedisError, RedisResult};
use tokio::time::Instant;

use super::connect::Shared;
use super::local::{self, Locals};
use super::single::{
    self, ConnectionSettings, SingleServer, acquire_attempt, acquire_invocation, probe_attempt,
    probe_holder, set_nx,
};
use super::subscriber::Subscription;
use super::{Backend, BoxFuture, Local, LocalConn, Via, WaitAttempt};
use crate::admin::{self, InspectReply, KeyState};
use crate::error::{Error, Result};
use crate::protocol::{self, Attempt, EXTEND, HOLDERS, KeySet, RELEASE, UNLOCK, WAIT};
use ask::{AskTarget, Node};

mod ask;
mod slots;
mod subscribers;
mod topology;
mod url;

use subscribers::Subscribers;
use topology::Topology;
pub(crate) use url::seeds;

/// A Redis Cluster, reached through its seed nodes: one cluster connection (one multiplexed
/// connection per node, opened on first use) and a subscriber connection per master that has
/// waiters (see [`subscribers`]), shared by every lock on this cluster.
pub(crate) struct ClusterBackend {
    client: ClusterClient,
    server: String,
    settings: ConnectionSettings,
    commands: Shared<ClusterConnection>,
    subscribers: Subscribers,
    /// The slot map, as far as known.
    topology: Arc<Topology>,
    /// The uncontended path's connections, one set per caller runtime.
    locals: Arc<Locals<ClusterLocal>>,
}

impl std::fmt::Debug for ClusterBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterBackend")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl ClusterBackend {
    /// A cluster reached through `seeds` (node URLs, as [`seeds`] makes them); no I/O happens
    /// until the first command. `server` is the redacted cluster URL, for messages.
    pub(crate) fn new(
        seeds: &[String],
        server: String,
        settings: ConnectionSettings,
        tls_roots: Option<&[u8]>,
    ) -> Result<Self> {
        let invalid = |error: RedisError| Error::InvalidUrl {
            url: server.clone(),
            reason: crate::client::redact(&error.to_string()),
        };
        let builder = ClusterClientBuilder::new(seeds.iter().map(String::as_str))
            .retries(0)
            // `TCP_NODELAY`, as on one server (see `client/open.rs`).
            .tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true))
            .connection_timeout(settings.connect_timeout)
            .response_timeout(settings.response_timeout);
        #[cfg(feature = "tls")]
        let builder = match tls_roots {
            Some(pem) => builder.certs(redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.to_vec()),
            }),
            None => builder,
        };
        #[cfg(not(feature = "tls"))]
        let _ = tls_roots;
        let client = builder.build().map_err(invalid)?;
        let nodes: Vec<redis::Client> = seeds
            .iter()
            .map(|seed| node_client(seed, tls_roots))
            .collect::<RedisResult<_>>()
            .map_err(invalid)?;
        let (connect, response) = (settings.connect_timeout, settings.response_timeout);
        let topology = Topology::new(nodes[0].clone());
        Ok(ClusterBackend {
            locals: Locals::new({
                let (client, topology) = (client.clone(), topology.clone());
                let bound = connect.saturating_add(response);
                Box::new(move || {
                    Box::pin(ClusterLocal::connect(
                        client.clone(),
                        topology.clone(),
                        settings,
                        bound,
                    ))
                })
            }),
            subscribers: Subscribers::new(nodes, server.clone(), settings.into(), topology.clone()),
            topology,
            client,
            server,
            settings,
            commands: Shared::new(),
        })
    }

    /// The cluster connection, connecting first if needed: one connect at a time, bounded by
    /// the connect plus the response timeout (it reads the slot map), and a caller that waited
    /// for another caller's attempt shares its failure instead of starting one more.
    async fn connection(&self) -> Result<ClusterConnection> {
        self.commands
            .get_or_connect(&self.server, || async {
                let bound = self
                    .settings
                    .connect_timeout
                    .saturating_add(self.settings.response_timeout);
                match tokio::time::timeout(bound, self.client.get_async_connection()).await {
                    Ok(Ok(conn)) => {
                        self.topology.refresh(conn.clone());
                        Ok(conn)
                    }
                    Ok(Err(error)) => Err(self.connect_error(error)),
                    Err(_) => Err(Error::unreachable(
                        &self.server,
                        std::io::ErrorKind::TimedOut,
                        &format!("no answer from the seed nodes within {bound:?}"),
                    )),
                }
            })
            .await
    }

    /// A failed first connect: a seed node that is not in cluster mode is a wrong URL.
    fn connect_error(&self, error: RedisError) -> Error {
        if error.to_string().contains("cluster support disabled") {
            return Error::InvalidUrl {
                url: self.server.clone(),
                reason: "the seed node is not a Redis Cluster node (its cluster mode is off): \
                         open a standalone server with `redis://host:port`"
                    .into(),
            };
        }
        Error::from_redis(&self.server, None, error)
    }

    /// The cluster connection `via` names.
    async fn connection_via(&self, via: &Via) -> Result<ClusterConnection> {
        match via {
            Via::Shared => self.connection().await,
            Via::Local(local) => match &local.conn {
                LocalConn::Cluster(conns) => Ok(conns.cluster.clone()),
                _ => Err(Local::foreign(&self.server)),
            },
        }
    }

    /// Runs `call` on the connection `via` names. A reply that proves the command did not run
    /// (see [`not_run`]) is acted on within the response timeout: an `ASK` is followed at once
    /// (the next call goes to the node named, with `ASKING`), anything else is retried after a
    /// pause.
    async fn run<T, F, Fut>(&self, keys: &KeySet, via: &Via, mut call: F) -> Result<T>
    where
        F: FnMut(Node) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let deadline = Instant::now() + self.settings.response_timeout;
        let mut pause = Duration::from_millis(10);
        let mut ask: Option<AskTarget> = None;
        // A caller runtime's connection to the slot's master, tried first (see `ClusterLocal`).
        let mut direct = direct_connection(keys, via);
        loop {
            let conn = self.connection_via(via).await?;
            let asked = ask.take();
            let following = asked.is_some();
            let node = match direct.take() {
                Some(direct) => Node::direct(conn, direct),
                None => Node::new(conn, asked),
            };
            let was_direct = node.is_direct();
            let error = match call(node).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let moved = error.code() == Some("MOVED");
            if moved || error.is_io_error() || error.is_connection_dropped() {
                // The slots moved, or a master may have failed over: later waiters listen, and
                // later calls go, where the slots are now.
                if let Some(shared) = self.commands.get() {
                    self.topology.refresh(shared.clone());
                }
            }
            if moved && let (true, Via::Local(local)) = (was_direct, via) {
                self.locals.failed(local);
            }
            let again = not_run(&error) || (following && ask::not_sent(&error));
            if again && was_direct && AskTarget::of(&error).is_none() {
                // Not run on the master this process took for the slot's: the cluster
                // connection, which follows redirections, takes it from here.
                continue;
            }
            if again && Instant::now() < deadline {
                // An ASK is followed once; one more (which a node with ASKING does not send)
                // waits as any other reply of its kind.
                if !following && let Some(target) = AskTarget::of(&error) {
                    tracing::debug!(%target, "redis-mutex: cluster ASK redirection; following");
                    ask = Some(target);
                    continue;
                }
                if Instant::now() + pause < deadline {
                    tracing::debug!(%error, "redis-mutex: cluster redirection; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 3;
                    continue;
                }
            }
            if again {
                // Proved not run, until the bound: a resharding or failover that outlasted it
                // is an outage of that slot for this call (`is_connection()`), not a refusal.
                return Err(Error::unreachable(
                    &self.server,
                    std::io::ErrorKind::TimedOut,
                    &format!(
                        "the cluster did not serve the lock's slot within the response timeout \
                         ({:?}), so the command did not run; it last answered `{error}` (a \
                         slot migration or failover under way): try again later",
                        self.settings.response_timeout
                    ),
                ));
            }
            let key = keys.keys.first().map(String::as_str);
            return Err(Error::from_redis(&self.server, key, error));
        }
    }

    async fn script<T: FromRedisValue>(
        &self,
        keys: &KeySet,
        via: &Via,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T> {
        self.run(keys, via, move |mut conn| async move {
            invocation.invoke_async(&mut conn).await
        })
        .await
    }

    /// One attempt on names of one slot: `SET NX` for one name, the all-or-nothing script for
    /// several (or with fencing), as on one server.
    async fn acquire_slot(
        &self,
        keys: &KeySet,
        token: &str,
        ttl: Duration,
        fencing: bool,
        (probe, via): (bool, &Via),
    ) -> Result<Attempt> {
        if keys.keys.len() > 1 || fencing {
            let reply: Vec<i64> = self
                .script(keys, via, &acquire_invocation(keys, token, ttl, fencing))
                .await?;
            return acquire_attempt(&self.server, keys, &reply);
        }
        let set = &set_nx(keys, token, ttl);
        let set: Option<()> = self
            .run(keys, via, move |mut conn| async move {
                set.query_async(&mut conn).await
            })
            .await?;
        if set.is_some() {
            return Ok(Attempt::Acquired { fences: Vec::new() });
        }
        if !probe {
            return Ok(Attempt::Busy { pttl: None });
        }
        let probe = &probe_holder(keys);
        let reply = self
            .run(keys, via, move |mut conn| async move {
                probe.query_async(&mut conn).await
            })
            .await?;
        probe_attempt(&self.server, keys, reply)
    }

    /// One attempt on names of several slots: group by group in slot order, each all or
    /// nothing; a busy group gives back the groups taken, so nothing is held while waiting.
    async fn acquire_groups(
        &self,
        groups: &[slots::Group],
        names: usize,
        token: &str,
        (ttl, fencing): (Duration, bool),
        via: &Via,
    ) -> Result<Attempt> {
        let mut fences = vec![0; if fencing { names } else { 0 }];
        for (taken, group) in groups.iter().enumerate() {
            let attempt = self
                .acquire_slot(&group.keys, token, ttl, fencing, (true, via))
                .await;
            match attempt {
                Ok(Attempt::Acquired { fences: got }) => {
                    for (&index, fence) in group.indices.iter().zip(got) {
                        fences[index] = fence;
                    }
                }
                // A failed roll-back is reported as the error it is: the caller then releases
                // every name again (a busy reply would leave the names taken until their TTL).
                Ok(Attempt::Busy { pttl }) => {
                    self.release_groups(&groups[..taken], token, via).await?;
                    return Ok(Attempt::Busy { pttl });
                }
                Err(error) => {
                    let _ = self.release_groups(&groups[..=taken], token, via).await;
                    return Err(error);
                }
            }
        }
        Ok(Attempt::Acquired { fences })
    }

    /// [`RELEASE`] of `keys` (names of one slot) for `token`.
    async fn release_slot(&self, keys: &KeySet, token: &str, via: &Via) -> Result<usize> {
        let invocation = SingleServer::queue_script(&RELEASE, keys, token);
        self.script(keys, via, &invocation).await
    }

    /// Releases every group, all at once; the number of names released, or the first error.
    async fn release_groups(
        &self,
        groups: &[slots::Group],
        token: &str,
        via: &Via,
    ) -> Result<usize> {
        let released = join_all(
            groups
                .iter()
                .map(|group| self.release_slot(&group.keys, token, via)),
        )
        .await;
        released.into_iter().sum()
    }

    async fn extend_slot(&self, keys: &KeySet, token: &str, ttl: Duration) -> Result<usize> {
        let mut invocation = EXTEND.key(&keys.keys);
        invocation.arg(token).arg(protocol::ttl_millis(ttl));
        self.script(keys, &Via::Shared, &invocation).await
    }

    async fn holders_slot(&self, keys: &KeySet) -> Result<Vec<Option<String>>> {
        // Through a script, so that a key of another type is WrongType, not an error of MGET.
        let holders: Vec<Option<String>> = self
            .script(keys, &Via::Shared, &HOLDERS.key(&keys.keys))
            .await?;
        Ok(holders
            .into_iter()
            .map(|holder| holder.map(protocol::holder_token))
            .collect())
    }
}

/// The client of one seed node, for the subscriber, trusting `tls_roots` (PEM) instead of the
/// system's roots when given, as the cluster connection does.
fn node_client(seed: &str, tls_roots: Option<&[u8]>) -> RedisResult<redis::Client> {
    #[cfg(feature = "tls")]
    if let Some(pem) = tls_roots {
        return redis::Client::build_with_tls(
            seed,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.to_vec()),
            },
        );
    }
    #[cfg(not(feature = "tls"))]
    let _ = tls_roots;
    redis::Client::open(seed)
}

/// A caller runtime's connections to the cluster: a cluster connection, and one to each
/// master of the slot map known when it was made, which the uncontended path's commands go on
/// straight (no routing task in between; a `MOVED` sends them through the cluster connection,
/// and makes the runtime's connections again, for the new map).
#[derive(Clone)]
pub(super) struct ClusterLocal {
    cluster: ClusterConnection,
    /// The slot map `direct` was made for, and its generation.
    owners: Arc<[(u16, u16, Arc<str>)]>,
    generation: u64,
    direct: Arc<[(Arc<str>, MultiplexedConnection)]>,
}

impl ClusterLocal {
    /// Opens the connections on the calling runtime, within `bound`: `None` without a cluster
    /// connection (a master that does not answer is only left out of `direct`).
    async fn connect(
        client: ClusterClient,
        topology: Arc<Topology>,
        settings: ConnectionSettings,
        bound: Duration,
    ) -> Option<ClusterLocal> {
        let cluster = tokio::time::timeout(bound, client.get_async_connection())
            .await
            .ok()?
            .ok()?;
        let generation = topology.generation();
        let owners = topology.owners();
        let mut masters: Vec<Arc<str>> = owners.iter().map(|(_, _, addr)| addr.clone()).collect();
        masters.sort_unstable();
        masters.dedup();
        let direct = join_all(masters.into_iter().map(|addr| {
            let client = topology.node_client(&addr);
            async move {
                let conn = local::connect_multiplexed(&client?, settings).await?;
                Some((addr, conn))
            }
        }))
        .await;
        Some(ClusterLocal {
            cluster,
            owners,
            generation,
            direct: direct.into_iter().flatten().collect(),
        })
    }
}

/// The connection to the master of `keys`' slot in `via`, a caller runtime's connections.
fn direct_connection(keys: &KeySet, via: &Via) -> Option<MultiplexedConnection> {
    let Via::Local(local) = via else {
        return None;
    };
    let LocalConn::Cluster(conns) = &local.conn else {
        return None;
    };
    let master = topology::owner_in(&conns.owners, keys)?;
    conns
        .direct
        .iter()
        .find(|(addr, _)| *addr == master)
        .map(|(_, conn)| conn.clone())
}

/// Whether a Redis error proves that the command did not run: the cluster sent it elsewhere
/// (`MOVED`, `ASK`), or could not serve the slot for now (`TRYAGAIN` during a migration,
/// `CLUSTERDOWN`, `MASTERDOWN`).
fn not_run(error: &RedisError) -> bool {
    matches!(
        error.code(),
        Some("MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN" | "MASTERDOWN")
    )
}

impl Backend for ClusterBackend {
    fn server(&self) -> &str {
        &self.server
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
        Box::pin(async move {
            match slots::split(keys) {
                None => {
                    self.acquire_slot(keys, token, ttl, fencing, (probe, via))
                        .await
                }
                Some(groups) => {
                    let names = keys.keys.len();
                    self.acquire_groups(&groups, names, token, (ttl, fencing), via)
                        .await
                }
            }
        })
    }

    fn local(&self) -> Option<Local> {
        // Only once the shared connection is up: its first connect checks the seeds.
        self.commands.get()?;
        let local = self.locals.get()?;
        if let LocalConn::Cluster(conns) = &local.conn
            && conns.generation != self.topology.generation()
        {
            // Made for another slot map: make them again, in the background, for the new one
            // (this call still goes through them: a slot that moved answers `MOVED`).
            self.locals.failed(&local);
        }
        Some(local)
    }

    fn local_failed(&self, local: &Local) {
        self.locals.failed(local);
    }

    fn wait_attempt<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
        fencing: bool,
        wait: WaitAttempt,
    ) -> BoxFuture<'a, Result<Attempt>> {
        Box::pin(async move {
            if let Some(groups) = slots::split(keys) {
                // Across slots, no queue: a plain all-or-nothing attempt (see the module docs).
                let names = keys.keys.len();
                return self
                    .acquire_groups(&groups, names, token, (ttl, fencing), &Via::Shared)
                    .await;
            }
            let mut invocation = SingleServer::queue_script(&WAIT, keys, token);
            invocation
                .arg(protocol::ttl_millis(ttl))
                .arg(if fencing { "1" } else { "0" })
                .arg(protocol::ttl_millis(wait.queue_entry))
                .arg(self.subscribers.listener(keys).inbox())
                .arg(protocol::ttl_millis(wait.claim))
                .arg(wait.number);
            let reply: Vec<i64> = self.script(keys, &Via::Shared, &invocation).await?;
            acquire_attempt(&self.server, keys, &reply)
        })
    }

    fn release<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        via: &'a Via,
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            match slots::split(keys) {
                None => self.release_slot(keys, token, via).await,
                Some(groups) => self.release_groups(&groups, token, via).await,
            }
        })
    }

    /// An uncontended single-name release first tries [`UNLOCK`], which takes the lock key
    /// only (so it is not held up by a migration of its slot: see the module docs), and falls
    /// back to [`RELEASE`] when someone waits.
    fn release_held<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        via: &'a Via,
        contended: bool,
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            if keys.keys.len() == 1 && !contended {
                let mut invocation = UNLOCK.prepare_invoke();
                invocation.key(&keys.keys[0]).arg(token);
                let released: i64 = self.script(keys, via, &invocation).await?;
                if let Ok(released) = usize::try_from(released) {
                    return Ok(released);
                }
            }
            self.release(keys, token, via).await
        })
    }

    fn extend<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            match slots::split(keys) {
                None => self.extend_slot(keys, token, ttl).await,
                Some(groups) => join_all(
                    groups
                        .iter()
                        .map(|group| self.extend_slot(&group.keys, token, ttl)),
                )
                .await
                .into_iter()
                .sum(),
            }
        })
    }

    fn subscribe(&self, keys: &KeySet, token: std::sync::Arc<str>) -> Subscription {
        if !self.topology.fresher_than(topology::MAX_AGE)
            && let Some(shared) = self.commands.get()
        {
            self.topology.refresh(shared.clone());
        }
        self.subscribers
            .listener(keys)
            .subscribe(keys.channels(), token)
    }

    fn holders<'a>(&'a self, keys: &'a KeySet) -> BoxFuture<'a, Result<Vec<Option<String>>>> {
        Box::pin(async move {
            let Some(groups) = slots::split(keys) else {
                return self.holders_slot(keys).await;
            };
            let mut holders = vec![None; keys.keys.len()];
            let replies = join_all(groups.iter().map(|group| self.holders_slot(&group.keys)));
            for (group, reply) in groups.iter().zip(replies.await) {
                for (&index, holder) in group.indices.iter().zip(reply?) {
                    holders[index] = holder;
                }
            }
            Ok(holders)
        })
    }

    fn inspect<'a>(&'a self, keys: &'a KeySet) -> BoxFuture<'a, Result<KeyState>> {
        Box::pin(async move {
            let reply: InspectReply = self
                .script(keys, &Via::Shared, &single::inspect_invocation(keys))
                .await?;
            admin::parse_inspect_reply(reply).ok_or_else(|| admin::wrong_type(keys, &self.server))
        })
    }
}
