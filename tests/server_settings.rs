//! How the lock copes with what the server is set up to do: evict keys under `maxmemory`, or
//! lose its data set in a restart without persistence.

mod support;

mod common;

use std::time::Duration;

use common::name;
use support::RedisServer;

fn warnings_about(server: &RedisServer) -> usize {
    common::warnings()
        .lines()
        .filter(|line| line.contains("maxmemory-policy") && line.contains(&server.addr()))
        .count()
}

async fn lock_once(server: &RedisServer) {
    let client = common::client(server);
    let guard = client.mutex(name("evict").as_str()).unwrap().lock().await;
    guard.unwrap().release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicting_server_is_warned_about_once() {
    common::warnings();
    let evicting = RedisServer::builder()
        .arg("--maxmemory")
        .arg("64mb")
        .arg("--maxmemory-policy")
        .arg("allkeys-lru")
        .start();
    lock_once(&evicting).await;
    lock_once(&evicting).await;
    assert!(
        common::eventually(common::PROMPTLY, || warnings_about(&evicting) > 0),
        "no warning about allkeys-lru"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(warnings_about(&evicting), 1, "warned more than once");

    let safe = RedisServer::builder()
        .arg("--maxmemory")
        .arg("64mb")
        .arg("--maxmemory-policy")
        .arg("noeviction")
        .start();
    lock_once(&safe).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(warnings_about(&safe), 0, "warned about noeviction");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_behind_a_plain_url_is_refused_not_half_used() {
    let node = RedisServer::builder()
        .arg("--cluster-enabled")
        .arg("yes")
        .arg("--cluster-config-file")
        .arg("nodes.conf")
        .start();
    let client = common::client(&node);
    for _ in 0..2 {
        let err = client
            .mutex(name("cluster").as_str())
            .unwrap()
            .try_lock()
            .await
            .unwrap_err();
        assert!(err.is_invalid_input(), "{err:?}");
        assert!(err.to_string().contains("Cluster node"), "{err}");
        assert!(err.to_string().contains("redis+cluster://"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_tokens_keep_increasing_across_a_restart_without_persistence() {
    let mut server = RedisServer::start();
    let client = redis_mutex::Client::builder(server.url().as_str())
        .connect_timeout(Duration::from_secs(1))
        .response_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let lock = name("fence-restart");
    let m = client.mutex(lock.as_str()).unwrap().with_fencing(true);
    let mut last = 0;
    for round in 0..3 {
        for _ in 0..3 {
            let guard = m.lock().await.unwrap();
            let token = guard.fencing_token().unwrap();
            assert!(token > last, "round {round}: token {token} after {last}");
            last = token;
            guard.release().await.unwrap();
        }
        // The data set, fencing counter included, is gone after this.
        server.restart();
        assert!(server.keys("*").is_empty());
        // The first call after the restart may find the old connection broken (and reconnect).
        let guard = match m.lock().await {
            Ok(guard) => guard,
            Err(error) => {
                assert!(error.is_connection(), "{error:?}");
                m.lock().await.unwrap()
            }
        };
        let token = guard.fencing_token().unwrap();
        assert!(
            token > last,
            "after restart {round}: token {token} after {last}"
        );
        last = token;
        guard.release().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_counters_do_not_live_forever() {
    let server = support::shared();
    let lock = name("fence-lifetime");
    let m = common::client(server)
        .mutex(lock.as_str())
        .unwrap()
        .with_fencing(true);
    m.lock().await.unwrap().release().await.unwrap();
    let counter = format!("redis-mutex:{{{}}}:fence", common::key(&lock));
    let pttl = common::pttl(server, &counter);
    assert!(
        pttl > 0 && pttl <= 3_600_000,
        "the fencing counter {counter} has PTTL {pttl}"
    );
}
