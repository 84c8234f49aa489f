//! Metrics through the `metrics` facade (feature `metrics`); the series and their labels are
//! documented in the crate docs. Without the feature, every function here compiles to nothing.

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
