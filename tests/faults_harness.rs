//! The fault harness tested on its own (tests/fault): the proxy's faults do what they say, the
//! workers report, freeze, thaw and die, the server faults take effect, and the history
//! checker catches holders that skip the lock while excusing only what a lease-based lock
//! cannot prevent.

mod common;
mod fault;
mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{PROMPTLY, name};
use fault::server::{Clients, client_kill, client_pause, debug_sleep};
use fault::{ApiKind, Dir, Event, FailKind, Flow, History, Outcome, Proxy, Spec, Worker, now};
use support::RedisServer;

/// A plain TCP connection to `port` speaking inline Redis commands.
struct Raw(TcpStream);

impl Raw {
    fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        Raw(stream)
    }

    fn send(&mut self, command: &str) {
        self.0
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
    }

    /// What arrives within the read timeout: `Some("")` at end-of-stream (or reset), `None`
    /// if nothing.
    fn reply(&mut self) -> Option<String> {
        let mut buf = [0u8; 256];
        match self.0.read(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(err) if err.kind() == ErrorKind::ConnectionReset => Some(String::new()),
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(err) => panic!("read through the proxy: {err}"),
        }
    }
}

#[test]
fn the_proxy_stalls_discards_and_cuts_each_direction_of_each_connection() {
    let server = support::shared();
    let proxy = Proxy::start(server.port());
    let mut first = Raw::connect(proxy.port());
    let mut second = Raw::connect(proxy.port());
    first.send("PING");
    assert_eq!(first.reply().as_deref(), Some("+PONG\r\n"));

    // Stalled replies are held, in order, and delivered when the direction passes again.
    let conn = proxy.connection(1, PROMPTLY);
    conn.set(Dir::ToClient, Flow::Stall);
    second.send("ECHO a");
    second.send("ECHO b");
    assert_eq!(second.reply(), None, "a stalled reply came through");
    first.send("PING");
    assert_eq!(
        first.reply().as_deref(),
        Some("+PONG\r\n"),
        "the other connection stalled too"
    );
    conn.set(Dir::ToClient, Flow::Pass);
    thread::sleep(Duration::from_millis(50));
    assert_eq!(second.reply().as_deref(), Some("$1\r\na\r\n$1\r\nb\r\n"));

    // Discarded commands never reach the server.
    conn.set(Dir::ToServer, Flow::Discard);
    second.send("PING");
    assert_eq!(second.reply(), None);
    conn.set(Dir::ToServer, Flow::Pass);
    second.send("PING");
    assert_eq!(second.reply().as_deref(), Some("+PONG\r\n"));

    // A cut direction reads end-of-stream.
    proxy.connection(0, PROMPTLY).set(Dir::ToClient, Flow::Cut);
    assert_eq!(first.reply().as_deref(), Some(""));

    // A subscriber is recognised, and a rule for pub/sub connections applies to it.
    assert!(proxy.pubsub().is_empty());
    proxy.on_pubsub(Some((Dir::ToClient, Flow::Stall)));
    let mut subscriber = Raw::connect(proxy.port());
    subscriber.send("SUBSCRIBE harness-channel");
    let pubsub = proxy.pubsub_within(PROMPTLY);
    assert_eq!(pubsub.n(), 2);
    assert_eq!(
        subscriber.reply(),
        None,
        "the pub/sub rule did not stall the reply"
    );
    pubsub.set(Dir::ToClient, Flow::Pass);
    thread::sleep(Duration::from_millis(50));
    assert!(subscriber.reply().unwrap().contains("harness-channel"));
    pubsub.close();
    assert_eq!(subscriber.reply().as_deref(), Some(""));
}

#[test]
fn a_proxy_to_a_stopped_server_accepts_and_closes() {
    let mut server = RedisServer::start();
    let proxy = Proxy::start(server.port());
    server.stop();
    let mut raw = Raw::connect(proxy.port());
    raw.send("PING");
    assert_eq!(raw.reply().as_deref(), Some(""));
    server.restart();
    let mut raw = Raw::connect(proxy.port());
    raw.send("PING");
    assert_eq!(raw.reply().as_deref(), Some("+PONG\r\n"));
}

