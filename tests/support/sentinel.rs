//! A Sentinel deployment on loopback: one master, one replica, three sentinels (quorum 2), all
//! throwaway [`RedisServer`]s, killed when dropped.
//!
//! ```ignore
//! let deployment = support::sentinel::Deployment::start("mymaster");
//! let url = deployment.url();           // "redis+sentinel://127.0.0.1:P1,…/mymaster"
//! deployment.failover();                // SENTINEL FAILOVER; returns once the replica is master
//! ```
//!
//! Timings are short so that tests are fast: a master is down for the sentinels after 5 s
//! without an answer, and a failover times out after 2 s.

use std::thread;
use std::time::{Duration, Instant};

use super::{RedisServer, STARTUP_TIMEOUT};

/// How long [`Deployment::failover`] and the readiness waits may take.
pub(crate) const FAILOVER_TIMEOUT: Duration = Duration::from_secs(20);

/// A sentinel's configuration file for master `name` on 127.0.0.1:`master_port`.
pub(crate) fn config(name: &str, master_port: u16) -> String {
    format!(
        "sentinel monitor {name} 127.0.0.1 {master_port} 2\n\
         sentinel down-after-milliseconds {name} 5000\n\
         sentinel failover-timeout {name} 2000\n\
         sentinel parallel-syncs {name} 1\n"
    )
}

/// One master, one replica of it, three sentinels watching it.
pub(crate) struct Deployment {
    name: String,
    /// The two data servers; which one is master changes with failovers.
    pub(crate) servers: [RedisServer; 2],
    pub(crate) sentinels: Vec<RedisServer>,
}

impl Deployment {
    /// Starts the deployment for master `name` and waits until the replica is in sync and
    /// every sentinel knows it.
    ///
    /// # Panics
    ///
    /// If a server does not start, or the deployment is not ready within [`FAILOVER_TIMEOUT`].
    pub(crate) fn start(name: &str) -> Self {
        Self::start_with_sentinel_ports(name, [None, None, None])
    }

    /// As [`start`](Self::start), with the sentinels on these ports where given (e.g. for a
    /// URL that must be a literal).
    pub(crate) fn start_with_sentinel_ports(name: &str, ports: [Option<u16>; 3]) -> Self {
        // No 5 s wait for more replicas before a full sync (the default for diskless syncs).
        let data = || {
            RedisServer::builder()
                .arg("--repl-diskless-sync-delay")
                .arg("0")
        };
        let master = data().start();
        let replica = data().replica_of(master.port()).start();
        let sentinels = ports
            .iter()
            .map(|port| {
                let builder = RedisServer::builder().sentinel(config(name, master.port()));
                match port {
                    Some(port) => builder.port(*port),
                    None => builder,
                }
                .start()
            })
            .collect();
        let deployment = Deployment {
            name: name.to_owned(),
            servers: [master, replica],
            sentinels,
        };
        deployment.wait_ready();
        deployment
    }

    /// `redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/NAME`.
    pub(crate) fn url(&self) -> String {
        let hosts: Vec<String> = self.sentinels.iter().map(RedisServer::addr).collect();
        format!("redis+sentinel://{}/{}", hosts.join(","), self.name)
    }

    /// The master's port, as the first sentinel names it.
    pub(crate) fn master_port(&self) -> u16 {
        let (_, port): (String, u16) = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(&self.name)
            .query(&mut self.sentinels[0].raw())
            .expect("SENTINEL get-master-addr-by-name");
        port
    }

    /// The data server that is master now.
    pub(crate) fn master(&self) -> &RedisServer {
        let port = self.master_port();
        self.servers
            .iter()
            .find(|server| server.port() == port)
            .expect("the master is one of the deployment's servers")
    }

    /// The data server that is a replica now.
    pub(crate) fn replica(&self) -> &RedisServer {
        let port = self.master_port();
        self.servers
            .iter()
            .find(|server| server.port() != port)
            .expect("two servers")
    }

