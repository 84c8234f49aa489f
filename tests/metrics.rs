//! Metrics through the `metrics` facade (feature `metrics`): every documented series is
//! recorded, labelled by the lock's kind (its first name up to the first `:`).

mod common;
mod support;

use std::time::Duration;

use metrics_util::CompositeKey;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

use common::{PROMPTLY, key};

type Entry = (
    CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
);

/// Everything recorded so far (a snapshot drains counters, so take one).
fn snapshot(snapshotter: &Snapshotter) -> Vec<Entry> {
    snapshotter.snapshot().into_vec()
}

fn find<'a>(entries: &'a [Entry], name: &str, lock: &str) -> Option<&'a DebugValue> {
    entries
        .iter()
        .find(|(composite, ..)| {
            let key = composite.key();
            key.name() == name
                && key
                    .labels()
                    .any(|label| label.key() == "lock" && label.value() == lock)
        })
        .map(|(.., value)| value)
}

fn counter(entries: &[Entry], name: &str, lock: &str) -> u64 {
    match find(entries, name, lock) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name}{{lock={lock}}}: {other:?}"),
    }
}

fn histogram_len(entries: &[Entry], name: &str, lock: &str) -> usize {
    match find(entries, name, lock) {
        Some(DebugValue::Histogram(values)) => values.len(),
        other => panic!("{name}{{lock={lock}}}: {other:?}"),
    }
}

/// The only test of this binary: the recorder is process-global.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_operations_are_recorded() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("no other recorder in this test binary");

    let server = support::shared();
    let kind = format!("metrics{}", std::process::id());
    let name = format!("{kind}:account-7");
    let client = common::client(server);
    let mutex = client
        .mutex(name.as_str())
        .unwrap()
        .with_ttl(Duration::from_millis(300))
        .unwrap();

    // Acquired, contended (a failed try), renewed, released.
    let guard = mutex.lock().await.unwrap();
    assert!(mutex.try_lock().await.unwrap_err().is_busy());
    tokio::time::sleep(Duration::from_millis(450)).await;
    guard.release().await.unwrap();
    // Lost: the key vanishes behind the holder's back.
    let guard = mutex.lock().await.unwrap();
    common::raw(server, &["DEL", &key(&name)]);
    tokio::time::timeout(PROMPTLY, guard.lost()).await.unwrap();
    assert!(guard.release().await.unwrap_err().is_lost());

    let entries = snapshot(&snapshotter);
    assert_eq!(counter(&entries, "redis_mutex_acquired_total", &kind), 2);
    assert!(counter(&entries, "redis_mutex_contended_total", &kind) >= 1);
    assert!(counter(&entries, "redis_mutex_renewals_total", &kind) >= 1);
    assert_eq!(counter(&entries, "redis_mutex_lost_total", &kind), 1);
    assert_eq!(
        histogram_len(&entries, "redis_mutex_wait_seconds", &kind),
        2
    );
    assert_eq!(
        histogram_len(&entries, "redis_mutex_hold_seconds", &kind),
        2
    );
}
