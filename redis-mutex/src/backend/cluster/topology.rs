//! Which master serves which slot, as far as this process knows: read with `CLUSTER SLOTS` in
//! the background when the cluster connection is first made, after a `MOVED` or a connection
//! error (a resharding, a failover), and when waiters register and the map is older than
//! [`MAX_AGE`] (a failover that redis-rs followed without a `MOVED` reaching this process).
//!
//! redis-rs keeps a slot map of its own inside the cluster connection, but does not show it.
//! This one is only a hint, for what may go to a slot's master directly (release
//! announcements, and the uncontended path's commands): a stale entry costs a `MOVED` (the
//! command did not run, and goes again through the cluster connection) or a missed
//! notification (the waiter takes the lock at its next poll), never a wrong answer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, RwLock};
use std::time::{Duration, Instant};

use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::{ConnectionAddr, Value};

use super::slots;
use crate::protocol::KeySet;

/// How old the map may get before a waiter's registration has it read again.
pub(super) const MAX_AGE: Duration = Duration::from_secs(5);

/// A range of slots (first, last) and its master's `host:port`.
type Owner = (u16, u16, Arc<str>);

/// The cluster's slot map, and how to reach its masters.
pub(super) struct Topology {
    /// The first seed node's client: the template (credentials, TLS) of the other nodes'.
    template: redis::Client,
    /// Slot ranges and their masters, ascending.
    owners: RwLock<Arc<[Owner]>>,
    /// How many times the map changed.
    generation: AtomicU64,
    /// Whether a read of the map is under way.
    reading: AtomicBool,
    /// When the latest read started.
    read_at: StdMutex<Option<Instant>>,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Topology")
    }
}

impl Topology {
    pub(super) fn new(template: redis::Client) -> Arc<Self> {
        Arc::new(Topology {
            template,
            owners: RwLock::new(Arc::new([])),
            generation: AtomicU64::new(0),
            reading: AtomicBool::new(false),
            read_at: StdMutex::new(None),
        })
    }

    /// The map as known now.
    pub(super) fn owners(&self) -> Arc<[Owner]> {
        self.owners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many times the map changed: a value that changed means masters may have changed.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A client of the node at `addr` (`host:port`), as the first seed's (credentials, TLS)
    /// but for the host and port: `None` when the seed is no TCP address.
    pub(super) fn node_client(&self, addr: &str) -> Option<redis::Client> {
        let (host, port) = addr.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let info = self.template.get_connection_info().clone();
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

    /// Whether the map was read less than `age` ago.
    pub(super) fn fresher_than(&self, age: Duration) -> bool {
        self.read_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| at.elapsed() < age)
    }

    /// Reads the map over `conn` in the background, on the crate runtime (one read at a time).
    pub(super) fn refresh(self: &Arc<Self>, mut conn: ClusterConnection) {
        if self.reading.swap(true, Ordering::AcqRel) {
            return;
        }
        *self.read_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        let this = self.clone();
        let spawned = crate::runtime::spawn(async move {
            let reply = conn
                .req_packed_command(redis::cmd("CLUSTER").arg("SLOTS"))
                .await;
            match reply.map(|reply| parse(&reply)) {
                Ok(Some(owners)) => {
                    let mut known = this.owners.write().unwrap_or_else(|p| p.into_inner());
                    if **known != *owners {
                        *known = owners.into();
                        this.generation.fetch_add(1, Ordering::AcqRel);
                    }
                }
                Ok(None) => tracing::debug!("could not read the cluster's slot map"),
                Err(error) => tracing::debug!(%error, "could not read the cluster's slot map"),
            }
            this.reading.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            self.reading.store(false, Ordering::Release);
        }
    }
}

/// The master in `owners` of the one slot of `keys`.
pub(super) fn owner_in(owners: &[Owner], keys: &KeySet) -> Option<Arc<str>> {
    let mut slots = keys.keys.iter().map(|key| slots::key_slot(key));
    let slot = slots.next()?;
    if slots.any(|other| other != slot) {
        return None;
    }
    owners
        .iter()
        .find(|(first, last, _)| (*first..=*last).contains(&slot))
        .map(|(_, _, addr)| addr.clone())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn cluster_slots_replies_are_read_into_owners() {
        let node =
            |host: &str, port: i64| Value::Array(vec![bulk(host), Value::Int(port), bulk("id")]);
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(5461),
                Value::Int(16383),
                node("10.0.0.2", 7001),
                node("10.0.0.5", 7004),
            ]),
            Value::Array(vec![Value::Int(0), Value::Int(5460), node("::1", 7000)]),
            Value::Array(vec![Value::Int(100), Value::Int(100), node("", 7002)]),
        ]);
        let owners = parse(&reply).unwrap();
        assert_eq!(
            owners,
            [
                (0, 5460, Arc::from("[::1]:7000")),
                (5461, 16383, Arc::from("10.0.0.2:7001")),
            ]
        );
        assert_eq!(parse(&Value::Int(1)), None);
        let keys = KeySet::of_keys(vec!["{a}1".to_owned(), "{a}2".to_owned()]);
        let slot = slots::key_slot("{a}1");
        let expected = if slot <= 5460 {
            "[::1]:7000"
        } else {
            "10.0.0.2:7001"
        };
        assert_eq!(owner_in(&owners, &keys).as_deref(), Some(expected));
        let across = KeySet::of_keys(vec!["a".to_owned(), "b".to_owned()]);
        if slots::key_slot("a") != slots::key_slot("b") {
            assert_eq!(owner_in(&owners, &across), None);
        }
    }
}
