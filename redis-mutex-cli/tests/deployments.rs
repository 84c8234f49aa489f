//! `redis-mutex --server` with the scale-out URL forms: a Redis Cluster and Redlock masters,
//! started and stopped by the test. The locks exclude across processes there as on one server.

#[path = "../../tests/support/mod.rs"]
mod support;

#[path = "../../tests/common/mod.rs"]
mod common;

mod cli;

use cli::{BIN, code, describe, run, stdout};
use support::{RedisCluster, RedisServer};

/// While `redis-mutex exec NAME` holds the lock on `url`, a second `redis-mutex exec --no-wait
/// NAME` (run by the first one's command) finds it busy; afterwards the lock is free.
fn excludes_across_processes(any_server: &RedisServer, url: &str) {
    let lock = cli::name("deployment");
    let inner =
        format!("'{BIN}' --server '{url}' exec --no-wait --quiet '{lock}' -- true; echo $?");
    let output = run(
        any_server,
        &["--server", url, "exec", &lock, "--", "sh", "-c", &inner],
    );
    assert_eq!(code(&output), 0, "{}", describe(&output));
    assert_eq!(
        stdout(&output).trim(),
        cli::code::BUSY.to_string(),
        "{}",
        describe(&output)
    );
    let status = run(any_server, &["--server", url, "status", "--json", &lock]);
    assert_eq!(code(&status), 0, "{}", describe(&status));
    assert!(
        stdout(&status).contains("\"held\":false"),
        "{}",
        describe(&status)
    );
}

#[test]
fn exec_and_status_on_a_cluster() {
    let cluster = RedisCluster::start(3);
    excludes_across_processes(&cluster.nodes()[0], &cluster.url());
}

#[test]
fn exec_and_status_on_redlock_masters() {
    let masters: Vec<RedisServer> = (0..3).map(|_| RedisServer::start()).collect();
    let addrs: Vec<String> = masters.iter().map(RedisServer::addr).collect();
    let url = format!("redis+redlock://{}", addrs.join(","));
    excludes_across_processes(&masters[0], &url);
}
