//! The callers' own connections: for async callers, one per tokio runtime and backend, driven
//! by that runtime; for blocking callers, one synchronous connection per thread and server.
//!
//! A command sent through the crate runtime costs three thread wake-ups (caller → crate thread,
//! socket → crate thread, crate thread → caller); on a connection whose I/O task runs on the
//! caller's runtime it costs one, as a plain redis-rs client does. The uncontended path uses
//! such a connection when one is ready; everything else (waiting, renewal, clean-ups) stays on
//! the crate runtime, which no caller can stall.
//!
//! What a runtime's connection is depends on the backend ([`LocalConn`]): a multiplexed
//! connection to one server, a cluster connection, or one connection per Redlock master.
//! [`Locals`] keeps them, whatever they are: opened in the background on the runtime that asks,
//! found again by the runtime's id, and living as long as that runtime: each entry has a marker
//! task on it, and when the runtime shuts down the marker is dropped and the entry pruned. A
//! `#[tokio::test]` runtime that comes and goes therefore leaves nothing behind, and a client
//! cached in a static opens a connection on each runtime that uses it. A thread's connection
//! is closed when the thread exits (it is a thread-local), or when a command on it fails.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::runtime::{Handle, Id};

use super::single::ConnectionSettings;
use super::{BoxFuture, Local, LocalConn};
use crate::runtime;

/// How long after a failed connect a runtime goes without a connection of its own.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Opens one runtime's connection (on that runtime), bounded in time; `None` when it failed.
pub(super) type Connect<C> = Box<dyn Fn() -> BoxFuture<'static, Option<C>> + Send + Sync>;

/// The per-runtime connections of one backend, of type `C`.
pub(super) struct Locals<C> {
    connect: Connect<C>,
    table: StdMutex<Vec<Entry<C>>>,
}

impl<C> std::fmt::Debug for Locals<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Locals")
    }
}

struct Entry<C> {
    runtime: Id,
    state: State<C>,
    /// Cleared when the runtime drops the entry's marker task, i.e. shuts down.
    alive: Arc<AtomicBool>,
}

enum State<C> {
    Connecting,
    Ready(C),
    /// No connection until then.
    Failed(Instant),
}

/// Clears its flag when dropped: kept by a task that never ends, so dropped with its runtime.
struct Marker(Arc<AtomicBool>);

