//! Release announcements in a cluster: heard on the node that owns the lock's slot.
//!
//! `PUBLISH` in a cluster reaches every node, but a node hears another node's message over the
//! cluster bus, which adds a hop, and now and then tens of milliseconds (measured: a hand-over
//! every few hundred waited ~42 ms for its announcement on a subscriber connected to another
//! node than the lock's). A node delivers its own `PUBLISH` to its own subscribers at once. So
//! a waiter listens on a subscriber connected to the master of its lock's slot, found in the
//! [`Topology`]; hand-overs to it are announced on that subscriber's inbox channel.
//!
//! Until the map is known (or for a node it cannot reach, or a lock across slots), waiters
//! listen on one subscriber that connects to the seed nodes in turn, which still hears every
//! announcement, over the bus. A map that changes between a waiter's registration and its
//! queue entry only costs that waiter the notification: it takes the lock at its next poll.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex, OnceLock};

use super::topology::Topology;
use crate::backend::subscriber::{Subscriber, Timeouts};
use crate::protocol::KeySet;

/// The cluster's subscribers: one per master that has had waiters, and one over the seeds.
pub(super) struct Subscribers {
    /// One client per seed node, for the subscriber over the seeds.
    seeds: Vec<redis::Client>,
    server: String,
    timeouts: Timeouts,
    topology: Arc<Topology>,
    any: OnceLock<Subscriber>,
    /// The subscribers of masters, and the map generation they were kept for.
    by_node: StdMutex<(u64, ByNode)>,
}

impl std::fmt::Debug for Subscribers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscribers")
    }
}

/// Subscribers by their master's `host:port`.
type ByNode = HashMap<Arc<str>, Arc<Subscriber>>;

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
    pub(super) fn new(
        seeds: Vec<redis::Client>,
        server: String,
        timeouts: Timeouts,
        topology: Arc<Topology>,
    ) -> Self {
        Subscribers {
            seeds,
            server,
            timeouts,
            topology,
            any: OnceLock::new(),
            by_node: StdMutex::new((0, HashMap::new())),
        }
    }

    fn any(&self) -> &Subscriber {
        self.any.get_or_init(|| {
            Subscriber::spawn_any(self.seeds.clone(), self.server.clone(), self.timeouts)
        })
    }

    /// Where waiters of `keys` listen (on the crate runtime: it may start a subscriber).
    pub(super) fn listener(&self, keys: &KeySet) -> Listener<'_> {
        let generation = self.topology.generation();
        let owners = self.topology.owners();
        let Some(addr) = super::topology::owner_in(&owners, keys) else {
            return Listener::Any(self.any());
        };
        let mut by_node = self.by_node.lock().unwrap_or_else(|p| p.into_inner());
        let (kept_for, subscribers) = &mut *by_node;
        if *kept_for != generation {
            // Let go of former masters' subscribers (their waiters keep theirs until done).
            subscribers.retain(|node, _| owners.iter().any(|(_, _, owner)| owner == node));
            *kept_for = generation;
        }
        if let Some(subscriber) = subscribers.get(&addr) {
            return Listener::Owner(subscriber.clone());
        }
        match self.topology.node_client(&addr) {
            Some(client) => {
                let subscriber = Arc::new(Subscriber::spawn(
                    client,
                    format!("{} (node {addr})", self.server),
                    self.timeouts,
                ));
                subscribers.insert(addr, subscriber.clone());
                Listener::Owner(subscriber)
            }
            None => Listener::Any(self.any()),
        }
    }
}
