//! A lock's calls still on their way to the slower masters after a quorum settled them.
//!
//! An acquisition returns once a quorum took the lock, and a release once a quorum released it;
//! the calls to the other masters were sent and finish in the background. The next call on the
//! same lock from this process must not reach one of those masters before them: on another
//! connection it could (an acquisition may go on the crate's connection and its release on the
//! caller runtime's, or the other way round), and a release overtaken by its acquisition's late
//! call leaves a key nobody releases, while an acquisition that overtakes the previous holder's
//! release finds the lock still held there. So a call on a lock that goes on other connections
//! than the lock's previous call waits, master by master, for that call there to finish, while
//! its calls to the other masters go at once. The wait lasts at most the per-master timeout: a
//! master that has not answered the previous call by then is one this call would give up on
//! anyway, and every call ends within twice the timeout, so a hung master piles up no calls.
//! Calls on the same connections need no wait: a connection keeps their order. So, per master
//! that answers in time, this process's calls on a lock keep their order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use tokio::sync::Notify;

/// Which masters have finished one call over every master.
#[derive(Debug)]
pub(super) struct Calls {
    done: Vec<AtomicBool>,
    finished: Notify,
    /// The connections it went on: a caller runtime's set (its address), or (`None`) the
    /// crate's.
    connections: Option<usize>,
}

impl Calls {
    /// Calls to `masters` masters over `connections`, none finished.
    pub(super) fn new(masters: usize, connections: Option<usize>) -> Arc<Self> {
        Arc::new(Calls {
            done: (0..masters).map(|_| AtomicBool::new(false)).collect(),
            finished: Notify::new(),
            connections,
        })
    }

    /// Whether these calls went on `connections`.
    pub(super) fn went_on(&self, connections: Option<usize>) -> bool {
        self.connections == connections
    }

    /// The call to master `index` finished (answered, failed, or timed out).
    pub(super) fn finish(&self, index: usize) {
        if let Some(done) = self.done.get(index) {
            done.store(true, Ordering::Release);
        }
        self.finished.notify_waiters();
    }

    /// Waits until the call to master `index` finished.
    pub(super) async fn finished(&self, index: usize) {
        let finished = |calls: &Self| {
            calls
                .done
                .get(index)
                .is_none_or(|done| done.load(Ordering::Acquire))
        };
        loop {
            let notified = self.finished.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if finished(self) {
                return;
            }
            notified.await;
        }
    }
}

/// Per lock, its latest call that returned before all its calls finished.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    by_lock: StdMutex<HashMap<String, Arc<Calls>>>,
}

impl InFlight {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Calls>>> {
        self.by_lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A call on `lock` returned with `calls` still under way.
    pub(super) fn insert(&self, lock: &str, calls: Arc<Calls>) {
        self.table().insert(lock.to_owned(), calls);
    }

    /// `calls`, on `lock`, all finished.
    pub(super) fn remove(&self, lock: &str, calls: &Arc<Calls>) {
        let mut table = self.table();
        if table
            .get(lock)
            .is_some_and(|latest| Arc::ptr_eq(latest, calls))
        {
            table.remove(lock);
        }
    }

    /// The latest call on `lock` that returned before all its calls finished, if any.
    pub(super) fn latest(&self, lock: &str) -> Option<Arc<Calls>> {
        self.table().get(lock).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_ends_when_its_masters_call_finishes() {
        let calls = Calls::new(3, None);
        calls.finish(0);
        calls.finished(0).await;
        let waiting = tokio::spawn({
            let calls = calls.clone();
            async move { calls.finished(2).await }
        });
        tokio::task::yield_now().await;
        calls.finish(1);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        calls.finish(2);
        waiting.await.unwrap();
        calls.finished(7).await; // no such master: nothing to wait for
    }

    #[test]
    fn only_the_latest_call_of_a_lock_is_kept() {
        let in_flight = InFlight::default();
        assert!(in_flight.latest("lock").is_none());
        let (first, second) = (Calls::new(5, None), Calls::new(5, None));
        in_flight.insert("lock", first.clone());
        in_flight.insert("lock", second.clone());
        in_flight.remove("lock", &first);
        assert!(
            in_flight
                .latest("lock")
                .is_some_and(|l| Arc::ptr_eq(&l, &second))
        );
        in_flight.remove("lock", &second);
        assert!(in_flight.latest("lock").is_none());
    }
}
