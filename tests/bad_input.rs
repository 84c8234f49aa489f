//! Every bad input and broken environment gives its own error, promptly, naming what is wrong,
//! and never a password: empty names, unusable TTLs, bad URLs, closed ports, wrong passwords,
//! keys of another type, a server that goes away or stops answering while a guard is held. The
//! scenarios named in `twin_tests!` run through both APIs (`scenario::async_api`,
//! `scenario::blocking_api`).

mod common;
mod support;

use std::time::{Duration, Instant};

use common::{Api, ApiClient, ApiGuard, ApiMutex, key, name, twin_tests};
use redis_mutex::Error;
use support::RedisServer;

/// Unreachable servers must be reported within this (the brief allows a few seconds of connect
/// timeout and retries; a hang fails).
const REPORT_WITHIN: Duration = Duration::from_secs(15);

twin_tests!(
    extend_by_an_invalid_ttl_is_invalid_and_keeps_the_lock,
    a_closed_port_is_unreachable_and_reported_promptly,
    the_server_going_away_while_a_guard_is_held_is_an_error_not_a_panic,
);

// ---------------------------------------------------------------------------------------------
// Names and TTLs

#[test]
fn empty_lock_names_are_invalid() {
    let client = common::blocking_client(support::shared());
    let async_client = common::client(support::shared());
    let cases: Vec<redis_mutex::Result<redis_mutex::blocking::Mutex>> = vec![
        client.mutex(""),
        client.mutex(String::new()),
        client.mutex(["a", ""]),
        client.mutex(Vec::<String>::new()),
        client.mutex(&[] as &[&str]),
    ];
    for result in cases {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{err:?}");
        assert!(!err.is_connection() && !err.is_busy());
    }
    let err = async_client.mutex("").unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err:?}");
}

#[test]
fn zero_timeouts_and_poll_intervals_are_invalid() {
    type Set = fn(redis_mutex::ClientBuilder) -> redis_mutex::ClientBuilder;
    let cases: [(&str, Set); 3] = [
        ("connect_timeout", |b| b.connect_timeout(Duration::ZERO)),
        ("response_timeout", |b| b.response_timeout(Duration::ZERO)),
        ("max_poll_interval", |b| b.max_poll_interval(Duration::ZERO)),
    ];
    for (option, set) in cases {
        let builder = redis_mutex::Client::builder(support::shared().url().as_str());
        match set(builder).build() {
            Err(Error::InvalidConfig { option: named, .. }) => assert_eq!(named, option),
            other => panic!("{option} = 0: expected Error::InvalidConfig, got {other:?}"),
        }
    }
}

#[test]
fn too_short_and_oversized_ttls_are_invalid() {
    let client = common::client(support::shared());
    let m = client.mutex(name("ttl").as_str()).unwrap();
    for ttl in [
        Duration::ZERO,
        Duration::from_millis(1),
        Duration::from_millis(3),
        redis_mutex::MIN_TTL - Duration::from_millis(1),
        Duration::MAX,
        Duration::from_secs(u64::MAX / 2),
        Duration::from_millis(i64::MAX as u64),
    ] {
        let err = m.clone().with_ttl(ttl).unwrap_err();
        match &err {
            Error::InvalidTtl { ttl: reported, .. } => assert_eq!(*reported, ttl),
            other => panic!("with_ttl({ttl:?}): expected Error::InvalidTtl, got {other:?}"),
        }
    }
    // The minimum is named in the message, and is fine itself.
    let err = m.clone().with_ttl(Duration::from_millis(2)).unwrap_err();
    assert!(err.to_string().contains("at least 100 ms"), "{err}");
    assert_eq!(
        redis_mutex::MIN_TTL,
        Duration::from_millis(100),
        "the macro checks 100ms too"
    );
    m.clone().with_ttl(redis_mutex::MIN_TTL).unwrap();
    m.clone()
        .with_ttl(Duration::from_secs(86_400 * 365))
        .unwrap();

    // Same checks for the client-wide default and the blocking twin.
    let err = redis_mutex::Client::builder(support::shared().url().as_str())
        .ttl(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidTtl { .. }), "{err:?}");
    let blocking = common::blocking_client(support::shared());
    let err = blocking
        .mutex(name("ttl-blocking").as_str())
        .unwrap()
        .with_ttl(Duration::MAX)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidTtl { .. }), "{err:?}");
}

async fn extend_by_an_invalid_ttl_is_invalid_and_keeps_the_lock<A: Api>() {
    let server = support::shared();
    let lock_name = name("extend-invalid");
    let guard = A::client(server)
        .mutex(&lock_name)
        .unwrap()
        .lock()
        .await
        .unwrap();
    for ttl in [Duration::ZERO, Duration::MAX] {
        let err = guard.extend(ttl).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidTtl { .. }),
            "extend({ttl:?}): {err:?}"
        );
        // Kept in Redis too, not only in the guard's local view.
        assert!(guard.is_held(), "extend({ttl:?})");
        assert_eq!(
            common::get(server, &key(&lock_name)).as_deref(),
            Some(guard.token()),
            "extend({ttl:?}) touched the key"
        );
        let pttl = common::pttl(server, &key(&lock_name));
        assert!(pttl > 1000, "extend({ttl:?}) changed the TTL: PTTL {pttl}");
    }
    guard.release().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// URLs

