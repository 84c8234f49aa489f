//! The test harness itself: spawned servers start, answer, stop, restart on the same port,
//! listen on a unix socket, require their password, pause and resume.

mod support;

use std::net::TcpStream;
use std::time::Duration;

use support::RedisServer;

fn ping(url: &str) -> redis::RedisResult<String> {
    let client = redis::Client::open(url)?;
    let mut con = client.get_connection_with_timeout(Duration::from_secs(2))?;
    con.set_read_timeout(Some(Duration::from_secs(2)))?;
    redis::cmd("PING").query(&mut con)
}

#[test]
fn starts_and_answers_ping() {
    let server = RedisServer::start();
    assert_eq!(ping(&server.url()).unwrap(), "PONG");
    assert_eq!(
        server.url(),
        format!("redis://127.0.0.1:{}/", server.port())
    );
    assert!(server.is_running());
}

#[test]
fn raw_connection_runs_commands_and_keys_scans() {
    let server = RedisServer::start();
    let mut con = server.raw();
    redis::cmd("SET")
        .arg("MUTEX_selftest")
        .arg("v")
        .exec(&mut con)
        .unwrap();
    redis::cmd("SET")
        .arg("other")
        .arg("v")
        .exec(&mut con)
        .unwrap();
    let v: String = redis::cmd("GET")
        .arg("MUTEX_selftest")
        .query(&mut con)
        .unwrap();
    assert_eq!(v, "v");
    assert_eq!(server.keys("MUTEX_*"), vec!["MUTEX_selftest".to_owned()]);
}

#[test]
fn no_persistence() {
    let server = RedisServer::start();
    let mut con = server.raw();
    let save: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut con)
        .unwrap();
    assert_eq!(save, vec!["save".to_owned(), String::new()]);
    let aof: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query(&mut con)
        .unwrap();
    assert_eq!(aof, vec!["appendonly".to_owned(), "no".to_owned()]);
}

#[test]
fn stop_refuses_connections_and_restart_uses_the_same_port() {
    let mut server = RedisServer::start();
    let port = server.port();
    let url = server.url();
    let first_pid = server.pid().unwrap();

    server.stop();
    assert!(!server.is_running());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(ping(&url).is_err());
    server.stop(); // idempotent

    server.restart();
    assert_eq!(server.port(), port);
    assert_eq!(server.url(), url);
    assert_ne!(server.pid().unwrap(), first_pid);
    assert_eq!(ping(&url).unwrap(), "PONG");

    // Restart while running works too.
    server.restart();
    assert_eq!(ping(&url).unwrap(), "PONG");
}

#[test]
fn drop_kills_the_process_and_removes_the_temp_dir() {
    let server = RedisServer::start();
    let port = server.port();
    let dir = server.dir().to_path_buf();
    assert!(dir.is_dir());
    drop(server);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!dir.exists());
}

#[test]
fn drop_during_a_panic_kills_the_process() {
    let port = std::sync::Mutex::new(0);
    let result = std::panic::catch_unwind(|| {
        let server = RedisServer::start();
        *port.lock().unwrap() = server.port();
        panic!("test body failed");
    });
    assert!(result.is_err());
    let port = *port.lock().unwrap();
    assert_ne!(port, 0);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn unix_socket() {
    let server = RedisServer::builder().unix_socket(true).start();
    let url = server.url();
    assert!(url.starts_with("redis+unix:///"), "{url}");
    assert!(server.unix_socket_path().unwrap().exists());
    assert_eq!(ping(&url).unwrap(), "PONG");
    assert_eq!(ping(&server.tcp_url()).unwrap(), "PONG");
}

#[test]
fn password_is_required() {
    let server = RedisServer::builder().password("s3cret pw/:@").start();
    assert!(server.url().starts_with("redis://:"), "{}", server.url());
    assert_eq!(ping(&server.url()).unwrap(), "PONG");
    let err = ping(&server.url_without_password()).unwrap_err();
    assert!(
        err.to_string().contains("NOAUTH") || err.to_string().contains("uthentication"),
        "{err}"
    );
    assert!(!format!("{server:?}").contains("s3cret"));
}

#[test]
fn password_over_unix_socket() {
    let server = RedisServer::builder()
        .password("pw")
        .unix_socket(true)
        .start();
    assert!(server.url().ends_with("?pass=pw"), "{}", server.url());
    assert_eq!(ping(&server.url()).unwrap(), "PONG");
    let _ = server.raw(); // authenticated TCP connection
}

#[test]
fn pause_and_resume() {
    let server = RedisServer::start();
    let mut con = server.raw();
    con.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    server.pause();
    let err = redis::cmd("PING").query::<String>(&mut con).unwrap_err();
    assert!(err.is_timeout() || err.is_io_error(), "{err}");
    server.resume();
    assert_eq!(ping(&server.url()).unwrap(), "PONG");
}

#[test]
fn free_ports_are_closed_and_distinct() {
    let a = support::free_port();
    let b = support::free_port();
    assert_ne!(a, b);
    assert!(TcpStream::connect(("127.0.0.1", a)).is_err());
}

#[test]
fn shared_server_is_one_per_binary() {
    let a = support::shared();
    let b = support::shared();
    assert_eq!(a.port(), b.port());
    assert_eq!(ping(&a.url()).unwrap(), "PONG");
}

#[test]
fn fixed_port_via_builder() {
    let port = support::free_port();
    let server = RedisServer::builder().port(port).start();
    assert_eq!(server.port(), port);
    assert_eq!(ping(&server.url()).unwrap(), "PONG");
}

#[test]
fn missing_binary_panics_with_install_hint() {
    // Run in a child process so the env var does not leak into parallel tests.
    if std::env::var_os("SUPPORT_SELFTEST_MISSING_BIN").is_some() {
        let _ = RedisServer::start();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "missing_binary_panics_with_install_hint",
            "--exact",
            "--nocapture",
        ])
        .env("SUPPORT_SELFTEST_MISSING_BIN", "1")
        .env("REDIS_SERVER_BIN", "/nonexistent/redis-server")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("scripts/install-deps"), "{stderr}");
}
