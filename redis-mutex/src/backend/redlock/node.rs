//! One Redlock master: its command connection, opened in the background, and its subscriber.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use tokio::sync::Notify;

use super::scripts;
use crate::backend::BoxFuture;
use crate::backend::local;
use crate::backend::single::ConnectionSettings;
use crate::backend::subscriber::Subscriber;
use crate::error::{Error, Result};
use crate::runtime;

/// A master. Its connection is opened by a task of its own, so an attempt that gives up on a
/// slow master (the per-master timeout) does not abort the connect: the next attempt finds it
/// done.
#[derive(Debug)]
pub(super) struct Node {
    client: redis::Client,
    /// `host:port`, for messages.
    pub(super) addr: String,
    settings: ConnectionSettings,
    conn: OnceLock<ConnectionManager>,
    /// Whether a connect is under way.
    connecting: AtomicBool,
    /// Whether a connect ever failed: until then, callers wait for the connect under way up to
    /// the connect timeout (a cold start is not a failure); after, only as long as their
    /// per-master timeout, so a master that is down costs each attempt no more than that.
    failed: AtomicBool,
    /// Why the latest connect failed.
    failure: StdMutex<Option<Failure>>,
    /// Told when a connect ends.
    connected: Notify,
    subscriber: OnceLock<Subscriber>,
}

/// Why a connect failed.
#[derive(Debug, Clone)]
struct Failure {
    why: String,
    /// The master answered with an error (as opposed to not answering).
    refused: bool,
}

impl Node {
    pub(super) fn new(client: redis::Client, addr: String, settings: ConnectionSettings) -> Self {
        Node {
            client,
            addr,
            settings,
            conn: OnceLock::new(),
            connecting: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            failure: StdMutex::new(None),
            connected: Notify::new(),
            subscriber: OnceLock::new(),
        }
    }

    /// The master's connection; waits for a connect at most `patience` once a connect failed,
    /// up to the connect timeout before.
    pub(super) async fn connection(
        self: &Arc<Self>,
        patience: Duration,
    ) -> Result<ConnectionManager> {
        if let Some(conn) = self.conn.get() {
            return Ok(conn.clone());
        }
        let ended = self.connected.notified();
        if let Some(conn) = self.conn.get() {
            return Ok(conn.clone());
        }
        // On the crate runtime, which drives the connection from then on: this may be a
        // caller's task (the uncontended path, for a master its runtime has no connection to).
        if !self.connecting.swap(true, Ordering::AcqRel)
            && let Err(error) = runtime::spawn(self.clone().connect())
        {
            self.connecting.store(false, Ordering::Release);
            return Err(error);
        }
        let patience = match self.failed.load(Ordering::Acquire) {
            true => patience,
            false => self.settings.connect_timeout,
        };
        let _ = tokio::time::timeout(patience, ended).await;
        if let Some(conn) = self.conn.get() {
            return Ok(conn.clone());
        }
        let failure = self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Err(match failure {
            // The master answered, and said no (credentials, ACL …): a refusal, not an outage.
            Some(Failure { why, refused: true }) => Error::Refused {
                server: self.addr.clone(),
                source: why.into(),
            },
            Some(Failure { why, .. }) => {
                Error::unreachable(&self.addr, std::io::ErrorKind::NotConnected, &why)
            }
            None => Error::unreachable(
                &self.addr,
                std::io::ErrorKind::NotConnected,
                "still connecting",
            ),
        })
    }

    /// Connects, bounded by the connect timeout, and tells the waiters.
    async fn connect(self: Arc<Self>) {
        let timeout = self.settings.connect_timeout;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(self.settings.response_timeout))
            .set_number_of_retries(0)
            .set_max_delay(Duration::from_secs(1));
        let connect = ConnectionManager::new_with_config(self.client.clone(), config);
        let connect = async {
            let mut conn = connect.await?;
            scripts::load(&mut conn).await;
            Ok::<_, redis::RedisError>(conn)
        };
        match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(conn)) => {
                let _ = self.conn.set(conn);
            }
            Ok(Err(error)) => {
                let refused = matches!(
                    Error::from_redis(&self.addr, None, error.clone()),
                    Error::Refused { .. }
                );
                self.failed(Failure {
                    why: error.to_string(),
                    refused,
                });
            }
            Err(_) => self.failed(Failure {
                why: format!("no answer within the connect timeout ({timeout:?})"),
                refused: false,
            }),
        }
        self.connecting.store(false, Ordering::Release);
        self.connected.notify_waiters();
    }

    /// Records why a connect failed.
    fn failed(&self, failure: Failure) {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(failure);
        self.failed.store(true, Ordering::Release);
    }

    /// Runs `invocation` on this master within `timeout`: on `local` (a connection driven by
    /// the caller's runtime) when given, else on the crate's connection (waiting for a connect
    /// included, once one failed).
    pub(super) async fn invoke<T: redis::FromRedisValue>(
        self: &Arc<Self>,
        invocation: &redis::ScriptInvocation<'_>,
        key: Option<&str>,
        timeout: Duration,
        local: Option<&MultiplexedConnection>,
    ) -> Result<T> {
        if let Some(conn) = local {
            return self
                .run(invocation, key, timeout, timeout, &mut conn.clone())
                .await;
        }
        let started = tokio::time::Instant::now();
        let mut conn = self.connection(timeout).await?;
        let left = timeout.saturating_sub(started.elapsed()).max(timeout / 2);
        self.run(invocation, key, left, timeout, &mut conn).await
    }

    /// Runs `invocation` on `conn`, giving up after `left` (of the per-master `timeout`).
    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
        key: Option<&str>,
        left: Duration,
        timeout: Duration,
        conn: &mut (impl redis::aio::ConnectionLike + Send),
    ) -> Result<T> {
        match tokio::time::timeout(left, invocation.invoke_async(conn)).await {
            Ok(reply) => reply.map_err(|source| Error::from_redis(&self.addr, key, source)),
            Err(_) => Err(Error::unreachable(
                &self.addr,
                std::io::ErrorKind::TimedOut,
                &format!("no answer within the per-master timeout ({timeout:?})"),
            )),
        }
    }

    /// Opens a connection to this master on the calling runtime, for a caller runtime's
    /// [`Local`](crate::backend::Local) (`None`: it failed).
    /// Its scripts are loaded on it first.
    pub(super) fn connect_local(&self) -> BoxFuture<'static, Option<MultiplexedConnection>> {
        let connect = local::connect_multiplexed(&self.client, self.settings);
        let timeout = self.settings.response_timeout;
        Box::pin(async move {
            let mut conn = connect.await?;
            let _ = tokio::time::timeout(timeout, scripts::load(&mut conn)).await;
            Some(conn)
        })
    }

    /// This master's release announcements (started on first use, on the crate runtime).
    pub(super) fn subscriber(&self) -> &Subscriber {
        self.subscriber.get_or_init(|| {
            Subscriber::spawn(self.client.clone(), self.addr.clone(), self.settings.into())
        })
    }
}