#[test]
fn unparsable_urls_are_invalid_without_leaking_the_password() {
    for url in [
        "",
        "not a url",
        "127.0.0.1:6379",
        "http://127.0.0.1:6379/",
        "redis://user:hunter2@[::1",
        "redis://:hunter2@127.0.0.1:notaport/",
        "redis://user:hunter2@127.0.0.1:6379/notadb",
    ] {
        let err = redis_mutex::Client::open(url).unwrap_err();
        assert!(
            matches!(err, Error::InvalidUrl { .. }),
            "Client::open({url:?}): expected Error::InvalidUrl, got {err:?}"
        );
        assert!(err.is_invalid_input());
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains("hunter2"), "{url:?} leaked: {shown}");
        }
        let err = redis_mutex::blocking::Client::open(url).unwrap_err();
        assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
        assert!(!err.to_string().contains("hunter2"));
        assert!(!format!("{err:?}").contains("hunter2"));
    }
}

#[test]
fn opening_a_client_does_no_io() {
    // A closed port: open() succeeds, only the first lock operation reports it.
    let port = support::free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let start = Instant::now();
    redis_mutex::Client::open(url.as_str()).unwrap();
    redis_mutex::blocking::Client::open(url.as_str()).unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
}

// ---------------------------------------------------------------------------------------------
// Servers that are not there, refuse us, or go away

fn assert_unreachable(err: &Error, port: u16) {
    match err {
        Error::Unreachable { server, .. } => {
            assert!(server.contains(&port.to_string()), "server = {server:?}");
        }
        other => panic!("expected Error::Unreachable, got {other:?}"),
    }
    assert!(err.is_connection());
    assert!(!err.is_busy() && !err.is_timeout() && !err.is_lost());
    let shown = err.to_string();
    assert!(
        shown.contains(&format!("127.0.0.1:{port}")),
        "message does not name the address: {shown}"
    );
    // The cause is the source, and only the source: reporters that print the chain show it once.
    let cause = std::error::Error::source(err)
        .expect("the cause")
        .to_string();
    assert!(
        !shown.contains(&cause),
        "{shown:?} repeats its cause {cause:?}"
    );
}

async fn a_closed_port_is_unreachable_and_reported_promptly<A: Api>() {
    let port = support::free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let client = A::wrap(redis_mutex::Client::open(url.as_str()).unwrap());
    let m = client.mutex(name("closed")).unwrap();

    let start = Instant::now();
    let err = m.try_lock().await.unwrap_err();
    common::assert_within("try_lock on a closed port", start, REPORT_WITHIN);
    assert_unreachable(&err, port);

    // A waiting acquire reports it too, instead of retrying a dead server until its wait is
    // over (which would take longer than REPORT_WITHIN, and end in a Timeout).
    let start = Instant::now();
    let err = m
        .clone()
        .with_wait(Some(REPORT_WITHIN * 4))
        .lock()
        .await
        .unwrap_err();
    common::assert_within("a waiting lock on a closed port", start, REPORT_WITHIN);
    assert_unreachable(&err, port);
}

#[tokio::test]
async fn a_wrong_or_missing_password_is_refused_and_not_shown() {
    let server = RedisServer::builder().password("right-pw").start();
    let wrong = format!("redis://:wrong-pw-4521@127.0.0.1:{}/", server.port());
    // No password at all where one is required is refused too (NOAUTH).
    for (what, url) in [
        ("a wrong password", wrong),
        ("no password", server.url_without_password()),
    ] {
        let client = redis_mutex::Client::open(url.as_str()).unwrap();
        let m = client.mutex(name("refused")).unwrap();
        let start = Instant::now();
        let err = m.try_lock().await.unwrap_err();
        common::assert_within(what, start, REPORT_WITHIN);
        assert!(
            matches!(err, Error::Refused { .. }) && err.is_connection(),
            "{what}: expected Error::Refused, got {err:?}"
        );
        for shown in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
            assert!(
                !shown.contains("wrong-pw-4521"),
                "{what}: password shown: {shown}"
            );
        }
    }

    // The right one works (a unix socket: `password_and_unix_socket_urls_work`).
    let client = redis_mutex::Client::open(server.url().as_str()).unwrap();
    let m = client.mutex(name("right-pw")).unwrap();
    m.try_lock().await.unwrap().release().await.unwrap();
}

#[test]
fn password_and_unix_socket_urls_work() {
    let server = RedisServer::builder()
        .password("unix-secret-77")
        .unix_socket(true)
        .start();
    assert!(server.url().starts_with("redis+unix://"));
    let client = redis_mutex::blocking::Client::open(server.url().as_str()).unwrap();
    let lock_name = name("unix");
    let guard = client
        .mutex(lock_name.as_str())
        .unwrap()
        .try_lock()
        .unwrap();
    common::assert_key_holds(&server, &key(&lock_name), &guard);
    guard.release().unwrap();
    assert!(
        !client.server().contains("unix-secret-77"),
        "{}",
        client.server()
    );
    assert!(!format!("{client:?}").contains("unix-secret-77"));
}

