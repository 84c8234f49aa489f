//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`).
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `redis_mutex_wait_seconds` | histogram | from the call to `lock()` until acquired |
//! | `redis_mutex_hold_seconds` | histogram | from acquired until released |
//! | `redis_mutex_acquired_total` | counter | successful acquisitions |
//! | `redis_mutex_contended_total` | counter | acquisitions whose first attempt found the lock taken |
//! | `redis_mutex_renewals_total` | counter | successful lease renewals |
//! | `redis_mutex_lost_total` | counter | locks found lost (renewal, release or lease expiry) |
//!
//! Each carries a `lock` label. Lock names can be unbounded (one per account, per file …), so
//! the label is the lock's first name up to its first `:` — `account:42` is recorded as
//! `account` — which keeps the label set as small as the set of lock *kinds*.
//! Without the feature, every function here compiles to nothing.

use std::time::Duration;

use crate::names::LockNames;

#[cfg(feature = "metrics")]
fn label(names: &LockNames) -> String {
    let first = names
        .as_slice()
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    first.split(':').next().unwrap_or_default().to_owned()
}

#[cfg(feature = "metrics")]
pub(crate) fn acquired(names: &LockNames, waited: Duration) {
    let lock = label(names);
    metrics::histogram!("redis_mutex_wait_seconds", "lock" => lock.clone()).record(waited);
    metrics::counter!("redis_mutex_acquired_total", "lock" => lock).increment(1);
}

#[cfg(feature = "metrics")]
pub(crate) fn released(names: &LockNames, held: Duration) {
    metrics::histogram!("redis_mutex_hold_seconds", "lock" => label(names)).record(held);
}

#[cfg(feature = "metrics")]
pub(crate) fn contended(names: &LockNames) {
    metrics::counter!("redis_mutex_contended_total", "lock" => label(names)).increment(1);
}

#[cfg(feature = "metrics")]
pub(crate) fn renewed(names: &LockNames) {
    metrics::counter!("redis_mutex_renewals_total", "lock" => label(names)).increment(1);
}

#[cfg(feature = "metrics")]
pub(crate) fn lost(names: &LockNames) {
    metrics::counter!("redis_mutex_lost_total", "lock" => label(names)).increment(1);
}

#[cfg(not(feature = "metrics"))]
pub(crate) fn acquired(_: &LockNames, _: Duration) {}
#[cfg(not(feature = "metrics"))]
pub(crate) fn released(_: &LockNames, _: Duration) {}
#[cfg(not(feature = "metrics"))]
pub(crate) fn contended(_: &LockNames) {}
#[cfg(not(feature = "metrics"))]
pub(crate) fn renewed(_: &LockNames) {}
#[cfg(not(feature = "metrics"))]
pub(crate) fn lost(_: &LockNames) {}