#[test]
fn events_read_back_as_written() {
    let events = [
        Event::Ready { pid: 7 },
        Event::Waiting { at: 1 },
        Event::Acquired {
            at: 2,
            token: "t".into(),
            fence: Some(3),
            held: true,
            key: None,
            ttl_ms: 1000,
        },
        Event::Releasing {
            at: 4,
            lost_seen: true,
        },
        Event::Released {
            at: 4,
            outcome: Outcome::Lost,
            lost_seen: false,
        },
        Event::Failed {
            at: 5,
            kind: FailKind::Timeout,
            elapsed_ms: 6,
            msg: "timed out after 1s waiting for lock \"a b\"".into(),
        },
        Event::Done,
    ];
    for event in events {
        assert_eq!(event.to_string().parse::<Event>(), Ok(event.clone()));
    }
}

/// Milliseconds on the history's clock, for readable synthetic histories.
const MS: u64 = 1_000_000;

#[test]
fn the_checker_excuses_only_a_frozen_told_and_fenced_first_holder() {
    // One after the other: fine.
    let history = History::new();
    history.begin("a", "ta", Some(1), 0);
    history.end("a", 10 * MS, false);
    history.begin("b", "tb", Some(2), 10 * MS);
    history.end("b", 20 * MS, false);
    assert!(history.check().is_empty());

    // Overlapping, each part of the excuse missing in turn.
    let overlap = |frozen: bool, told: bool, fences: (u64, u64)| {
        let history = History::new();
        history.begin("a", "ta", Some(fences.0), 0);
        if frozen {
            history.frozen("a", 5 * MS);
        }
        history.begin("b", "tb", Some(fences.1), 10 * MS);
        if frozen {
            history.thawed("a", 15 * MS);
        }
        history.end("a", 20 * MS, told);
        history.end("b", 30 * MS, false);
        history.check()
    };
    assert!(overlap(true, true, (1, 2)).is_empty());
    for (frozen, told, fences, missing) in [
        (false, true, (1, 2), "not frozen"),
        (true, false, (1, 2), "never told"),
        (true, true, (2, 1), "not lower"),
    ] {
        let violations = overlap(frozen, told, fences);
        assert_eq!(violations.len(), 1, "{missing}");
        assert!(violations[0].why.contains(missing), "{}", violations[0]);
        assert_eq!(violations[0].first.holder, "a");
    }

    // A holder killed while frozen stopped holding when the freeze began.
    let history = History::new();
    history.begin("a", "ta", Some(1), 0);
    history.frozen("a", 5 * MS);
    history.begin("b", "tb", Some(2), 10 * MS);
    history.killed("a", 20 * MS);
    history.end("b", 30 * MS, false);
    assert!(history.check().is_empty());
    assert!(history.sections()[0].killed);

    // A holder killed after its section ended, while its release handed the lock on, held
    // nothing after the end it reported; one killed before reporting held until the kill.
    for (reported, clean) in [(true, true), (false, false)] {
        let history = History::new();
        history.begin("a", "ta", Some(1), 0);
        if reported {
            history.record(
                "a",
                &Event::Releasing {
                    at: 8 * MS,
                    lost_seen: false,
                },
            );
        }
        history.begin("b", "tb", Some(2), 10 * MS);
        history.killed("a", 12 * MS);
        history.end("b", 30 * MS, false);
        assert_eq!(history.check().is_empty(), clean, "reported: {reported}");
    }
}

/// Three workers hold "the lock" for 150 ms four times each, starting together.
fn three_workers(lock: bool) -> Arc<History> {
    let server = support::shared();
    let lock_name = name("checker");
    let history = Arc::new(History::new());
    let mut workers: Vec<Worker> = [ApiKind::Async, ApiKind::Blocking, ApiKind::Async]
        .into_iter()
        .enumerate()
        .map(|(i, api)| {
            let mut spec = Spec::new(server.url(), lock_name.as_str())
                .api(api)
                .times(4)
                .hold(Duration::from_millis(150));
            if !lock {
                spec = spec.without_lock();
            }
            Worker::spawn(&format!("w{i}"), &spec, Some(&history))
        })
        .collect();
    for worker in &mut workers {
        worker.expect("the end", Duration::from_secs(20), |e| *e == Event::Done);
        assert!(worker.stop(PROMPTLY));
    }
    assert!(
        common::eventually(PROMPTLY, || history.sections().len() == 12),
        "{:?}",
        history.sections()
    );
    history
}

#[test]
fn the_checker_catches_workers_that_skip_the_lock() {
    let violations = three_workers(false).check();
    assert!(
        violations.len() >= 2,
        "holders that skip the lock went unnoticed: {violations:?}"
    );
    assert!(violations.iter().all(|v| v.why.contains("not frozen")));
    three_workers(true).assert_exclusive("three workers taking the lock");
}