#[tokio::test]
async fn a_key_of_another_type_is_wrong_type_naming_the_key() {
    let server = support::shared();
    let client = common::client(server);
    let lock_name = name("wrongtype");
    let k = key(&lock_name);
    common::raw(server, &["HSET", &k, "f", "v"]);

    let m = client.mutex(lock_name.as_str()).unwrap();
    let err = m.try_lock().await.unwrap_err();
    match &err {
        Error::WrongType { key, .. } => assert_eq!(key, &k),
        other => panic!("expected Error::WrongType, got {other:?}"),
    }
    assert!(err.to_string().contains(&k), "{err}");

    // A waiting acquire reports it too instead of waiting for a lock that cannot exist.
    let start = Instant::now();
    let err = m
        .clone()
        .with_wait(Some(Duration::from_secs(10)))
        .lock()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongType { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(5));

    // As part of a multi-lock, and from the blocking API.
    let other = name("wrongtype-other");
    let multi = client.mutex([&lock_name, &other]).unwrap();
    let err = multi.try_lock().await.unwrap_err();
    assert!(
        matches!(err, Error::WrongType { .. }),
        "multi-lock: {err:?}"
    );
    assert_eq!(common::get(server, &key(&other)), None);
    let blocking = common::blocking_client(server).mutex(&lock_name).unwrap();
    let err = blocking.try_lock().unwrap_err();
    assert!(matches!(err, Error::WrongType { .. }), "blocking: {err:?}");

    // The hash is untouched.
    assert_eq!(
        common::raw(server, &["HGET", &k, "f"]),
        redis::Value::BulkString(b"v".to_vec())
    );
    common::raw(server, &["DEL", &k]);
}

async fn the_server_going_away_while_a_guard_is_held_is_an_error_not_a_panic<A: Api>() {
    let mut server = RedisServer::start();
    let client = A::wrap(common::impatient_client(&server, Duration::from_secs(1)));
    let m = client.mutex(name("gone")).unwrap();
    let guard = m.lock().await.unwrap();
    let dropped_guard = client
        .mutex(name("gone-dropped"))
        .unwrap()
        .lock()
        .await
        .unwrap();

    server.stop();
    let start = Instant::now();
    let err = guard.release().await.unwrap_err();
    common::assert_within("release with the server gone", start, REPORT_WITHIN);
    assert!(
        err.is_connection(),
        "expected a connection error, got {err:?}"
    );
    drop(dropped_guard); // Drop cannot report; it must not panic or hang either
    common::assert_within("release, then Drop", start, REPORT_WITHIN);

    // Acquiring while it is down fails the same way.
    let err = m.try_lock().await.unwrap_err();
    assert!(err.is_connection(), "{err:?}");

    // Once it is back (empty: no persistence), the client recovers.
    server.restart();
    let recovered = common::eventually_in::<A, _, _>(Duration::from_secs(10), || async {
        match m.try_lock().await {
            Ok(guard) => guard.release().await.is_ok(),
            Err(_) => false,
        }
    })
    .await;
    assert!(
        recovered,
        "the client did not recover after the server came back"
    );
}

#[tokio::test]
async fn a_server_that_stops_answering_is_reported_within_the_response_timeout() {
    let server = RedisServer::start();
    let client = common::impatient_client(&server, Duration::from_millis(500));
    let m = client.mutex(name("paused")).unwrap();
    let guard = m.lock().await.unwrap();

    server.pause();
    let start = Instant::now();
    let err = guard.release().await.unwrap_err();
    let took = start.elapsed();
    server.resume();
    assert!(took < REPORT_WITHIN, "release took {took:?}");
    assert!(err.is_connection(), "{err:?}");
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Passwords are never shown

#[tokio::test]
async fn passwords_never_appear_in_debug_or_display() {
    let url = "redis://user:secret@127.0.0.1:1/";
    let client = redis_mutex::Client::open(url).unwrap();
    let blocking = redis_mutex::blocking::Client::open(url).unwrap();
    let m = client.mutex("redaction").unwrap();
    let bm = blocking.mutex("redaction").unwrap();

    let mut shown = vec![
        format!("{client:?}"),
        format!("{:?}", client.clone().blocking()),
        format!("{blocking:?}"),
        client.server().to_owned(),
        blocking.server().to_owned(),
        format!("{m:?}"),
        format!("{bm:?}"),
    ];
    assert!(
        client.server().contains("127.0.0.1:1"),
        "{}",
        client.server()
    );

    let err = m.try_lock().await.unwrap_err();
    assert!(err.is_connection(), "{err:?}");
    shown.push(err.to_string());
    shown.push(format!("{err:?}"));
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        shown.push(cause.to_string());
        shown.push(format!("{cause:?}"));
        source = cause.source();
    }
    let err = bm.try_lock().unwrap_err();
    shown.push(err.to_string());
    shown.push(format!("{err:?}"));

    for text in shown {
        assert!(!text.contains("secret"), "password shown: {text}");
    }
}