impl Drop for Marker {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<C> Locals<C>
where
    C: Clone + Send + 'static,
    LocalConn: From<C>,
{
    /// Connections opened by `connect`.
    pub(super) fn new(connect: Connect<C>) -> Arc<Self> {
        Arc::new(Locals {
            connect,
            table: StdMutex::new(Vec::new()),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Vec<Entry<C>>> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The calling runtime's connection, if ready; otherwise starts opening one (unless a
    /// recent attempt failed) and returns `None`.
    pub(super) fn get(self: &Arc<Self>) -> Option<Local> {
        let handle = Handle::try_current().ok()?;
        let id = handle.id();
        // Not on the crate runtime, and not in a forked child (whose inherited connections
        // would share the parent's sockets): such calls go the usual way, which tells why.
        if runtime::id().ok()? == id {
            return None;
        }
        let mut table = self.table();
        match table.iter_mut().find(|entry| entry.runtime == id) {
            Some(entry) => match &entry.state {
                State::Ready(conn) => {
                    return Some(Local {
                        conn: conn.clone().into(),
                        runtime: id,
                    });
                }
                State::Connecting => return None,
                State::Failed(until) if Instant::now() < *until => return None,
                State::Failed(_) => entry.state = State::Connecting,
            },
            None => {
                table.retain(|entry| entry.alive.load(Ordering::Acquire));
                let alive = Arc::new(AtomicBool::new(true));
                let marker = Marker(alive.clone());
                handle.spawn(async move {
                    let _marker = marker;
                    std::future::pending::<()>().await;
                });
                table.push(Entry {
                    runtime: id,
                    state: State::Connecting,
                    alive,
                });
            }
        }
        drop(table);
        let this = self.clone();
        let connect = (self.connect)();
        handle.spawn(async move {
            let state = match connect.await {
                Some(conn) => State::Ready(conn),
                None => State::Failed(Instant::now() + RETRY_AFTER),
            };
            if let Some(entry) = this.table().iter_mut().find(|entry| entry.runtime == id) {
                entry.state = state;
            }
        });
        None
    }

    /// Drops `local`'s connection after it failed; the next [`get`](Locals::get) on its runtime
    /// opens a new one.
    pub(super) fn failed(&self, local: &Local) {
        if let Some(entry) = self
            .table()
            .iter_mut()
            .find(|entry| entry.runtime == local.runtime)
            && matches!(entry.state, State::Ready(_))
        {
            entry.state = State::Failed(Instant::now());
        }
    }
}

/// Opens a multiplexed connection to `client`'s server within the connect timeout, for
/// [`Locals`] (`None`: it failed, and why is logged).
pub(super) fn connect_multiplexed(
    client: &redis::Client,
    settings: ConnectionSettings,
) -> BoxFuture<'static, Option<MultiplexedConnection>> {
    let client = client.clone();
    Box::pin(async move {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.response_timeout));
        let connected = tokio::time::timeout(
            settings.connect_timeout,
            client.get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        match connected {
            Ok(Ok(conn)) => Some(conn),
            Ok(Err(error)) => {
                tracing::debug!(%error, "no connection on the caller's runtime for now");
                None
            }
            Err(_) => None,
        }
    })
}

/// A server's identity among the thread connections.
static NEXT_SERVER: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's connections, by server.
    static THREAD_CONNECTIONS: RefCell<Vec<(u64, ThreadConnection)>> = const { RefCell::new(Vec::new()) };
}

enum ThreadConnection {
    Ready(redis::Connection),
    /// No connection until then.
    Failed(Instant),
}

/// The per-thread synchronous connections to one server.
#[derive(Debug)]
pub(super) struct ThreadConnections {
    server: u64,
    client: redis::Client,
    settings: ConnectionSettings,
}

impl ThreadConnections {
    pub(super) fn new(client: redis::Client, settings: ConnectionSettings) -> Self {
        ThreadConnections {
            server: NEXT_SERVER.fetch_add(1, Ordering::Relaxed),
            client,
            settings,
        }
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let conn = self
            .client
            .get_connection_with_timeout(self.settings.connect_timeout)?;
        conn.set_read_timeout(Some(self.settings.response_timeout))?;
        conn.set_write_timeout(Some(self.settings.response_timeout))?;
        Ok(conn)
    }

    /// Runs `command` on this thread's connection, opening it first if needed; `None` when
    /// the thread has none (a connect failed lately, or failed now). A failed command closes
    /// the connection: its state (a reply still on its way) is unknown.
    pub(super) fn run<T>(
        &self,
        command: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Option<redis::RedisResult<T>> {
        // Not in a forked child: the inherited connections share the parent's sockets.
        runtime::check().ok()?;
        THREAD_CONNECTIONS
            .try_with(|cell| {
                let mut conns = cell.borrow_mut();
                let index = match conns.iter().position(|(server, _)| *server == self.server) {
                    Some(index) => index,
                    None => {
                        conns.push((self.server, ThreadConnection::Failed(Instant::now())));
                        conns.len() - 1
                    }
                };
                let slot = &mut conns[index].1;
                if let ThreadConnection::Failed(until) = slot {
                    if Instant::now() < *until {
                        return None;
                    }
                    match self.connect() {
                        Ok(conn) => *slot = ThreadConnection::Ready(conn),
                        Err(error) => {
                            tracing::debug!(%error, "no connection of this thread for now");
                            *slot = ThreadConnection::Failed(Instant::now() + RETRY_AFTER);
                            return None;
                        }
                    }
                }
                let ThreadConnection::Ready(conn) = slot else {
                    unreachable!("connected above")
                };
                let result = command(conn);
                if result
                    .as_ref()
                    .is_err_and(|e| e.is_io_error() || e.is_timeout() || e.is_connection_dropped())
                {
                    *slot = ThreadConnection::Failed(Instant::now());
                }
                Some(result)
            })
            .ok()
            .flatten()
    }
}
