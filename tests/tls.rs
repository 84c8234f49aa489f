//! `rediss://` against a real TLS-only `redis-server` (`--port 0 --tls-port …`) whose
//! certificate a CA made by the test signed: locking works when the client trusts that CA
//! (`ClientBuilder::tls_root_certificates`), and a client that trusts another CA (or only the
//! system's roots) is refused with an error that says the certificate was the problem.
//!
//! Needs the suite's `tls` feature (`cargo test --features tls`, or `--all-features` as
//! `scripts/test` runs it) and the `openssl` command-line tool to make the certificates.

mod support;

use std::time::{Duration, Instant};

use redis_mutex::{Client, Error};
use support::{RedisServer, TestCa, unique};

/// A refused handshake must be reported within this (connect timeout plus one retry).
const REPORT_WITHIN: Duration = Duration::from_secs(10);

fn tls_server() -> RedisServer {
    let server = RedisServer::builder().tls(true).start();
    assert!(
        server.url().starts_with("rediss://127.0.0.1:"),
        "{server:?}"
    );
    server
}

/// A client of `server` that trusts `ca`; `timeout` picks a connection of its own (connections
/// are shared per URL, settings and roots).
fn client_trusting(server: &RedisServer, ca: &[u8], timeout: Duration) -> Client {
    Client::builder(server.url())
        .tls_root_certificates(ca)
        .connect_timeout(timeout)
        .response_timeout(timeout)
        .build()
        .expect("build a TLS client")
}

fn ca_of(server: &RedisServer) -> Vec<u8> {
    server.tls_ca().expect("a TLS server has a CA").cert_pem()
}

/// The error of one `try_lock` through `client`, within [`REPORT_WITHIN`].
async fn refused(client: &Client) -> Error {
    let start = Instant::now();
    let err = client
        .mutex(unique("refused"))
        .unwrap()
        .try_lock()
        .await
        .expect_err("a server whose certificate is not trusted must be refused");
    let took = start.elapsed();
    assert!(took < REPORT_WITHIN, "refused only after {took:?}: {err}");
    err
}

/// `err` is `Unreachable`, and its message says the certificate was not accepted and how to
/// trust the right CA.
fn assert_certificate_error(err: &Error) {
    assert!(
        matches!(err, Error::Unreachable { .. }) && err.is_connection(),
        "expected Error::Unreachable, got {err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("certificate"), "{message}");
    assert!(message.contains("tls_root_certificates"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locking_over_tls_with_the_test_ca_trusted_works() {
    let server = tls_server();
    let ca = ca_of(&server);
    let a = client_trusting(&server, &ca, Duration::from_secs(2));
    let b = client_trusting(&server, &ca, Duration::from_secs(3));
    let name = unique("tls");

    let guard = a.mutex(name.as_str()).unwrap().lock().await.unwrap();
    assert!(guard.is_held());
    // The lock really is in this server, read over a TLS connection of the test's own.
    let owner: Option<String> = redis::cmd("GET")
        .arg(format!("MUTEX_{name}"))
        .query(&mut server.raw())
        .unwrap();
    assert!(owner.is_some(), "no lock key on the TLS server");

    // Contention between two clients with connections of their own.
    let err = b
        .mutex(name.as_str())
        .unwrap()
        .try_lock()
        .await
        .unwrap_err();
    assert!(err.is_busy(), "{err:?}");
    let waiter = tokio::spawn({
        let m = b.mutex(name.as_str()).unwrap();
        async move { m.try_lock_for(Duration::from_secs(10)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    guard.release().await.unwrap();
    let second = waiter
        .await
        .unwrap()
        .expect("the waiter gets the lock after the release");
    assert!(second.is_held());
    second.release().await.unwrap();

    // The blocking API shares the same TLS connections.
    let blocking = a.blocking().mutex(name.as_str()).unwrap();
    tokio::task::spawn_blocking(move || blocking.try_lock().unwrap().release().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_server_signed_by_another_ca_is_refused_with_a_certificate_error() {
    let server = tls_server();
    let other = TestCa::new();
    let distrustful = client_trusting(&server, &other.cert_pem(), Duration::from_secs(2));
    assert_certificate_error(&refused(&distrustful).await);

    // Only the system's roots: the test CA is not among them.
    let system_roots = Client::open(&server.url()).unwrap();
    assert_certificate_error(&refused(&system_roots).await);
}

#[tokio::test]
async fn clients_of_one_url_with_other_roots_do_not_share_connections() {
    let server = tls_server();
    let other = TestCa::new();
    let timeout = Duration::from_secs(2);
    // Same URL and timeouts: only the roots differ, in both orders.
    let wrong = client_trusting(&server, &other.cert_pem(), timeout);
    assert_certificate_error(&refused(&wrong).await);
    let right = client_trusting(&server, &ca_of(&server), timeout);
    let guard = right.mutex(unique("right")).unwrap().try_lock().await;
    guard
        .expect("the right roots work")
        .release()
        .await
        .unwrap();
    let wrong_again = client_trusting(&server, &other.cert_pem(), timeout);
    assert_certificate_error(&refused(&wrong_again).await);
}

#[test]
fn unusable_root_certificates_are_invalid_config() {
    let ca = TestCa::new();
    let cases: [(&str, &str, Vec<u8>); 4] = [
        (
            "no PEM at all",
            "rediss://127.0.0.1:1/",
            b"not a certificate".to_vec(),
        ),
        ("empty", "rediss://127.0.0.1:1/", Vec::new()),
        (
            "a broken PEM block",
            "rediss://127.0.0.1:1/",
            b"-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n".to_vec(),
        ),
        (
            "a plain URL",
            "redis://:pw-1234@127.0.0.1:1/",
            ca.cert_pem(),
        ),
    ];
    for (what, url, pem) in cases {
        let err = Client::builder(url)
            .tls_root_certificates(pem)
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidConfig {
                    option: "tls_root_certificates",
                    ..
                }
            ),
            "{what}: {err:?}"
        );
        assert!(!err.to_string().contains("pw-1234"), "{what}: {err}");
    }
}

#[test]
fn turning_certificate_verification_off_is_refused() {
    for url in [
        "rediss://127.0.0.1:1/#insecure",
        "rediss://:pw-5678@localhost/0#insecure",
    ] {
        let err = Client::open(url).unwrap_err();
        assert!(matches!(err, Error::InvalidUrl { .. }), "{url}: {err:?}");
        assert!(err.to_string().contains("tls_root_certificates"), "{err}");
        assert!(!err.to_string().contains("pw-5678"), "{err}");
    }
}
