//! Interoperation with the seed's lock format and with other owners: keys are `MUTEX_<name>`
//! holding the owner's token with a TTL (`SET key token NX PX ttl`), a key someone else set is
//! respected as a held lock, and nothing we do ever deletes a key we do not own. The scenarios
//! named in `twin_tests!` run through both APIs (`scenario::async_api`, `scenario::blocking_api`).

mod common;
mod support;

use std::time::Duration;

use common::{Api, ApiClient, ApiGuard, ApiMutex, PROMPTLY, key, name, twin_tests};

twin_tests!(
    a_held_lock_is_its_key_holding_our_uuid_token_with_a_ttl,
    our_expired_guards_never_delete_another_owners_key,
);

#[test]
fn the_default_prefix_is_mutex_underscore() {
    let server = support::shared();
    let client = common::client(server);
    assert_eq!(client.prefix(), "MUTEX_");
    assert_eq!(
        common::blocking_client(server).as_async().prefix(),
        "MUTEX_"
    );
    let lock_name = name("prefix");
    let m = client.mutex(lock_name.as_str()).unwrap();
    assert_eq!(m.keys(), [format!("MUTEX_{lock_name}")]);
}

async fn a_held_lock_is_its_key_holding_our_uuid_token_with_a_ttl<A: Api>() {
    let server = support::shared();
    let lock_name = name("format");
    let k = key(&lock_name);
    let guard = A::client(server)
        .lease(&lock_name, Duration::from_secs(10), true)
        .lock()
        .await
        .unwrap();

    let token = uuid::Uuid::parse_str(guard.token()).expect("token is a UUID");
    assert_eq!(token.get_version_num(), 4, "token is not a v4 UUID");
    common::assert_key_holds(server, &k, &guard);
    let pttl = common::pttl(server, &k);
    assert!(
        pttl > 0 && pttl <= 10_000,
        "PTTL {pttl}: the key must expire"
    );
    assert_eq!(
        common::raw(server, &["TYPE", &k]),
        redis::Value::SimpleString("string".into())
    );

    guard.release().await.unwrap();
    assert_eq!(common::get(server, &k), None);
}

#[tokio::test]
async fn a_custom_prefix_is_used_verbatim() {
    let server = support::shared();
    let client = redis_mutex::Client::builder(server.url().as_str())
        .prefix("app:locks:")
        .build()
        .unwrap();
    assert_eq!(client.prefix(), "app:locks:");
    let lock_name = name("custom-prefix");
    let k = format!("app:locks:{lock_name}");
    let m = client.mutex(lock_name.as_str()).unwrap();
    assert_eq!(m.keys(), [k.as_str()]);
    let guard = m.lock().await.unwrap();
    common::assert_key_holds(server, &k, &guard);
    assert_eq!(common::get(server, &key(&lock_name)), None);
    // The same name under the default prefix is another lock.
    common::client(server)
        .mutex(lock_name.as_str())
        .unwrap()
        .try_lock()
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
    guard.release().await.unwrap();
}

#[tokio::test]
async fn a_seed_style_holder_makes_try_lock_busy_and_is_never_deleted() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("seed-holder");
    let k = key(&lock_name);
    common::raw(server, &["SET", &k, "other", "NX", "EX", "30"]);

    let m = client.mutex(lock_name.as_str()).unwrap();
    for _ in 0..3 {
        let err = m.try_lock().await.unwrap_err();
        assert!(err.is_busy(), "{err:?}");
    }
    let err = m
        .try_lock_for(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let blocking = common::blocking_client(server).mutex(&lock_name).unwrap();
    let err = blocking.try_lock().unwrap_err();
    assert!(err.is_busy(), "blocking: {err:?}");

    // Multi-locks that include it fail without disturbing it.
    let other = name("seed-holder-other");
    let multi = client.mutex([&other, &lock_name]).unwrap();
    let err = multi.try_lock().await.unwrap_err();
    assert!(err.is_busy(), "multi-lock: {err:?}");
    assert_eq!(common::get(server, &key(&other)), None);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(common::get(server, &k).as_deref(), Some("other"));
    let pttl = common::pttl(server, &k);
    assert!(pttl > 25_000, "its TTL was changed: PTTL {pttl}");
    common::raw(server, &["DEL", &k]);
}

/// Lets `k` expire (our short lease), then plays another owner taking it seed-style.
fn expire_and_take_over(server: &support::RedisServer, k: &str) {
    common::wait_expired(server, k, k);
    common::raw(server, &["SET", k, "other", "NX", "EX", "30"]);
}

/// Panics unless the other owner's key and TTL are as it set them; `after` names what we did.
fn assert_other_still_holds(server: &support::RedisServer, k: &str, after: &str) {
    assert_eq!(
        common::get(server, k).as_deref(),
        Some("other"),
        "{after}: another owner's key was deleted or overwritten"
    );
    let pttl = common::pttl(server, k);
    assert!(
        pttl > 25_000,
        "{after}: another owner's TTL was changed: PTTL {pttl}"
    );
}

async fn our_expired_guards_never_delete_another_owners_key<A: Api>() {
    let server = support::shared();
    let client = A::client(server);
    let lock_name = name("never-delete");
    let k = key(&lock_name);
    let short = client.lease(&lock_name, Duration::from_millis(300), false);
    // Time for a release sent from `Drop` (which does not report) to have landed.
    let settle = Duration::from_millis(300);

    for after in ["release", "drop", "extend"] {
        let guard = short.lock().await.unwrap();
        expire_and_take_over(server, &k);
        match after {
            // Released explicitly after expiry: Lost, and the other owner's key stays.
            "release" => {
                let err = guard.release().await.unwrap_err();
                assert!(err.is_lost(), "{after}: {err:?}");
            }
            // Dropped after expiry: the release sent from Drop leaves it alone too.
            "drop" => {
                drop(guard);
                A::sleep(settle).await;
            }
            // Extended after expiry: Lost, without touching the other owner's TTL; then dropped.
            _ => {
                let err = guard.extend(Duration::from_secs(60)).await.unwrap_err();
                assert!(err.is_lost(), "{after}: {err:?}");
                assert_other_still_holds(server, &k, after);
                drop(guard);
                A::sleep(settle).await;
            }
        }
        assert_other_still_holds(server, &k, after);
        common::raw(server, &["DEL", &k]);
    }

    // With renewal on, the renewal that finds the key taken must not touch it either.
    let guard = client
        .lease(&lock_name, Duration::from_millis(300), true)
        .lock()
        .await
        .unwrap();
    common::raw(server, &["SET", &k, "other", "EX", "30"]);
    assert!(
        guard.lost_within(PROMPTLY).await,
        "renewal did not notice the takeover"
    );
    drop(guard);
    A::sleep(settle).await;
    assert_other_still_holds(server, &k, "renewal, then drop");

    common::raw(server, &["DEL", &k]);
}

#[test]
fn a_key_without_ttl_is_still_a_held_lock() {
    // Someone set the key without an expiry (a seed-era bug): it is respected, not "fixed".
    let server = support::shared();
    let client = common::blocking_client(server);
    let lock_name = name("no-ttl");
    let k = key(&lock_name);
    common::raw(server, &["SET", &k, "forever"]);
    let err = client
        .mutex(lock_name.as_str())
        .unwrap()
        .try_lock()
        .unwrap_err();
    assert!(err.is_busy(), "{err:?}");
    assert_eq!(common::get(server, &k).as_deref(), Some("forever"));
    assert_eq!(common::pttl(server, &k), -1);
    common::raw(server, &["DEL", &k]);
}
