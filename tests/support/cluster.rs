//! A throwaway Redis Cluster: masters started as [`RedisServer`]s in cluster mode, joined with
//! `CLUSTER ADDSLOTSRANGE` and `CLUSTER MEET` (no `redis-cli`), stopped when dropped.
//!
//! ```ignore
//! let cluster = support::RedisCluster::start(3);   // 3 masters, no replicas
//! let url = cluster.url();                          // "redis+cluster://127.0.0.1:P1,…"
//! let node = cluster.node_of("MUTEX_a");            // the master that owns the key's slot
//! ```
//!
//! Nodes run with `cluster-require-full-coverage no`, so the slots of the other masters stay
//! served while one master is stopped, and keep their `nodes.conf` in their temp dir, so
//! [`RedisServer::restart`] brings a master back with its identity and slots (and no data).

use std::thread;
use std::time::{Duration, Instant};

use super::{RedisServer, STARTUP_TIMEOUT};

/// How many hash slots a cluster has.
const SLOTS: u16 = 16384;

/// A running Redis Cluster of masters on 127.0.0.1, stopped when dropped.
#[derive(Debug)]
pub(crate) struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` cluster nodes, gives each an equal share of the slots, joins them, and
    /// waits until every node reports `cluster_state:ok` with every slot assigned.
    ///
    /// # Panics
    ///
    /// If a node does not start, or the cluster does not form within [`STARTUP_TIMEOUT`].
    pub(crate) fn start(masters: u16) -> Self {
        assert!(masters > 0, "a cluster needs a master");
        let nodes: Vec<RedisServer> = (0..masters)
            .map(|_| {
                RedisServer::builder()
                    .arg("--cluster-enabled")
                    .arg("yes")
                    .arg("--cluster-config-file")
                    .arg("nodes.conf")
                    .arg("--cluster-node-timeout")
                    .arg("5000")
                    .arg("--cluster-require-full-coverage")
                    .arg("no")
                    .start()
            })
            .collect();
        let share = SLOTS.div_ceil(masters);
        for (i, node) in (0..masters).zip(&nodes) {
            let first = i * share;
            let last = (first + share).min(SLOTS) - 1;
            let mut con = node.raw();
            redis::cmd("CLUSTER")
                .arg("SET-CONFIG-EPOCH")
                .arg(u64::from(i) + 1)
                .exec(&mut con)
                .expect("CLUSTER SET-CONFIG-EPOCH");
            redis::cmd("CLUSTER")
                .arg("ADDSLOTSRANGE")
                .arg(first)
                .arg(last)
                .exec(&mut con)
                .expect("CLUSTER ADDSLOTSRANGE");
        }
        let mut first = nodes[0].raw();
        for node in &nodes[1..] {
            redis::cmd("CLUSTER")
                .arg("MEET")
                .arg("127.0.0.1")
                .arg(node.port())
                .exec(&mut first)
                .expect("CLUSTER MEET");
        }
        let cluster = RedisCluster { nodes };
        cluster.wait_ok();
        cluster
    }

    /// Waits until every running node reports `cluster_state:ok`, knows every node, and sees
    /// every slot assigned.
    ///
    /// # Panics
    ///
    /// If that takes longer than [`STARTUP_TIMEOUT`].
    pub(crate) fn wait_ok(&self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let known = format!("cluster_known_nodes:{}", self.nodes.len());
        loop {
            let ok = self.nodes.iter().filter(|n| n.is_running()).all(|node| {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut node.raw())
                    .unwrap_or_default();
                ["cluster_state:ok", "cluster_slots_assigned:16384", &known]
                    .iter()
                    .all(|field| info.lines().any(|line| line.trim() == *field))
            });
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the test cluster did not form within {STARTUP_TIMEOUT:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…`: every node as a seed.
    pub(crate) fn url(&self) -> String {
        let nodes: Vec<String> = self.nodes.iter().map(RedisServer::addr).collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The nodes, in start order.
    pub(crate) fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Node `i`, to stop or restart it.
    pub(crate) fn node_mut(&mut self, i: usize) -> &mut RedisServer {
        &mut self.nodes[i]
    }

    /// The slot of `key`, as the cluster computes it (`CLUSTER KEYSLOT`).
    pub(crate) fn slot(&self, key: &str) -> u16 {
        let node = self
            .nodes
            .iter()
            .find(|n| n.is_running())
            .expect("a node runs");
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut node.raw())
            .expect("CLUSTER KEYSLOT")
    }

    /// The index of the node that owns `key`'s slot (by the share [`start`](Self::start) gave
    /// it; the test cluster is never resharded).
    pub(crate) fn owner(&self, key: &str) -> usize {
        let masters = u16::try_from(self.nodes.len()).expect("a few nodes");
        usize::from(self.slot(key) / SLOTS.div_ceil(masters))
    }

    /// The node that owns `key`'s slot.
    pub(crate) fn node_of(&self, key: &str) -> &RedisServer {
        &self.nodes[self.owner(key)]
    }
}
