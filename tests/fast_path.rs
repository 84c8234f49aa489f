//! The uncontended path: what it costs Redis, and what it must not lose by running in the
//! caller's task over a connection of the caller's runtime (no hop to the crate's thread).
//!
//! * A lock + release pair is two requests and four commands (`SET NX PX`; `EVALSHA` running
//!   `GET` and `DEL`), as the plainest Redis lock, on the caller runtime's own connection.
//! * Runtimes that come and go (one per `#[tokio::test]`, say) leave no connection behind, and a
//!   client kept across them goes on working.
//! * Renewal runs on the crate's thread: a caller that blocks its own runtime keeps its lock.
//! * A guard taken on a runtime that is gone is still released.

mod common;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::RedisServer;

/// `INFO commandstats` as command → calls.
fn command_calls(server: &RedisServer) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut server.raw())
        .expect("INFO");
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// Lock + release pairs until the caller's runtime has a connection of its own (opened in the
/// background by the first calls).
async fn warm_up(m: &redis_mutex::Mutex) {
    for _ in 0..20 {
        m.lock().await.unwrap().release().await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How many connections the server has open.
fn connected_clients(server: &RedisServer) -> usize {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut server.raw())
        .expect("CLIENT LIST");
    // Minus the raw connection asking.
    list.lines().count() - 1
}

#[tokio::test]
async fn an_uncontended_pair_is_two_requests_and_four_commands() {
    let server = RedisServer::start();
    let m = common::client(&server).mutex("pairs").unwrap();
    warm_up(&m).await;
    // The shared connection (opened first) and this runtime's own. Close the shared one: the
    // pairs below must not need it (no error, no reconnect), since they run in this task over
    // this runtime's connection.
    let ids = common::client_ids(&server);
    assert_eq!(ids.len(), 2, "{ids:?}");
    common::kill_client(&server, ids[0]);
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut server.raw())
        .unwrap();
    const PAIRS: u64 = 50;
    for _ in 0..PAIRS {
        m.lock().await.unwrap().release().await.unwrap();
    }
    assert_eq!(
        common::client_ids(&server),
        [ids[1]],
        "the pairs used another connection"
    );
    let mut calls = command_calls(&server);
    // The test's own reads.
    for own in ["info", "config|resetstat", "client|id", "client|list"] {
        calls.remove(own);
    }
    let expected: BTreeMap<String, u64> = ["set", "evalsha", "get", "del"]
        .into_iter()
        .map(|command| (command.to_owned(), PAIRS))
        .collect();
    assert_eq!(calls, expected);
}

#[test]
fn runtimes_that_come_and_go_leave_no_connection_and_the_client_keeps_working() {
    let server = RedisServer::start();
    let client = common::client(&server);
    let m = client.mutex("runtimes").unwrap();
    let mut settled = None;
    for round in 0..8 {
        let during = common::current_thread().block_on(async {
            warm_up(&m).await;
            connected_clients(&server)
        });
        // The runtime is gone, and with it the I/O task of its connection.
        let open = common::eventually(common::PROMPTLY, || {
            let open = connected_clients(&server);
            settled.is_none_or(|settled| open <= settled)
        });
        assert!(open, "round {round}: a runtime's connection outlived it");
        let after = *settled.get_or_insert(connected_clients(&server));
        // While it ran, the runtime had a connection of its own.
        assert_eq!(during, after + 1, "round {round}");
    }
    // The shared command connection, the subscriber, and none per runtime.
    assert!(settled.unwrap() <= 2, "{} connections", settled.unwrap());
}

#[test]
fn a_caller_blocking_its_runtime_keeps_its_lock_renewed() {
    let server = RedisServer::start();
    let client = common::client(&server);
    let m = client
        .mutex("blocked")
        .unwrap()
        .with_ttl(Duration::from_millis(300))
        .unwrap();
    common::current_thread().block_on(async {
        warm_up(&m).await;
        let guard = m.lock().await.unwrap();
        // Block the runtime for more than three leases: nothing of this runtime runs.
        std::thread::sleep(Duration::from_millis(1000));
        assert!(
            guard.is_held(),
            "the lease ran out while the caller blocked"
        );
        assert!(common::pttl(&server, "MUTEX_blocked") > 0);
        guard.release().await.unwrap();
    });
}

#[test]
fn a_guard_from_a_runtime_that_is_gone_still_releases() {
    let server = RedisServer::start();
    let client = common::client(&server);
    let m = client.mutex("orphan").unwrap();
    let guard = common::current_thread().block_on(async {
        warm_up(&m).await;
        m.lock().await.unwrap()
    });
    // Its runtime (and that runtime's connection) is gone; released from another one.
    common::current_thread()
        .block_on(guard.release())
        .expect("released");
    assert_eq!(common::get(&server, "MUTEX_orphan"), None);
    let guard = common::current_thread().block_on(async {
        warm_up(&m).await;
        m.lock().await.unwrap()
    });
    drop(guard);
    assert!(common::eventually(common::PROMPTLY, || common::get(
        &server,
        "MUTEX_orphan"
    )
    .is_none()));
}