    /// Forces a failover (`SENTINEL FAILOVER`, through the first sentinel, which clients ask
    /// first: a forced failover needs no agreement) and returns once that sentinel names the
    /// former replica as master and it says it is one (about a second; the other sentinels
    /// learn of it within seconds). The former master
    /// is still up, and still a master: Sentinel demotes it some seconds later (about 15 s
    /// here), as it would a master that comes back after a failover.
    ///
    /// # Panics
    ///
    /// If that does not happen within [`FAILOVER_TIMEOUT`].
    pub(crate) fn failover(&self) {
        let new = self.replica().port();
        let _: () = redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg(&self.name)
            .query(&mut self.sentinels[0].raw())
            .expect("SENTINEL FAILOVER");
        self.wait_until("the failover", || {
            self.master_port() == new && role(self.server(new)) == "role:master"
        });
    }

    fn server(&self, port: u16) -> &RedisServer {
        self.servers
            .iter()
            .find(|server| server.port() == port)
            .expect("a server of the deployment")
    }

    /// Waits until the replica is in sync and every sentinel knows it. (The sentinels find
    /// each other later, within a few seconds: the failover needs no agreement, see
    /// [`failover`](Self::failover).)
    fn wait_ready(&self) {
        let master = self.servers[0].port();
        self.wait_until("the deployment to be ready", || {
            replicating(&self.servers[1], master)
                // Right after the sync, a replica may not acknowledge writes yet for a moment.
                && acknowledged(&self.servers[0])
                && self.sentinels.iter().all(|sentinel| {
                    // The replica as the sentinel last saw it: connected, in sync (which
                    // `SENTINEL FAILOVER` requires, or it answers NOGOODSLAVE).
                    let replicas: redis::RedisResult<Vec<redis::Value>> = redis::cmd("SENTINEL")
                        .arg("REPLICAS")
                        .arg(&self.name)
                        .query(&mut sentinel.raw());
                    replicas.is_ok_and(|replicas| {
                        replicas.into_iter().map(pairs).any(|fields| {
                            field(&fields, "flags") == "slave"
                                && field(&fields, "master-link-status") == "ok"
                        })
                    })
                })
        });
    }

    fn wait_until(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + FAILOVER_TIMEOUT.max(STARTUP_TIMEOUT);
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; sentinel log:\n{}",
                self.sentinels[0].log_tail()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether a replica of `master` acknowledges a write within 100 ms (`WAIT`).
fn acknowledged(master: &RedisServer) -> bool {
    let mut con = master.raw();
    redis::cmd("SET")
        .arg("redis-mutex-test:ready")
        .arg(1)
        .exec(&mut con)
        .and_then(|()| redis::cmd("WAIT").arg(1).arg(100).query::<i64>(&mut con))
        .is_ok_and(|replicas| replicas == 1)
}

/// The `role:` line of `INFO replication`.
fn role(server: &RedisServer) -> String {
    info_replication(server)
        .lines()
        .find(|line| line.starts_with("role:"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Whether `server` is a replica of 127.0.0.1:`master` with its link up.
fn replicating(server: &RedisServer, master: u16) -> bool {
    let info = info_replication(server);
    info.contains(&format!("master_port:{master}\r")) && info.contains("master_link_status:up")
}

fn info_replication(server: &RedisServer) -> String {
    redis::cmd("INFO")
        .arg("replication")
        .query(&mut server.raw())
        .unwrap_or_default()
}

/// A flat `[key, value, key, value, …]` reply as pairs.
fn pairs(value: redis::Value) -> Vec<(String, redis::Value)> {
    let items = match value {
        redis::Value::Array(items) => items,
        redis::Value::Map(map) => map.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => Vec::new(),
    };
    items
        .chunks(2)
        .filter_map(|pair| match pair {
            [key, value] => Some((text(key), value.clone())),
            _ => None,
        })
        .collect()
}

fn field(fields: &[(String, redis::Value)], name: &str) -> String {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| text(value))
        .unwrap_or_default()
}

fn text(value: &redis::Value) -> String {
    match value {
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        redis::Value::SimpleString(text) => text.clone(),
        redis::Value::Int(n) => n.to_string(),
        _ => String::new(),
    }
}
