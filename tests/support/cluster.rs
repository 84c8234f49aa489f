//! A throwaway Redis Cluster: masters started as [`RedisServer`]s in cluster mode, joined with
//! `CLUSTER ADDSLOTSRANGE` and `CLUSTER MEET` (no `redis-cli`), stopped when dropped.
//!
//! ```ignore
//! let cluster = support::RedisCluster::start(3);   // 3 masters, no replicas
//! let url = cluster.url();                          // "redis+cluster://127.0.0.1:P1,…"
//! let node = cluster.node_of("MUTEX_a");            // the master that owns the key's slot
//! let tls = support::RedisCluster::start_tls(3);    // TLS only, on the cluster bus too
//! let ca = tls.tls_ca().unwrap().cert_pem();        // the CA that signed every node's certificate
//! ```
//!
//! Nodes run with `cluster-require-full-coverage no`, so the slots of the other masters stay
//! served while one master is stopped, and keep their `nodes.conf` in their temp dir, so
//! [`RedisServer::restart`] brings a master back with its identity and slots (and no data).

use std::thread;
use std::time::{Duration, Instant};

use super::{RedisServer, STARTUP_TIMEOUT, TestCa};

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
        Self::start_with(masters, false)
    }

    /// As [`start`](Self::start), with every node speaking TLS only (`--port 0`, a
    /// `--tls-port`), to its clients and on the cluster bus (`--tls-cluster yes`, and
    /// `--tls-replication yes` for replicas), all certificates signed by one CA
    /// ([`tls_ca`](Self::tls_ca)); [`url`](Self::url) is then a `rediss+cluster://` URL.
    /// Needs the suite's `tls` feature (to talk to the nodes while the cluster forms).
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start); also if `openssl` cannot make the certificates.
    pub(crate) fn start_tls(masters: u16) -> Self {
        Self::start_with(masters, true)
    }

    fn start_with(masters: u16, tls: bool) -> Self {
        assert!(masters > 0, "a cluster needs a master");
        let mut nodes: Vec<RedisServer> = Vec::new();
        for _ in 0..masters {
            let builder = match (tls, nodes.first().and_then(RedisServer::tls_ca)) {
                (false, _) => RedisServer::builder(),
                (true, None) => RedisServer::builder().tls(true),
                (true, Some(ca)) => RedisServer::builder().tls_signed_by(ca),
            };
            let builder = match tls {
                true => builder
                    .arg("--tls-cluster")
                    .arg("yes")
                    .arg("--tls-replication")
                    .arg("yes"),
                false => builder,
            };
            nodes.push(
                builder
                    .arg("--cluster-enabled")
                    .arg("yes")
                    .arg("--cluster-config-file")
                    .arg("nodes.conf")
                    .arg("--cluster-node-timeout")
                    .arg("5000")
                    .arg("--cluster-require-full-coverage")
                    .arg("no")
                    .start(),
            );
        }
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
        // Every node meets every other one itself, instead of waiting to hear of them by
        // gossip (slower over TLS).
        for (i, node) in nodes.iter().enumerate().skip(1) {
            let mut con = node.raw();
            for other in &nodes[..i] {
                redis::cmd("CLUSTER")
                    .arg("MEET")
                    .arg("127.0.0.1")
                    .arg(other.port())
                    .exec(&mut con)
                    .expect("CLUSTER MEET");
            }
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
        // One connection per node for the whole wait (a TLS handshake per poll is slow in a
        // debug build), opened again after an error.
        let mut cons: Vec<Option<redis::Connection>> = self.nodes.iter().map(|_| None).collect();
        loop {
            let mut ok = true;
            for (node, con) in self.nodes.iter().zip(&mut cons) {
                if !node.is_running() {
                    continue;
                }
                let info = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query::<String>(con.get_or_insert_with(|| node.raw()));
                if info.is_err() {
                    *con = None;
                }
                let info = info.unwrap_or_default();
                ok = ["cluster_state:ok", "cluster_slots_assigned:16384", &known]
                    .iter()
                    .all(|field| info.lines().any(|line| line.trim() == *field));
                if !ok {
                    break;
                }
            }
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

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…` (`rediss+cluster://` for a TLS
    /// cluster): every node as a seed.
    pub(crate) fn url(&self) -> String {
        let nodes: Vec<String> = self.nodes.iter().map(RedisServer::addr).collect();
        let scheme = match self.tls_ca() {
            Some(_) => "rediss+cluster",
            None => "redis+cluster",
        };
        format!("{scheme}://{}", nodes.join(","))
    }

    /// The CA that signed every node's certificate, for a TLS cluster
    /// ([`start_tls`](Self::start_tls)).
    pub(crate) fn tls_ca(&self) -> Option<&TestCa> {
        self.nodes[0].tls_ca()
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

    /// The node id of node `i` (`CLUSTER MYID`).
    pub(crate) fn node_id(&self, i: usize) -> String {
        redis::cmd("CLUSTER")
            .arg("MYID")
            .query(&mut self.nodes[i].raw())
            .expect("CLUSTER MYID")
    }

    /// Starts moving `slot` from node `source` to node `target`: `IMPORTING` on the target,
    /// `MIGRATING` on the source (keys are moved by the caller, with `MIGRATE`).
    pub(crate) fn start_migration(&self, slot: u16, source: usize, target: usize) {
        for (node, state, other) in [(target, "IMPORTING", source), (source, "MIGRATING", target)] {
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg(state)
                .arg(self.node_id(other))
                .exec(&mut self.nodes[node].raw())
                .expect("CLUSTER SETSLOT");
        }
    }

    /// Gives `slot` to node `owner` on every node (ends a migration, or reshards an empty
    /// slot).
    pub(crate) fn assign_slot(&self, slot: u16, owner: usize) {
        let id = self.node_id(owner);
        for node in &self.nodes {
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg("NODE")
                .arg(&id)
                .exec(&mut node.raw())
                .expect("CLUSTER SETSLOT NODE");
        }
    }
}
