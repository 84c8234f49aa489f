//! Cluster connections driven by the callers' own tokio runtimes, for the uncontended path
//! (see [`Backend::local`](crate::backend::Backend::local)): a call from a caller's task then
//! reaches the nodes without a hop to the crate's runtime thread, as on one server.
//!
//! One per runtime, opened in the background on that runtime the first time it asks, and
//! found again by the runtime's id (the [`Local`](crate::backend::Local) the uncontended path
//! carries names it). A task of the runtime forgets its entry when the runtime shuts down, and
//! a connection that failed is forgotten through [`Runtimes::failed`] (for a second, then
//! opened again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex, Weak};
use std::time::{Duration, Instant};

use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use tokio::runtime::{Handle, Id};

/// How long after a failed connect a runtime goes without a connection of its own.
const RETRY_AFTER: Duration = Duration::from_secs(1);

enum State {
    Connecting,
    Ready(ClusterConnection),
    Failed(Instant),
}

/// The cluster connections of the callers' runtimes.
pub(super) struct Runtimes {
    client: ClusterClient,
    /// How long a connect may take.
    bound: Duration,
    table: Arc<StdMutex<HashMap<Id, State>>>,
}

impl std::fmt::Debug for Runtimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runtimes")
    }
}

impl Runtimes {
    pub(super) fn new(client: ClusterClient, bound: Duration) -> Self {
        Runtimes {
            client,
            bound,
            table: Arc::default(),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<Id, State>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection of runtime `id`, the calling task's, if ready; otherwise starts opening
    /// one on the calling runtime (unless a recent attempt failed) and returns `None`.
    pub(super) fn get(&self, id: Id) -> Option<ClusterConnection> {
        let handle = Handle::try_current().ok().filter(|h| h.id() == id)?;
        let mut table = self.table();
        match table.get(&id) {
            Some(State::Ready(conn)) => return Some(conn.clone()),
            Some(State::Connecting) => return None,
            Some(State::Failed(until)) if Instant::now() < *until => return None,
            Some(State::Failed(_)) => {}
            None => {
                // First seen: forget the runtime with its tasks, when it shuts down.
                let forget = Forget {
                    id,
                    table: Arc::downgrade(&self.table),
                };
                handle.spawn(async move {
                    let _forget = forget;
                    std::future::pending::<()>().await;
                });
            }
        }
        table.insert(id, State::Connecting);
        drop(table);
        let (client, bound, table) = (self.client.clone(), self.bound, self.table.clone());
        handle.spawn(async move {
            let connected = tokio::time::timeout(bound, client.get_async_connection()).await;
            let state = match connected {
                Ok(Ok(conn)) => State::Ready(conn),
                _ => State::Failed(Instant::now() + RETRY_AFTER),
            };
            table
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, state);
        });
        None
    }

    /// The connection of runtime `id`, if it is ready.
    pub(super) fn ready(&self, id: Id) -> Option<ClusterConnection> {
        match self.table().get(&id) {
            Some(State::Ready(conn)) => Some(conn.clone()),
            _ => None,
        }
    }

    /// Forgets runtime `id`'s connection after it failed, for a moment.
    pub(super) fn failed(&self, id: Id) {
        if let Some(state) = self.table().get_mut(&id) {
            *state = State::Failed(Instant::now() + RETRY_AFTER);
        }
    }
}

/// Removes its runtime's entry when dropped: held by a task that never ends, so dropped when
/// the runtime shuts down.
struct Forget {
    id: Id,
    table: Weak<StdMutex<HashMap<Id, State>>>,
}

impl Drop for Forget {
    fn drop(&mut self) {
        if let Some(table) = self.table.upgrade() {
            table
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&self.id);
        }
    }
}
