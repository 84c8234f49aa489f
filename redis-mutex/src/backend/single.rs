//! One Redis server (or a replicated master behind one address).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::connect::Shared;
use super::local::{self, Locals, ThreadConnections};
use super::subscriber::{Subscriber, Subscription};
use super::{Backend, BoxFuture, Local, LocalConn, Via, WaitAttempt};
use crate::admin::{self, INSPECT, InspectReply, KeyState};
use crate::error::{Error, Result};
use crate::protocol::{self, ACQUIRE, Attempt, EXTEND, HOLDERS, KeySet, RELEASE, UNLOCK, WAIT};

/// Connection settings that are part of a server's identity in the connection cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ConnectionSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
}

/// One server: a multiplexed, self-reconnecting command connection and a subscriber connection,
/// both opened on first use on the crate runtime and shared by every lock on this server.
#[derive(Debug)]
pub(crate) struct SingleServer {
    client: redis::Client,
    server: String,
    settings: ConnectionSettings,
    commands: Shared<ConnectionManager>,
    subscriber: OnceLock<Subscriber>,
    locals: Arc<Locals<MultiplexedConnection>>,
    threads: ThreadConnections,
}

/// The connection a command goes on (see [`Via`]).
enum Conn {
    Shared(ConnectionManager),
    Local(MultiplexedConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Shared(conn) => conn.req_packed_command(cmd),
            Conn::Local(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Shared(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Local(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Shared(conn) => conn.get_db(),
            Conn::Local(conn) => conn.get_db(),
        }
    }
}

impl SingleServer {
    /// Prepares a server; no I/O happens until the first command.
    pub(crate) fn new(client: redis::Client, server: String, settings: ConnectionSettings) -> Self {
        SingleServer {
            locals: Locals::new({
                let client = client.clone();
                Box::new(move || local::connect_multiplexed(&client, settings))
            }),
            threads: ThreadConnections::new(client.clone(), settings),
            client,
            server,
            settings,
            commands: Shared::new(),
            subscriber: OnceLock::new(),
        }
    }

    /// The shared command connection, connecting first if needed: one connect attempt at a
    /// time, bounded by the connect timeout as a whole (TCP, TLS and the handshake), and a
    /// caller that waited for another caller's attempt shares its failure instead of starting
    /// one more. So a server that accepts connections and never answers fails every call
    /// within that timeout, however many calls are waiting.
    async fn connection(&self) -> Result<ConnectionManager> {
        self.commands
            .get_or_connect(&self.server, || async {
                let timeout = self.settings.connect_timeout;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(self.settings.response_timeout))
                    .set_number_of_retries(0)
                    .set_max_delay(Duration::from_secs(1));
                let connected = tokio::time::timeout(
                    timeout,
                    ConnectionManager::new_with_config(self.client.clone(), config),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(redis::RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no answer within the connect timeout ({timeout:?})"),
                    )))
                })
                .map_err(|source| Error::from_redis(&self.server, None, source));
                match connected {
                    Ok(conn) => self.check_server(conn).await,
                    Err(error) => Err(error),
                }
            })
            .await
    }

    /// Checks a new connection's server in one round trip (`INFO cluster` and `INFO memory`):
    /// a Redis Cluster node is refused with [`Error::InvalidUrl`], since a lock there would
    /// half-work (keys of other slots are refused with `MOVED`); eviction settings that put lock
    /// keys at risk are warned about (once per server and process: this runs on the first
    /// connect only). A server that refuses `INFO` is not checked.
    async fn check_server(&self, mut conn: ConnectionManager) -> Result<ConnectionManager> {
        let info: redis::RedisResult<(String, String)> = redis::pipe()
            .cmd("INFO")
            .arg("cluster")
            .cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await;
        match info {
            Ok((cluster, _)) if protocol::is_cluster_node(&cluster) => Err(Error::InvalidUrl {
                url: self.server.clone(),
                reason: "the server is a Redis Cluster node: open it as a cluster with \
                         `redis+cluster://host:port[,host:port…]` (a plain `redis://` URL reaches \
                         one node only, and locks on names in other nodes' slots would be \
                         refused with MOVED)"
                    .into(),
            }),
            Ok((_, memory)) => {
                if let Some(risk) = protocol::eviction_risk(&memory) {
                    tracing::warn!(server = %self.server, "redis-mutex: unsafe eviction settings: {risk}");
                }
                Ok(conn)
            }
            Err(error) if error.is_io_error() || error.is_timeout() => {
                Err(Error::from_redis(&self.server, None, error))
            }
            Err(error) => {
                tracing::debug!(%error, "could not check the server's settings (INFO)");
                Ok(conn)
            }
        }
    }

    /// The connection `via` names.
    async fn connection_via(&self, via: &Via) -> Result<Conn> {
        match via {
            Via::Shared => Ok(Conn::Shared(self.connection().await?)),
            Via::Local(local) => match &local.conn {
                LocalConn::Single(conn) => Ok(Conn::Local(conn.clone())),
                _ => Err(Local::foreign(&self.server)),
            },
        }
    }

    pub(crate) fn subscriber(&self) -> &Subscriber {
        self.subscriber.get_or_init(|| {
            Subscriber::spawn(
                self.client.clone(),
                self.server.clone(),
                self.settings.into(),
            )
        })
    }

    fn error(&self, keys: &KeySet, source: redis::RedisError) -> Error {
        Error::from_redis(&self.server, keys.keys.first().map(String::as_str), source)
    }

    /// `SET key token NX PX ttl`: the whole uncontended path for one key.
    async fn acquire_one(
        &self,
        keys: &KeySet,
        token: &str,
        ttl: Duration,
        probe: bool,
        via: &Via,
    ) -> Result<Attempt> {
        let mut conn = self.connection_via(via).await?;
        let set: Option<()> = set_nx(keys, token, ttl)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(keys, e))?;
        if set.is_some() {
            return Ok(Attempt::Acquired { fences: Vec::new() });
        }
        if !probe {
            return Ok(Attempt::Busy { pttl: None });
        }
        // Contended: learn what holds the key and for how long, in one round trip.
        let reply = probe_holder(keys)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(keys, e))?;
        self.probe_reply(keys, reply)
    }

    /// What a busy key's `TYPE` and `PTTL` say.
    fn probe_reply(&self, keys: &KeySet, reply: (String, i64)) -> Result<Attempt> {
        probe_attempt(&self.server, keys, reply)
    }

    /// The all-or-nothing script: several keys, or fencing.
    async fn acquire_script(
        &self,
        keys: &KeySet,
        token: &str,
        ttl: Duration,
        fencing: bool,
        via: &Via,
    ) -> Result<Attempt> {
        let mut conn = self.connection_via(via).await?;
        let reply: Vec<i64> = acquire_invocation(keys, token, ttl, fencing)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(keys, e))?;
        self.acquire_reply(keys, &reply)
    }

    /// [`Backend::acquire_on_thread`], on `conn`: Redis errors outside (they close the
    /// connection), what the replies mean inside.
    fn acquire_sync(
        &self,
        conn: &mut redis::Connection,
        keys: &KeySet,
        token: &str,
        (ttl, fencing, probe): (Duration, bool, bool),
    ) -> redis::RedisResult<Result<Attempt>> {
        if keys.keys.len() > 1 || fencing {
            let reply: Vec<i64> = acquire_invocation(keys, token, ttl, fencing).invoke(conn)?;
            return Ok(self.acquire_reply(keys, &reply));
        }
        let set: Option<()> = set_nx(keys, token, ttl).query(conn)?;
        Ok(match (set, probe) {
            (Some(()), _) => Ok(Attempt::Acquired { fences: Vec::new() }),
            (None, false) => Ok(Attempt::Busy { pttl: None }),
            (None, true) => self.probe_reply(keys, probe_holder(keys).query(conn)?),
        })
    }

    /// The queue-script invocation of `script` for `keys` and `token`: its `KEYS`, and its
    /// `ARGV` up to the channels (see [`protocol::WAIT`]).
    pub(crate) fn queue_script<'s>(
        script: &'s redis::Script,
        keys: &KeySet,
        token: &str,
    ) -> redis::ScriptInvocation<'s> {
        let mut invocation = script.prepare_invoke();
        for key in keys.queue_script_keys() {
            invocation.key(key);
        }
        invocation
            .arg(token)
            .arg(keys.keys.len())
            .arg(keys.channels())
            .arg(keys.entries());
        invocation
    }

    fn acquire_reply(&self, keys: &KeySet, reply: &[i64]) -> Result<Attempt> {
        acquire_attempt(&self.server, keys, reply)
    }
}