#[test]
fn a_worker_can_be_frozen_thawed_and_killed() {
    let server = support::shared();
    let history = Arc::new(History::new());
    let spec = Spec::new(server.url(), name("freeze").as_str())
        .forever()
        .hold(Duration::from_millis(50));
    let mut worker = Worker::spawn("w", &spec, Some(&history));
    worker.expect("an acquisition", PROMPTLY, |e| {
        matches!(e, Event::Acquired { .. })
    });
    worker.freeze();
    // Lines written just before the stop may still be on their way through the pipe.
    thread::sleep(Duration::from_millis(200));
    let frozen_at = worker.events().len();
    thread::sleep(Duration::from_millis(400));
    assert_eq!(worker.events().len(), frozen_at, "a frozen worker went on");
    worker.thaw();
    assert!(
        worker
            .next_event(frozen_at, PROMPTLY, |e| matches!(e, Event::Acquired { .. }))
            .is_some(),
        "a thawed worker did not go on"
    );
    worker.kill();
    let sections = history.sections();
    assert!(sections.iter().all(|s| s.end.is_some()), "{sections:?}");
    history.assert_exclusive("one worker");
}

#[test]
fn server_faults_take_effect() {
    let mut server = fault::server::persistent().start();
    common::raw(&server, &["SET", "kept", "1"]);
    server.restart();
    assert_eq!(common::get(&server, "kept").as_deref(), Some("1"));

    let mut subscriber = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let mut subscriber = subscriber.as_pubsub();
    subscriber.subscribe("harness").unwrap();
    assert_eq!(client_kill(&server, Clients::PubSub), 1);
    let mut command = server.raw();
    redis::cmd("PING").exec(&mut command).unwrap();
    assert_eq!(client_kill(&server, Clients::Normal), 1);
    assert!(redis::cmd("PING").exec(&mut command).is_err());

    let pause = Duration::from_millis(400);
    let timed_ping = || {
        let mut con = server.raw();
        let started = Instant::now();
        redis::cmd("PING").exec(&mut con).unwrap();
        started.elapsed()
    };
    client_pause(&server, pause);
    assert!(
        timed_ping() >= pause / 2,
        "CLIENT PAUSE did not hold a client"
    );
    let mut con = server.raw();
    let sleeping = debug_sleep(&server, pause);
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    redis::cmd("PING").exec(&mut con).unwrap();
    assert!(
        started.elapsed() >= pause / 2,
        "DEBUG SLEEP did not block the server"
    );
    sleeping.join().unwrap();
}

/// A holder (behind a proxy whose commands are held back, so that it cannot learn anything
/// until its lease runs out) holds the lock across a server restart; a newcomer tries the lock
/// right after. Returns the checker's verdict on the two.
fn restart_under_a_holder(server: &mut RedisServer) -> (redis_mutex::Result<()>, usize) {
    let lock = name("restart");
    let history = Arc::new(History::new());
    let proxy = Proxy::start(server.port());
    let spec = Spec::new(proxy.url(), lock.as_str())
        .ttl(Duration::from_secs(3))
        .hold(Duration::from_secs(2));
    let worker = Worker::spawn("holder", &spec, Some(&history));
    worker.expect("an acquisition", PROMPTLY, |e| {
        matches!(e, Event::Acquired { .. })
    });
    proxy.set_all(Dir::ToServer, Flow::Stall);
    server.restart();
    let newcomer = common::blocking_client(server)
        .mutex(lock.as_str())
        .unwrap()
        .with_fencing(true);
    let result = newcomer.try_lock().map(|guard| {
        history.begin("newcomer", guard.token(), guard.fencing_token(), now());
        thread::sleep(Duration::from_millis(200));
        history.end("newcomer", now(), false);
        guard.release().unwrap();
    });
    proxy.set_all(Dir::ToServer, Flow::Pass);
    worker.expect("the end", Duration::from_secs(10), |e| *e == Event::Done);
    (result, history.check().len())
}

#[test]
fn a_restart_without_persistence_lets_two_holders_overlap_and_the_checker_sees_it() {
    let mut server = RedisServer::start();
    let (newcomer, violations) = restart_under_a_holder(&mut server);
    assert!(
        newcomer.is_ok(),
        "the lock survived a restart without persistence"
    );
    assert_eq!(violations, 1, "the checker missed the overlap");
}

#[test]
fn a_restart_with_persistence_keeps_the_lock() {
    let mut server = fault::server::persistent().start();
    let (newcomer, violations) = restart_under_a_holder(&mut server);
    let err = newcomer.expect_err("a newcomer took the lock after a restart with persistence");
    assert!(err.is_busy(), "{err}");
    assert_eq!(violations, 0);
}
