//! Release announcements in a cluster: heard on the node that owns the lock's slot.
//!
//! `PUBLISH` in a cluster reaches every node, but a node hears another node's message over the
//! cluster bus, which adds a hop, and now and then tens of milliseconds (measured: a hand-over
//! every few hundred waited ~42 ms for its announcement on a subscriber connected to another
//! node than the lock's). A node delivers its own `PUBLISH` to its own subscribers at once. So
//! a waiter listens on a subscriber connected to the master of its lock's slot, found in the
//! slot map (`CLUSTER SLOTS`, read when the cluster connection is first made and again after a
//! `MOVED`); hand-overs to it are announced on that subscriber's inbox channel.
//!
//! Until the map is known (or for a node it cannot reach, or a lock across slots), waiters
//! listen on one subscriber that connects to the seed nodes in turn, which still hears every
//! announcement, over the bus. A map that changes between a waiter's registration and its
//! queue entry only costs that waiter the notification: it takes the lock at its next poll.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock, RwLock};

use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::{ConnectionAddr, Value};

use super::slots;
use crate::backend::subscriber::{Subscriber, Timeouts};
use crate::protocol::KeySet;

/// The cluster's subscribers: one per master that has had waiters, and one over the seeds.
pub(super) struct Subscribers {
    /// One client per seed node, for the subscriber over the seeds; the first one is also the
    /// template (credentials, TLS) of the clients of other nodes.
    seeds: Vec<redis::Client>,
    server: String,
    timeouts: Timeouts,
    any: OnceLock<Subscriber>,
    /// Slot ranges and their masters' `host:port`, ascending.
    owners: Arc<RwLock<Vec<Owner>>>,
    /// The subscribers of masters, by `host:port`.
    by_node: Arc<StdMutex<HashMap<Arc<str>, Arc<Subscriber>>>>,
    /// Whether a read of the slot map is under way.
    reading: Arc<AtomicBool>,
}

impl std::fmt::Debug for Subscribers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscribers")
    }
}

/// The subscriber a waiter listens on.
pub(super) enum Listener<'a> {
    /// Connected to the master of the lock's slot.
    Owner(Arc<Subscriber>),
    /// Connected to any node (hearing other nodes' announcements over the bus).
    Any(&'a Subscriber),
}

impl std::ops::Deref for Listener<'_> {
    type Target = Subscriber;

    fn deref(&self) -> &Subscriber {
        match self {
            Listener::Owner(subscriber) => subscriber,
            Listener::Any(subscriber) => subscriber,
        }
    }
}

impl Subscribers {
    pub(super) fn new(seeds: Vec<redis::Client>, server: String, timeouts: Timeouts) -> Self {
        Subscribers {
            seeds,
            server,
            timeouts,
            any: OnceLock::new(),
            owners: Arc::default(),
            by_node: Arc::default(),
            reading: Arc::new(AtomicBool::new(false)),
        }
    }

    fn any(&self) -> &Subscriber {
        self.any.get_or_init(|| {
            Subscriber::spawn_any(self.seeds.clone(), self.server.clone(), self.timeouts)
        })
    }

    /// Where waiters of `keys` listen (on the crate runtime: it may start a subscriber).
    pub(super) fn listener(&self, keys: &KeySet) -> Listener<'_> {
        let mut slots = keys.keys.iter().map(|key| slots::key_slot(key));
        let Some(slot) = slots.next() else {
            return Listener::Any(self.any());
        };
        if slots.any(|other| other != slot) {
            return Listener::Any(self.any());
        }
        let owner = {
            let owners = self.owners.read().unwrap_or_else(|p| p.into_inner());
            owners
                .iter()
                .find(|(first, last, _)| (*first..=*last).contains(&slot))
                .map(|(_, _, addr)| addr.clone())
        };
        let Some(addr) = owner else {
            return Listener::Any(self.any());
        };
        let mut by_node = self.by_node.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(subscriber) = by_node.get(&addr) {
            return Listener::Owner(subscriber.clone());
        }
        match self.node_client(&addr) {
            Some(client) => {
                let subscriber = Arc::new(Subscriber::spawn(
                    client,
                    format!("{} (node {addr})", self.server),
                    self.timeouts,
                ));
                by_node.insert(addr, subscriber.clone());
                Listener::Owner(subscriber)
            }
            None => Listener::Any(self.any()),
        }
    }

    /// A client of the node at `addr`, as the first seed's (credentials, TLS) but for the host
    /// and port: `None` when `addr` is not `host:port`, or the seed is no TCP address.
    fn node_client(&self, addr: &str) -> Option<redis::Client> {
        let (host, port) = addr.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let info = self.seeds.first()?.get_connection_info().clone();
        let addr = match info.addr().clone() {
            ConnectionAddr::Tcp(_, _) => ConnectionAddr::Tcp(host, port),
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host,
                port,
                insecure,
                tls_params,
            },
            _ => return None,
        };
        redis::Client::open(info.set_addr(addr)).ok()
    }

    /// Reads the slot map over `conn` in the background (one read at a time), on the crate
    /// runtime; later waiters then listen on their slot's master. Subscribers of nodes that
    /// are no longer masters are let go (their waiters keep them until they stop waiting).
    pub(super) fn refresh(&self, mut conn: ClusterConnection) {
        if self.reading.swap(true, Ordering::AcqRel) {
            return;
        }
        let (reading, owners, by_node) = (
            self.reading.clone(),
            self.owners.clone(),
            self.by_node.clone(),
        );
        let spawned = crate::runtime::spawn(async move {
            let reply = conn
                .req_packed_command(redis::cmd("CLUSTER").arg("SLOTS"))
                .await;
            match reply.map(|reply| parse(&reply)) {
                Ok(Some(map)) => {
                    by_node
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .retain(|addr, _| map.iter().any(|(_, _, owner)| owner == addr));
                    *owners.write().unwrap_or_else(|p| p.into_inner()) = map;
                }
                Ok(None) => tracing::debug!("could not read the cluster's slot map"),
                Err(error) => tracing::debug!(%error, "could not read the cluster's slot map"),
            }
            reading.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            self.reading.store(false, Ordering::Release);
        }
    }
}

/// A range of slots (first, last) and its master's `host:port`.
type Owner = (u16, u16, Arc<str>);

/// Slot ranges and their masters' `host:port`, from a `CLUSTER SLOTS` reply (`None`: not
/// understood). A master announced with an empty host (the node that answered, unknown
/// here) is left out.
fn parse(reply: &Value) -> Option<Vec<Owner>> {
    let Value::Array(ranges) = reply else {
        return None;
    };
    let mut owners = Vec::with_capacity(ranges.len());
    for range in ranges {
        let Value::Array(fields) = range else {
            return None;
        };
        let (Some(Value::Int(first)), Some(Value::Int(last)), Some(Value::Array(master))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            return None;
        };
        let host = match master.first() {
            Some(Value::BulkString(host)) => String::from_utf8_lossy(host).into_owned(),
            Some(Value::SimpleString(host)) => host.clone(),
            _ => return None,
        };
        let Some(Value::Int(port)) = master.get(1) else {
            return None;
        };
        if host.is_empty() || host == "?" {
            continue;
        }
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        owners.push((
            u16::try_from(*first).ok()?,
            u16::try_from(*last).ok()?,
            format!("{host}:{port}").into(),
        ));
    }
    owners.sort_unstable();
    Some(owners)
}