/// What a busy key's `TYPE` and `PTTL` say (see [`probe_holder`]), on `server`.
pub(crate) fn probe_attempt(
    server: &str,
    keys: &KeySet,
    (kind, pttl): (String, i64),
) -> Result<Attempt> {
    if kind != "string" && kind != "none" {
        return Err(Error::WrongType {
            key: keys.keys[0].clone(),
            server: server.to_owned(),
        });
    }
    Ok(Attempt::Busy {
        pttl: protocol::pttl_from_reply(pttl),
    })
}

/// What a reply of [`ACQUIRE`] or [`WAIT`] for `keys` on `server` means.
pub(crate) fn acquire_attempt(server: &str, keys: &KeySet, reply: &[i64]) -> Result<Attempt> {
    match protocol::parse_acquire_reply(reply) {
        Some(Ok(attempt)) => Ok(attempt),
        Some(Err(index)) => Err(Error::WrongType {
            key: keys.keys[index].clone(),
            server: server.to_owned(),
        }),
        None => Err(Error::Protocol {
            server: server.to_owned(),
            detail: format!("the acquire script replied {reply:?}"),
        }),
    }
}

/// `SET key token NX PX ttl` for the single key of `keys`.
pub(crate) fn set_nx(keys: &KeySet, token: &str, ttl: Duration) -> redis::Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(&keys.keys[0])
        .arg(token)
        .arg("NX")
        .arg("PX")
        .arg(protocol::ttl_millis(ttl));
    cmd
}

