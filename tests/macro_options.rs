//! The options of `#[mutex]` against a real Redis: the default server (`REDIS_MUTEX_URL`),
//! `server = "..."` (opened once, reused), `prefix` (alone and on a `client`), `ttl`, `renew`,
//! `fencing`, `guard`, and `wait = "forever"` against a client with a default wait.
//!
//! One test function: it sets `REDIS_MUTEX_URL` in-process before anything reads it, which is
//! only sound while no other test thread runs.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use redis_mutex::{Client, mutex};

/// Where the `server = "..."` case's redis-server listens (a literal, so a fixed path).
const SOCKET: &str = "/tmp/redis-mutex-macros-test.sock";

fn get(server: &support::RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut server.raw())
        .expect("GET")
}

fn pttl(key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query(&mut support::shared().raw())
        .expect("PTTL")
}

#[mutex("{name}", guard = lock)]
fn on_the_default_server(name: &str) -> (Option<String>, String) {
    let token = lock.expect("taken here").token().to_owned();
    (get(support::shared(), &format!("MUTEX_{name}")), token)
}

#[mutex("{name}", prefix = "custom:")]
fn with_prefix(name: &str) -> (Option<String>, Option<String>) {
    (
        get(support::shared(), &format!("custom:{name}")),
        get(support::shared(), &format!("MUTEX_{name}")),
    )
}

#[mutex("{name}", ttl = "7s", renew = false)]
fn with_ttl(name: &str) -> i64 {
    pttl(&format!("MUTEX_{name}"))
}

/// A 500 ms lease, renewed while the body runs three times as long.
#[mutex("{name}", ttl = "500ms", guard = lock)]
fn renewed(name: &str) -> bool {
    thread::sleep(Duration::from_millis(1500));
    lock.expect("taken here").is_held() && pttl(&format!("MUTEX_{name}")) > 0
}

/// The same without renewal: the lease runs out under the body.
#[mutex("{name}", ttl = "500ms", renew = false, guard = lock)]
fn not_renewed(name: &str) -> bool {
    thread::sleep(Duration::from_millis(1500));
    lock.expect("taken here").is_held() || pttl(&format!("MUTEX_{name}")) > 0
}

#[mutex("{name}", fencing = true, guard = lock)]
async fn fenced(name: String) -> Option<u64> {
    lock.and_then(|guard| guard.fencing_token())
}

#[mutex("{name}", server = "redis+unix:///tmp/redis-mutex-macros-test.sock", guard = lock)]
fn on_a_literal_server(name: &str, server: &support::RedisServer) -> (Option<String>, String) {
    let token = lock.expect("taken here").token().to_owned();
    (get(server, &format!("MUTEX_{name}")), token)
}

/// A client whose `lock()` gives up after 100 ms unless told otherwise.
fn impatient() -> Client {
    Client::builder(support::shared().url())
        .wait(Some(Duration::from_millis(100)))
        .build()
        .expect("open client")
}

#[mutex("{name}", client = impatient())]
fn client_default_wait(name: &str) -> redis_mutex::Result<()> {
    Ok(())
}

#[mutex("{name}", client = impatient(), wait = "forever")]
fn wait_forever(name: &str) -> redis_mutex::Result<()> {
    Ok(())
}

/// `prefix` applied to a `client`: its server and defaults (the 100 ms wait), another prefix.
#[mutex("{name}", client = impatient(), prefix = "via-client:", guard = lock)]
fn client_with_prefix(name: &str) -> redis_mutex::Result<(Option<String>, Option<String>, String)> {
    Ok((
        get(support::shared(), &format!("via-client:{name}")),
        get(support::shared(), &format!("MUTEX_{name}")),
        lock.expect("taken here").token().to_owned(),
    ))
}

fn connected_clients(server: &support::RedisServer) -> usize {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut server.raw())
        .expect("CLIENT LIST");
    list.lines().count()
}

#[test]
fn options_against_a_real_server() {
    let server = support::shared();
    // SAFETY: the only test of this binary, before anything else reads the environment.
    unsafe { std::env::set_var("REDIS_MUTEX_URL", server.url()) };

    // Default server: REDIS_MUTEX_URL, default prefix MUTEX_, the guard's token in the key.
    let name = support::unique("options-default");
    let (value, token) = on_the_default_server(&name);
    assert_eq!(value.as_deref(), Some(token.as_str()));
    assert_eq!(get(server, &format!("MUTEX_{name}")), None, "released");

    let name = support::unique("options-prefix");
    let (custom, default) = with_prefix(&name);
    assert!(custom.is_some(), "the key carries the custom prefix");
    assert!(default.is_none(), "and not the default one");

    let name = support::unique("options-client-prefix");
    let (custom, default, token) = client_with_prefix(&name).expect("free");
    assert_eq!(
        custom,
        Some(token),
        "the key carries the prefix given with `client`"
    );
    assert!(default.is_none(), "and not the client's own");
    let holder = Client::open(&server.url())
        .expect("client")
        .with_prefix("via-client:")
        .blocking()
        .mutex(name.as_str())
        .expect("mutex")
        .try_lock()
        .expect("hold");
    let started = Instant::now();
    let error = client_with_prefix(&name).expect_err("held under that prefix");
    assert!(error.is_timeout(), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the client's 100 ms wait still applies: {:?}",
        started.elapsed()
    );
    drop(holder);

    let name = support::unique("options-ttl");
    let remaining = with_ttl(&name);
    assert!((6_000..=7_000).contains(&remaining), "PTTL {remaining}");

    assert!(
        renewed(&support::unique("options-renew")),
        "renewal kept the lease"
    );
    assert!(
        !not_renewed(&support::unique("options-no-renew")),
        "without renewal the 500 ms lease ran out under a 1.5 s body"
    );

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let name = support::unique("options-fencing");
    let first = runtime
        .block_on(fenced(name.clone()))
        .expect("a fencing token");
    let second = runtime.block_on(fenced(name)).expect("a fencing token");
    assert!(second > first, "fencing tokens grow: {first} then {second}");

    // `server = "..."`: a redis-server listening on the literal's unix socket.
    let literal = support::RedisServer::builder()
        .arg("--unixsocket")
        .arg(SOCKET)
        .start();
    let name = support::unique("options-server");
    let (value, token) = on_a_literal_server(&name, &literal);
    assert_eq!(
        value.as_deref(),
        Some(token.as_str()),
        "locked on that server"
    );
    let after_first = connected_clients(&literal);
    for _ in 0..10 {
        let _ = on_a_literal_server(&name, &literal);
    }
    assert_eq!(
        connected_clients(&literal),
        after_first,
        "the server's client is opened once, not per call"
    );

    // A client's default wait applies unless `wait` overrides it.
    let name = support::unique("options-wait");
    let holder = {
        let guard = Client::open(&server.url())
            .expect("client")
            .blocking()
            .mutex(name.as_str())
            .expect("mutex")
            .try_lock()
            .expect("hold");
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(500));
            drop(guard);
        })
    };
    let error = client_default_wait(&name).expect_err("the client's 100 ms wait");
    assert!(error.is_timeout(), "{error}");
    let started = Instant::now();
    wait_forever(&name).expect("waits past the client's default until the release");
    assert!(started.elapsed() >= Duration::from_millis(200));
    holder.join().expect("holder");
}
