//! One Redis server (or a replicated master behind one address).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use super::subscriber::{Subscriber, Subscription, Timeouts};
use super::{Backend, BoxFuture, WaitAttempt};
use crate::admin::{self, INSPECT, InspectReply, KeyState};
use crate::error::{Error, Result};
use crate::protocol::{self, ACQUIRE, Attempt, EXTEND, KeySet, RELEASE, RELEASE_QUEUED, WAIT};

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
    commands: OnceCell<ConnectionManager>,
    subscriber: OnceLock<Subscriber>,
}

impl SingleServer {
    /// Prepares a server; no I/O happens until the first command.
    pub(crate) fn new(client: redis::Client, server: String, settings: ConnectionSettings) -> Self {
        SingleServer {
            client,
            server,
            settings,
            commands: OnceCell::new(),
            subscriber: OnceLock::new(),
        }
    }

    /// The shared command connection, connecting first if needed: at most one connect attempt
    /// per call, bounded by the connect timeout as a whole (TCP, TLS and the handshake), so a
    /// server that accepts connections and never answers fails the call within that timeout.
    async fn connection(&self) -> Result<ConnectionManager> {
        let timeout = self.settings.connect_timeout;
        let connect = || async {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(self.settings.response_timeout))
                .set_number_of_retries(0)
                .set_max_delay(Duration::from_secs(1));
            tokio::time::timeout(
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
            .map_err(|source| Error::from_redis(&self.server, None, source))
            .inspect(|conn| self.check_eviction(conn.clone()))
        };
        self.commands.get_or_try_init(connect).await.cloned()
    }

    /// Warns (once per server and process) when the server's eviction settings put lock keys
    /// at risk. Runs in the background; a server that refuses `INFO` is not checked.
    fn check_eviction(&self, mut conn: ConnectionManager) {
        let server = self.server.clone();
        tokio::spawn(async move {
            match redis::cmd("INFO")
                .arg("memory")
                .query_async::<String>(&mut conn)
                .await
            {
                Ok(info) => {
                    if let Some(risk) = protocol::eviction_risk(&info) {
                        tracing::warn!(server = %server, "redis-mutex: unsafe eviction settings: {risk}");
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, "could not read the eviction settings (INFO memory)");
                }
            }
        });
    }

    fn subscriber(&self) -> &Subscriber {
        self.subscriber.get_or_init(|| {
            Subscriber::spawn(
                self.client.clone(),
                self.server.clone(),
                Timeouts {
                    connect: self.settings.connect_timeout,
                    response: self.settings.response_timeout,
                },
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
    ) -> Result<Attempt> {
        let mut conn = self.connection().await?;
        let key = &keys.keys[0];
        let set: Option<()> = redis::cmd("SET")
            .arg(key)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(protocol::ttl_millis(ttl))
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
        let (kind, pttl): (String, i64) = redis::pipe()
            .cmd("TYPE")
            .arg(key)
            .cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(keys, e))?;
        if kind != "string" && kind != "none" {
            return Err(Error::WrongType {
                key: key.clone(),
                server: self.server.clone(),
            });
        }
        Ok(Attempt::Busy {
            pttl: protocol::pttl_from_reply(pttl),
        })
    }

    /// The all-or-nothing script: several keys, or fencing.
    async fn acquire_script(
        &self,
        keys: &KeySet,
        token: &str,
        ttl: Duration,
        fencing: bool,
    ) -> Result<Attempt> {
        let mut conn = self.connection().await?;
        let mut invocation = ACQUIRE.prepare_invoke();
        invocation.key(&keys.keys);
        if fencing {
            invocation.key(&keys.fences);
        }
        let reply: Vec<i64> = invocation
            .arg(token)
            .arg(protocol::ttl_millis(ttl))
            .arg(keys.keys.len())
            .arg(if fencing { "1" } else { "0" })
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(keys, e))?;
        self.acquire_reply(keys, &reply)
    }

    /// [`WAIT`] on a single-name lock.
    async fn wait_queued(
        &self,
        keys: &KeySet,
        queue: &[String; 3],
        token: &str,
        ttl: Duration,
        fencing: bool,
        wait: WaitAttempt,
    ) -> Result<Attempt> {
        let mut conn = self.connection().await?;
        let reply: Vec<i64> = WAIT
            .key(&keys.keys[0])
            .key(queue)
            .key(&keys.fences[0])
            .arg(token)
            .arg(&keys.channels[0])
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
    }

    fn acquire_reply(&self, keys: &KeySet, reply: &[i64]) -> Result<Attempt> {
        match protocol::parse_acquire_reply(reply) {
            Some(Ok(attempt)) => Ok(attempt),
            Some(Err(index)) => Err(Error::WrongType {
                key: keys.keys[index].clone(),
                server: self.server.clone(),
            }),
            None => Err(Error::Protocol {
                server: self.server.clone(),
                detail: format!("the acquire script replied {reply:?}"),
            }),
        }
    }
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
    ) -> BoxFuture<'a, Result<Attempt>> {
        Box::pin(async move {
            if keys.keys.len() == 1 && !fencing {
                self.acquire_one(keys, token, ttl, probe).await
            } else {
                self.acquire_script(keys, token, ttl, fencing).await
            }
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
            match &keys.queue {
                Some(queue) => {
                    self.wait_queued(keys, queue, token, ttl, fencing, wait)
                        .await
                }
                None => self.acquire_script(keys, token, ttl, fencing).await,
            }
        })
    }

    fn release<'a>(&'a self, keys: &'a KeySet, token: &'a str) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let mut invocation = match &keys.queue {
                Some(queue) => {
                    let mut invocation = RELEASE_QUEUED.key(&keys.keys[0]);
                    invocation.key(queue).key(&keys.fences[0]);
                    invocation
                }
                None => RELEASE.key(&keys.keys),
            };
            invocation
                .arg(token)
                .arg(&keys.channels)
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
        self.subscriber().subscribe(&keys.channels, Some(token))
    }

    fn wake_local(&self, keys: &KeySet) {
        // A single-name release already handed the lock to the next waiter in line.
        if keys.queue.is_some() {
            return;
        }
        if let Some(subscriber) = self.subscriber.get() {
            subscriber.wake(&keys.channels);
        }
    }

    fn inspect<'a>(&'a self, keys: &'a KeySet) -> BoxFuture<'a, Result<KeyState>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let mut invocation = INSPECT.key(&keys.keys[0]);
            invocation.key(&keys.fences[0]);
            if let Some([_, expiry, _]) = &keys.queue {
                invocation.key(expiry);
            }
            let reply: InspectReply = invocation
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.error(keys, e))?;
            admin::parse_inspect_reply(reply).ok_or_else(|| admin::wrong_type(keys, &self.server))
        })
    }
}
