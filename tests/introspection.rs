//! Asking Redis about a lock: `Mutex::is_locked` (anyone holds it) and `Guard::is_owned` (still
//! ours), on both APIs.

mod support;

mod common;

use common::name;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_locked_and_is_owned_ask_redis() {
    let server = support::shared();
    let client = common::client(server);
    let lock = name("introspect");
    let m = client.mutex([lock.as_str(), "other-name-of-it"]).unwrap();
    assert!(!m.is_locked().await.unwrap());
    let guard = m.lock().await.unwrap();
    assert!(m.is_locked().await.unwrap());
    assert!(guard.is_owned().await.unwrap());
    // Taken behind the guard's back: still locked, no longer ours.
    common::raw(server, &["SET", &common::key(&lock), "someone-else"]);
    assert!(m.is_locked().await.unwrap());
    assert!(!guard.is_owned().await.unwrap());
    assert!(guard.release().await.unwrap_err().is_lost());
    common::raw(server, &["DEL", &common::key(&lock)]);
    assert!(!m.is_locked().await.unwrap());

    // A key of another type is not a lock.
    let list = name("introspect-list");
    common::raw(server, &["RPUSH", &common::key(&list), "x"]);
    let err = client
        .mutex(list.as_str())
        .unwrap()
        .is_locked()
        .await
        .unwrap_err();
    assert!(
        matches!(err, redis_mutex::Error::WrongType { .. }),
        "{err:?}"
    );
}

#[test]
fn the_blocking_twins_and_builder() {
    let server = support::shared();
    let client = redis_mutex::blocking::Client::builder(server.url())
        .ttl(std::time::Duration::from_secs(5))
        .build_blocking()
        .unwrap();
    assert_eq!(client.ttl(), std::time::Duration::from_secs(5));
    let m = client.mutex(name("introspect-blocking").as_str()).unwrap();
    assert!(!m.is_locked().unwrap());
    let guard = m.lock().unwrap();
    assert!(m.is_locked().unwrap());
    assert!(guard.is_owned().unwrap());
    assert!(!guard.lost_timeout(std::time::Duration::from_millis(10)));
    guard.release().unwrap();
    assert!(!m.is_locked().unwrap());
}
