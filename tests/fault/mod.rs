//! The fault harness: what the fault tests (`tests/faults_*.rs`) break, and how they check
//! that the lock held up. Written for one server, and reused for Redlock over several masters
//! (`faults_campaign::redlock_*`); meant to be reused for Cluster and Sentinel failover tests.
//!
//! * [`proxy`]: a TCP proxy that stalls, discards or cuts each direction of each connection,
//!   targeting the n-th connection or the pub/sub one.
//! * [`process`]: lock holders and waiters in processes of their own (the `fault-worker`
//!   binary, tests/fault/worker.rs), to freeze, thaw and kill; [`spec`] says what they do,
//!   [`event`] is what they report.
//! * [`server`]: servers that survive a restart, `CLIENT PAUSE`, `DEBUG SLEEP`, `CLIENT KILL`
//!   (stopping, restarting and freezing the server itself is `RedisServer`'s).
//! * [`history`]: the record of who held the lock when, and the exclusion check.
//!
//! Include after `mod support;` and `mod common;` with `mod fault;`. Everything runs on
//! 127.0.0.1 and is started and stopped by the tests.

#![allow(dead_code, unused_imports)]

pub(crate) mod event;
pub(crate) mod history;
pub(crate) mod process;
pub(crate) mod proxy;
pub(crate) mod server;
pub(crate) mod spec;

pub(crate) use event::{Event, FailKind, Outcome, now};
pub(crate) use history::History;
pub(crate) use process::Worker;
pub(crate) use proxy::{Dir, Flow, Proxy};
pub(crate) use spec::{ApiKind, Spec};

/// Stamps out two tests from each `fn scenario(api: ApiKind)` named, whose workers use that
/// API: `scenario::async_api` and `scenario::blocking_api` (named as `common::twin_tests!`
/// names the in-process twins).
#[allow(unused_macros)] // not every test binary has them
macro_rules! worker_api_tests {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[test]
            fn async_api() {
                super::$scenario(crate::fault::ApiKind::Async);
            }

            #[test]
            fn blocking_api() {
                super::$scenario(crate::fault::ApiKind::Blocking);
            }
        }
    )+};
}
#[allow(unused_imports)]
pub(crate) use worker_api_tests;