/// `TYPE` and `PTTL` of the single key of `keys`: what holds it, and for how long.
pub(crate) fn probe_holder(keys: &KeySet) -> Pipeline {
    let mut pipe = redis::pipe();
    pipe.cmd("TYPE")
        .arg(&keys.keys[0])
        .cmd("PTTL")
        .arg(&keys.keys[0]);
    pipe
}

/// The [`ACQUIRE`] script for `keys`.
pub(crate) fn acquire_invocation(
    keys: &KeySet,
    token: &str,
    ttl: Duration,
    fencing: bool,
) -> redis::ScriptInvocation<'static> {
    let mut invocation = ACQUIRE.prepare_invoke();
    invocation.key(&keys.keys);
    if fencing {
        invocation.key(keys.fences());
    }
    invocation
        .arg(token)
        .arg(protocol::ttl_millis(ttl))
        .arg(keys.keys.len())
        .arg(if fencing { "1" } else { "0" });
    invocation
}

/// The [`INSPECT`] script for the single name of `keys`.
pub(crate) fn inspect_invocation(keys: &KeySet) -> redis::ScriptInvocation<'static> {
    let mut invocation = INSPECT.key(&keys.keys[0]);
    invocation.key(&keys.fences()[0]);
    invocation.key(&keys.queues()[0]);
    invocation.arg(&keys.entries()[0]);
    invocation
}

/// The [`UNLOCK`] script for a single-name holder's release, unless the lock is `contended`
/// (a waiter most likely queues: [`RELEASE`] at once saves a round trip).
fn unlock(keys: &KeySet, token: &str, contended: bool) -> Option<redis::ScriptInvocation<'static>> {
    (keys.keys.len() == 1 && !contended).then(|| {
        let mut invocation = UNLOCK.prepare_invoke();
        invocation.key(&keys.keys[0]).arg(token);
        invocation
    })
}

