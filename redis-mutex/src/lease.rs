//! A holder's local view of its lease, and the watchdog that renews it.
//!
//! The deadline is conservative: it is measured from *before* the request that set (or renewed)
//! the TTL was sent, minus a drift margin, so a holder believes its lease over no later than
//! Redis expires the key.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::protocol;

/// Shared between a guard and its renewal task.
#[derive(Debug)]
pub(crate) struct Lease {
    origin: Instant,
    /// Nanoseconds after `origin` at which the lease is over.
    deadline: AtomicU64,
    lost: AtomicBool,
    /// Wakes async waiters on a change (renewal or loss).
    changed: Notify,
    /// Wakes blocking waiters on loss.
    lost_flag: StdMutex<bool>,
    lost_cv: Condvar,
}

impl Lease {
    /// A lease of `ttl` granted by a request sent at `sent`.
    pub(crate) fn new(sent: Instant, ttl: Duration) -> Arc<Self> {
        let lease = Arc::new(Lease {
            origin: sent,
            deadline: AtomicU64::new(0),
            lost: AtomicBool::new(false),
            changed: Notify::new(),
            lost_flag: StdMutex::new(false),
            lost_cv: Condvar::new(),
        });
        lease.renewed(sent, ttl);
        lease
    }

    /// Records a renewal (or extension) to `ttl` by a request sent at `sent`. The new deadline
    /// replaces the old one even when earlier: an extension may shorten the lease.
    pub(crate) fn renewed(&self, sent: Instant, ttl: Duration) {
        let end = (sent + ttl.saturating_sub(protocol::drift(ttl)))
            .saturating_duration_since(self.origin);
        let end = u64::try_from(end.as_nanos()).unwrap_or(u64::MAX);
        self.deadline.store(end, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// The instant the lease is over, as far as this process can tell.
    pub(crate) fn deadline(&self) -> Instant {
        self.origin + Duration::from_nanos(self.deadline.load(Ordering::Acquire))
    }

    /// Marks the lock as lost (another owner, or the key vanished) and wakes every waiter.
    pub(crate) fn mark_lost(&self) {
        if !self.lost.swap(true, Ordering::AcqRel) {
            self.changed.notify_waiters();
            *self.lost_flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
            self.lost_cv.notify_all();
        }
    }

    /// Whether the lock is known lost (`mark_lost`), not counting deadline expiry.
    pub(crate) fn is_marked_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// Time left on the lease; zero once lost or expired.
    pub(crate) fn remaining(&self) -> Duration {
        if self.is_marked_lost() {
            Duration::ZERO
        } else {
            self.deadline().saturating_duration_since(Instant::now())
        }
    }

    /// Completes once the lease is lost or has run out.
    pub(crate) async fn expired(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.remaining().is_zero() {
                return;
            }
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(self.deadline()) => {}
            }
        }
    }

    /// Blocks until the lease is lost or has run out, or `timeout` passes. Returns whether it is
    /// over.
    pub(crate) fn wait_expired(&self, timeout: Duration) -> bool {
        // `None`: past what the clock can represent (`Duration::MAX`), so no end.
        let end = std::time::Instant::now().checked_add(timeout);
        let mut lost = self.lost_flag.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let remaining = self.remaining();
            if *lost || remaining.is_zero() {
                return true;
            }
            let now = std::time::Instant::now();
            let left = end.map_or(Duration::MAX, |end| end.saturating_duration_since(now));
            if left.is_zero() {
                return false;
            }
            // Renewals move the deadline without signalling the condvar: re-check at least at
            // the current deadline.
            let wait = remaining.min(left);
            lost = self
                .lost_cv
                .wait_timeout(lost, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}