impl Backend for SingleServer {
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
            if keys.keys.len() == 1 && !fencing {
                self.acquire_one(keys, token, ttl, probe, via).await
            } else {
                self.acquire_script(keys, token, ttl, fencing, via).await
            }
        })
    }

    fn local(&self) -> Option<Local> {
        // Only once the shared connection is up: its first connect checks the server.
        self.commands.get()?;
        self.locals.get()
    }

    fn local_failed(&self, local: &Local) {
        self.locals.failed(local);
    }

    fn acquire_on_thread(
        &self,
        keys: &KeySet,
        token: &str,
        ttl: Duration,
        fencing: bool,
        probe: bool,
    ) -> Option<Result<Attempt>> {
        self.commands.get()?;
        let outcome = self
            .threads
            .run(|conn| self.acquire_sync(conn, keys, token, (ttl, fencing, probe)))?;
        Some(
            outcome
                .map_err(|e| self.error(keys, e))
                .and_then(|attempt| attempt),
        )
    }

    fn release_on_thread(
        &self,
        keys: &KeySet,
        token: &str,
        contended: bool,
    ) -> Option<Result<usize>> {
        self.commands.get()?;
        self.threads
            .run(|conn| {
                if let Some(unlock) = unlock(keys, token, contended) {
                    let released: i64 = unlock.invoke(conn)?;
                    if let Ok(released) = usize::try_from(released) {
                        return Ok(released);
                    }
                }
                Self::queue_script(&RELEASE, keys, token).invoke(conn)
            })
            .map(|result| result.map_err(|e| self.error(keys, e)))
    }

    fn release_held<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        via: &'a Via,
        contended: bool,
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            let mut conn = self.connection_via(via).await?;
            if let Some(unlock) = unlock(keys, token, contended) {
                let released: i64 = unlock
                    .invoke_async(&mut conn)
                    .await
                    .map_err(|e| self.error(keys, e))?;
                if let Ok(released) = usize::try_from(released) {
                    return Ok(released);
                }
            }
            Self::queue_script(&RELEASE, keys, token)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.error(keys, e))
        })
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
            let mut conn = self.connection().await?;
            let reply: Vec<i64> = Self::queue_script(&WAIT, keys, token)
                .arg(protocol::ttl_millis(ttl))
                .arg(if fencing { "1" } else { "0" })
                .arg(protocol::ttl_millis(wait.queue_entry))
                .arg(self.subscriber().inbox())
                .arg(protocol::ttl_millis(wait.claim))
                .arg(wait.number)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.error(keys, e))?;
            self.acquire_reply(keys, &reply)
        })
    }

    fn release<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        via: &'a Via,
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            let mut conn = self.connection_via(via).await?;
            Self::queue_script(&RELEASE, keys, token)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.error(keys, e))
        })
    }

    fn extend<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            EXTEND
                .key(&keys.keys)
                .arg(token)
                .arg(protocol::ttl_millis(ttl))
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.error(keys, e))
        })
    }

    fn subscribe(&self, keys: &KeySet, token: Arc<str>) -> Subscription {
        self.subscriber().subscribe(keys.channels(), token)
    }

    fn holders<'a>(&'a self, keys: &'a KeySet) -> BoxFuture<'a, Result<Vec<Option<String>>>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            // Through a script, so that a key of another type is WrongType, not an error of MGET.
            let holders: Vec<Option<String>> = HOLDERS
                .key(&keys.keys)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.error(keys, e))?;
            Ok(holders
                .into_iter()
                .map(|holder| holder.map(protocol::holder_token))
                .collect())
        })
    }

    fn inspect<'a>(&'a self, keys: &'a KeySet) -> BoxFuture<'a, Result<KeyState>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let reply: InspectReply = inspect_invocation(keys)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.error(keys, e))?;
            admin::parse_inspect_reply(reply).ok_or_else(|| admin::wrong_type(keys, &self.server))
        })
    }
}
