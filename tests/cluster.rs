//! Locks on a Redis Cluster (`redis+cluster://`), against real clusters of 3 masters started
//! here (tests/support/cluster.rs): the key layout, exclusion between independent clients,
//! multi-name locks across slots (all-or-nothing, no deadlock), prompt FIFO hand-overs, a
//! resharding (`MOVED`) and a master restart, a slot migration (`ASK` followed, `TRYAGAIN`
//! retried), a plain `redis://` URL at a cluster node, the `#[mutex]` attribute with a cluster
//! client, and `rediss+cluster://` against a TLS cluster (with the suite's `tls` feature).

mod support;

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::{Duration, Instant};

use common::{OverlapDetector, PROMPTLY, eventually, name};
use redis_mutex::{Client, mutex};
use support::{RedisCluster, RedisServer};

/// The cluster shared by this binary's tests (those that stop or reshard start their own).
fn cluster() -> &'static RedisCluster {
    static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| RedisCluster::start(3))
}

fn client() -> Client {
    Client::open(&cluster().url()).expect("open a cluster client")
}

/// A client with connections of its own (clients of one URL and settings share them), as
/// another process would have; waiters look again every 50 ms without a notification.
fn independent_client(i: u64) -> Client {
    Client::builder(cluster().url())
        .response_timeout(Duration::from_millis(2000 + i))
        .max_poll_interval(Duration::from_millis(50))
        .build()
        .expect("open a cluster client")
}

fn key(name: &str) -> String {
    format!("MUTEX_{name}")
}

/// `GET key` on the master that owns it.
fn get(cluster: &RedisCluster, key: &str) -> Option<String> {
    get_on(cluster.node_of(key), key)
}

fn get_on(node: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut node.raw())
        .expect("raw GET")
}

/// The token at lock key `key`, without the mark of a queued waiter.
fn holder(cluster: &RedisCluster, key: &str) -> Option<String> {
    get(cluster, key).map(|value| value.trim_end_matches('+').to_owned())
}

/// One fresh lock name per master of `cluster`, in master order.
fn names_on_every_node(cluster: &RedisCluster, tag: &str) -> Vec<String> {
    let mut found: Vec<Option<String>> = vec![None; cluster.nodes().len()];
    while found.iter().any(Option::is_none) {
        let candidate = name(tag);
        let owner = cluster.owner(&key(&candidate));
        found[owner].get_or_insert(candidate);
    }
    found.into_iter().flatten().collect()
}

/// The crate's own keys for lock key `key`, on every node: `(node index, key)`.
fn companions(cluster: &RedisCluster, key: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, node) in cluster.nodes().iter().enumerate() {
        for companion in node.keys("redis-mutex:*") {
            if companion.contains(key) {
                found.push((i, companion));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locks_companions_live_in_its_slot_and_its_scripts_run_there() {
    let cluster = cluster();
    let plain = name("layout");
    let tagged = format!("{{{}}}:job", name("tag"));
    for lock_name in [plain, tagged] {
        let key = key(&lock_name);
        let client = client();
        let mutex = client.mutex(lock_name.as_str()).unwrap().with_fencing(true);
        let guard = mutex.lock().await.expect("lock on a cluster");
        let waiter = {
            let mutex = mutex.clone();
            tokio::spawn(async move { mutex.try_lock_for(PROMPTLY).await })
        };
        // The waiter queues: its queue entry and the queue, beside the fencing counter.
        let watched = key.clone();
        let queued = move || companions(cluster, &watched).len() >= 3;
        assert!(
            tokio::task::spawn_blocking(move || eventually(PROMPTLY, queued))
                .await
                .unwrap(),
            "the waiter did not queue"
        );
        let found = companions(cluster, &key);
        let owner = cluster.owner(&key);
        let slot = cluster.slot(&key);
        for part in [":queue", ":fence", ":waiter:"] {
            assert!(
                found.iter().any(|(_, companion)| companion.contains(part)),
                "no {part} companion of {key} in {found:?}"
            );
        }
        for (node, companion) in &found {
            assert_eq!(*node, owner, "{companion} is not on {key}'s master");
            assert_eq!(
                cluster.slot(companion),
                slot,
                "{companion} is not in {key}'s slot"
            );
        }
        let channel = if lock_name.starts_with('{') {
            format!(
                "redis-mutex:{{{}}}:released:{key}",
                &lock_name[1..lock_name.find('}').unwrap()]
            )
        } else {
            format!("redis-mutex:{{{key}}}:released")
        };
        assert_eq!(cluster.slot(&channel), slot);

        // The release hands over through the queue scripts, which read the waiter's entry.
        let released = Instant::now();
        guard.release().await.expect("release");
        let next = waiter.await.unwrap().expect("the waiter gets the lock");
        assert!(released.elapsed() < PROMPTLY);
        assert_eq!(holder(cluster, &key).as_deref(), Some(next.token()));
        assert!(next.fencing_token() > Some(0));
        next.release().await.expect("release");
        assert_eq!(get(cluster, &key), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_clients_exclude_each_other() {
    let lock_name = Arc::new(name("exclusion"));
    let detector = Arc::new(OverlapDetector::default());
    let mut tasks = Vec::new();
    for i in 0..4u64 {
        let client = independent_client(i);
        for _ in 0..2 {
            let (client, lock_name, detector) =
                (client.clone(), lock_name.clone(), detector.clone());
            tasks.push(tokio::spawn(async move {
                let mutex = client.mutex(lock_name.as_str()).unwrap();
                for _ in 0..8 {
                    let guard = mutex.try_lock_for(Duration::from_secs(20)).await.unwrap();
                    let inside = detector.enter();
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    drop(inside);
                    guard.release().await.unwrap();
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(detector.max_seen(), 1, "two holders were inside at once");
    assert_eq!(detector.entries(), 4 * 2 * 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_across_slots_is_all_or_nothing_and_never_deadlocks() {
    let cluster = cluster();
    let names = names_on_every_node(cluster, "across");
    let keys: Vec<String> = names.iter().map(|n| key(n)).collect();
    let (one, other) = (independent_client(10), independent_client(11));

    // A busy name: the attempt gives back the names it took on the way.
    let last = one.mutex(names[2].as_str()).unwrap().lock().await.unwrap();
    let all = other.mutex(names.clone()).unwrap();
    assert!(all.try_lock().await.unwrap_err().is_busy());
    for key in &keys[..2] {
        assert_eq!(get(cluster, key), None, "{key} kept by a failed attempt");
    }
    assert!(
        !other
            .mutex(names[..2].to_vec())
            .unwrap()
            .is_locked()
            .await
            .unwrap()
    );

    // A waiter holds nothing while it waits, and gets every name once the last one is free.
    let waiter = {
        let reversed: Vec<String> = names.iter().rev().cloned().collect();
        let mutex = other.mutex(reversed).unwrap();
        tokio::spawn(async move { mutex.try_lock_for(PROMPTLY * 2).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    last.release().await.unwrap();
    let guard = waiter.await.unwrap().expect("the waiter gets every name");
    for key in &keys {
        assert_eq!(
            holder(cluster, key).as_deref(),
            Some(guard.token()),
            "{key}"
        );
    }
    assert!(all.is_locked().await.unwrap());
    guard.release().await.unwrap();

    // Callers in opposite orders, and on parts of the lock, from independent clients: each
    // finishes (no deadlock), finds every name it asked for held by itself while inside, and
    // no name ever has two holders.
    let detectors: Arc<HashMap<String, OverlapDetector>> = Arc::new(
        names
            .iter()
            .map(|n| (n.clone(), OverlapDetector::default()))
            .collect(),
    );
    let (a, b, c) = (&names[0], &names[1], &names[2]);
    let shapes: Vec<Vec<String>> = vec![
        vec![a.clone(), b.clone(), c.clone()],
        vec![c.clone(), b.clone(), a.clone()],
        vec![a.clone()],
        vec![c.clone()],
        vec![b.clone(), c.clone()],
        vec![c.clone(), a.clone()],
    ];
    let mut tasks = Vec::new();
    for (i, shape) in shapes.into_iter().enumerate() {
        let client = independent_client(20 + i as u64);
        let detectors = detectors.clone();
        tasks.push(tokio::spawn(async move {
            let mutex = client.mutex(shape.clone()).unwrap();
            for _ in 0..4 {
                let guard = mutex.try_lock_for(Duration::from_secs(20)).await.unwrap();
                let inside: Vec<_> = shape.iter().map(|n| detectors[n].enter()).collect();
                let token = guard.token().to_owned();
                let keys: Vec<String> = shape.iter().map(|n| key(n)).collect();
                let held = tokio::task::spawn_blocking(move || {
                    keys.iter()
                        .all(|key| holder(cluster, key).as_deref() == Some(token.as_str()))
                })
                .await
                .unwrap();
                assert!(held, "a guard of {shape:?} does not hold all its names");
                drop(inside);
                guard.release().await.unwrap();
            }
        }));
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(40), task)
            .await
            .expect("a caller is stuck: deadlock?")
            .unwrap();
    }
    for (name, detector) in detectors.iter() {
        assert_eq!(detector.max_seen(), 1, "two holders of {name} at once");
    }
    for key in &keys {
        assert_eq!(get(cluster, key), None, "{key} left behind");
    }
}

/// Hands a lock over from a holder to 3 waiters of independent clients, queued in order; returns
/// each hand-over's latency (from the release call to the next `lock()` returning).
async fn hand_overs(
    clients: Vec<Client>,
    lock_name: &str,
    queued: impl Fn() -> usize,
) -> Vec<Duration> {
    let holder = clients[0].mutex(lock_name).unwrap().lock().await.unwrap();
    let order = Arc::new(StdMutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for (i, client) in clients.into_iter().enumerate().skip(1) {
        let (mutex, order) = (client.mutex(lock_name).unwrap(), order.clone());
        waiters.push(tokio::spawn(async move {
            let guard = mutex.try_lock_for(Duration::from_secs(20)).await.unwrap();
            let acquired = Instant::now();
            order.lock().unwrap().push(i);
            tokio::time::sleep(Duration::from_millis(20)).await;
            let releasing = Instant::now();
            guard.release().await.unwrap();
            (acquired, releasing)
        }));
        // The next waiter starts once this one stands in the Redis queue.
        let start = Instant::now();
        while queued() < i {
            assert!(start.elapsed() < PROMPTLY, "waiter {i} did not queue");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let mut releasing = Instant::now();
    holder.release().await.unwrap();
    let mut latencies = Vec::new();
    for waiter in waiters {
        let (acquired, next) = waiter.await.unwrap();
        latencies.push(acquired.duration_since(releasing));
        releasing = next;
    }
    assert_eq!(
        *order.lock().unwrap(),
        [1, 2, 3],
        "not first come, first served"
    );
    latencies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_overs_are_fifo_and_as_prompt_as_on_one_server() {
    let cluster = cluster();
    // On the last master (not the first seed's).
    let lock_name = names_on_every_node(cluster, "handover").remove(2);
    let queue = format!("redis-mutex:{{{}}}:queue", key(&lock_name));
    let node = cluster.node_of(&queue);
    let zcard = |node: &RedisServer, queue: &str| -> usize {
        redis::cmd("ZCARD")
            .arg(queue)
            .query(&mut node.raw())
            .unwrap()
    };
    // Default poll interval (500 ms): a hand-over that missed its notification shows.
    let own_connections = |url: String, i: u64| {
        Client::builder(url)
            .response_timeout(Duration::from_millis(2000 + i))
            .build()
            .unwrap()
    };
    let on_cluster = hand_overs(
        (30..34)
            .map(|i| own_connections(cluster.url(), i))
            .collect(),
        &lock_name,
        || zcard(node, &queue),
    )
    .await;

    let single = support::RedisServer::start();
    let on_one = hand_overs(
        (0..4).map(|i| own_connections(single.url(), i)).collect(),
        &lock_name,
        || zcard(&single, &queue),
    )
    .await;
    eprintln!("hand-over latencies: cluster {on_cluster:?}, one server {on_one:?}");
    for latency in on_cluster.iter().chain(&on_one) {
        assert!(*latency < PROMPTLY, "a hand-over took {latency:?}");
    }
}

/// The channels `node`'s own subscribers listen on (`PUBSUB CHANNELS`, which in a cluster
/// lists only the node's own).
fn channels_on(node: &RedisServer) -> Vec<String> {
    redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("redis-mutex:*")
        .query(&mut node.raw())
        .unwrap()
}

/// A waiter listens on the master of its lock's slot (whose own `PUBLISH` reaches it at once,
/// not over the cluster bus), whichever node that is: its lock's release channel and its
/// subscriber's inbox channel are subscribed there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_listen_on_the_master_of_their_lock() {
    let cluster = cluster();
    let holder = client_with_timeout(cluster, Duration::from_millis(2101));
    let waiting = client_with_timeout(cluster, Duration::from_millis(2102));
    for (index, lock_name) in names_on_every_node(cluster, "listen").iter().enumerate() {
        let node = &cluster.nodes()[index];
        let released = format!("redis-mutex:{{{}}}:released", key(lock_name));
        let listening = || {
            let channels = channels_on(node);
            channels.contains(&released)
                && channels.iter().any(|c| c.starts_with("redis-mutex:inbox:"))
        };
        // The client reads the slot map in the background once connected: a waiter that
        // came before listens on the first seed, so look at a few waiters.
        let mut listened = false;
        for _ in 0..5 {
            let guard = holder
                .mutex(lock_name.as_str())
                .unwrap()
                .lock()
                .await
                .unwrap();
            let waiter = waiting.mutex(lock_name.as_str()).unwrap();
            let wait = tokio::spawn(async move { waiter.lock().await });
            let started = std::time::Instant::now();
            while !listened && started.elapsed() < Duration::from_secs(1) {
                tokio::time::sleep(Duration::from_millis(10)).await;
                listened = listening();
            }
            guard.release().await.unwrap();
            wait.await.unwrap().unwrap().release().await.unwrap();
            if listened {
                break;
            }
        }
        assert!(
            listened,
            "no waiter listened on node {index}: {:?}",
            channels_on(node)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_resharding_and_a_master_restart() {
    let mut cluster = RedisCluster::start(3);
    let client = Client::builder(cluster.url())
        .connect_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_millis(500))
        .ttl(Duration::from_secs(1))
        .build()
        .unwrap();
    let names = names_on_every_node(&cluster, "restart");

    // Resharding: the slot of names[2] moves from master 2 to master 0; the client, which
    // knows the old owner, is told MOVED and follows. Pairs first until this runtime's own
    // connections (opened in the background) carry them, straight to the slot's master: the
    // lock after the move goes there first, is told MOVED, and goes through the cluster
    // connection.
    let moved = client.mutex(names[2].as_str()).unwrap();
    for _ in 0..20 {
        moved.lock().await.unwrap().release().await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.assign_slot(cluster.slot(&key(&names[2])), 0);
    let guard = moved.lock().await.expect("a lock after MOVED");
    assert_eq!(
        get_on(&cluster.nodes()[0], &key(&names[2])).as_deref(),
        Some(guard.token())
    );
    guard.release().await.unwrap();

    // A master stops: calls on its names fail with a typed error within their bound, a guard
    // there is reported lost, the other masters keep working.
    let (down, up) = (
        client.mutex(names[1].as_str()).unwrap(),
        client.mutex(names[0].as_str()).unwrap(),
    );
    let lost = down.lock().await.unwrap();
    cluster.node_mut(1).stop();
    let started = Instant::now();
    let error = down.try_lock().await.unwrap_err();
    assert!(error.is_connection(), "{error}");
    assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
    let started = Instant::now();
    let error = down.try_lock_for(Duration::from_secs(1)).await.unwrap_err();
    assert!(error.is_connection() || error.is_timeout(), "{error}");
    assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
    up.lock()
        .await
        .expect("another master")
        .release()
        .await
        .unwrap();
    tokio::time::timeout(PROMPTLY, lost.lost())
        .await
        .expect("the guard on the stopped master is reported lost");

    // It comes back (same port and node id, no data): later calls work.
    cluster.node_mut(1).restart();
    let started = Instant::now();
    loop {
        match down.try_lock().await {
            Ok(guard) => {
                guard.release().await.unwrap();
                break;
            }
            Err(error) => {
                assert!(error.is_connection() || error.is_busy(), "{error}");
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "still failing: {error}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    up.lock().await.unwrap().release().await.unwrap();

    // The node the subscribers listen on (the first seed) stops: they move to another node,
    // and a waiter queued before still gets its hand-over.
    let other = Client::builder(cluster.url())
        .connect_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_millis(501))
        .build()
        .unwrap();
    let held = down.lock().await.unwrap();
    let waiter = {
        let mutex = other.mutex(names[1].as_str()).unwrap();
        tokio::spawn(async move { mutex.try_lock_for(Duration::from_secs(20)).await })
    };
    let queue = format!("redis-mutex:{{{}}}:queue", key(&names[1]));
    let queued = || -> usize {
        redis::cmd("ZCARD")
            .arg(&queue)
            .query(&mut cluster.nodes()[1].raw())
            .unwrap()
    };
    assert!(
        eventually(PROMPTLY, || queued() == 1),
        "the waiter did not queue"
    );
    let subscribed = |cluster: &RedisCluster| {
        cluster.nodes()[1..]
            .iter()
            .filter(|n| n.is_running())
            .any(|node| {
                let clients: String = redis::cmd("CLIENT")
                    .arg("LIST")
                    .query(&mut node.raw())
                    .unwrap();
                clients.lines().any(|line| {
                    line.split(' ')
                        .any(|field| field.strip_prefix("sub=").is_some_and(|n| n != "0"))
                })
            })
    };
    assert!(
        !subscribed(&cluster),
        "subscribers should listen on the first seed"
    );
    cluster.node_mut(0).stop();
    assert!(
        eventually(PROMPTLY, || subscribed(&cluster)),
        "no subscriber moved to another node"
    );
    held.release().await.unwrap();
    let next = tokio::time::timeout(PROMPTLY, waiter)
        .await
        .expect("the waiter is served")
        .unwrap()
        .unwrap();
    next.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_url_at_a_cluster_node_names_the_cluster_form() {
    let node = &cluster().nodes()[0];
    let client = Client::open(&node.url()).unwrap();
    let error = client
        .mutex(name("plain"))
        .unwrap()
        .try_lock()
        .await
        .unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
    assert!(error.to_string().contains("redis+cluster://"), "{error}");

    // And the other way round: a cluster URL at a standalone server.
    let standalone = RedisServer::start();
    let client = Client::open(&format!("redis+cluster://{}", standalone.addr())).unwrap();
    let error = client
        .mutex(name("plain"))
        .unwrap()
        .try_lock()
        .await
        .unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
    assert!(
        error.to_string().contains("not a Redis Cluster node"),
        "{error}"
    );
}

#[test]
fn cluster_urls_are_checked() {
    for (url, reason) in [
        ("redis+cluster://", "no seed node"),
        ("redis+cluster://127.0.0.1", "no port"),
        ("redis+cluster://127.0.0.1:7000/1", "only database 0"),
    ] {
        let error = Client::open(url).unwrap_err();
        assert!(error.is_invalid_input(), "{url}: {error}");
        assert!(error.to_string().contains(reason), "{url}: {error}");
    }
    let error = Client::open("redis+cluster://user:secret@127.0.0.1").unwrap_err();
    assert!(!error.to_string().contains("secret"), "{error}");
}

fn cluster_client() -> Client {
    client()
}

#[mutex("{name}", client = cluster_client(), guard = lock)]
async fn under_a_cluster_lock(name: &str) -> redis_mutex::Result<(String, Option<String>)> {
    let token = lock.expect("taken here").token().to_owned();
    Ok((token, holder(cluster(), &key(name))))
}

#[mutex("{name}", server = "redis+cluster://127.0.0.1:1,127.0.0.1:2")]
async fn on_an_unreachable_cluster(name: &str) -> redis_mutex::Result<()> {
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attribute_takes_a_cluster_client_and_url() {
    let lock_name = name("macro");
    let (token, held) = under_a_cluster_lock(&lock_name).await.unwrap();
    assert_eq!(held, Some(token));
    assert_eq!(get(cluster(), &key(&lock_name)), None);
    let error = on_an_unreachable_cluster(&lock_name).await.unwrap_err();
    assert!(error.is_connection(), "{error}");
}

#[test]
fn the_blocking_api_works_on_a_cluster() {
    let cluster = cluster();
    let names = names_on_every_node(cluster, "blocking");
    let client = client().blocking();
    let guard = client.mutex(names.clone()).unwrap().lock().unwrap();
    for name in &names {
        assert_eq!(holder(cluster, &key(name)).as_deref(), Some(guard.token()));
    }
    assert!(
        client
            .mutex(names[0].as_str())
            .unwrap()
            .try_lock()
            .unwrap_err()
            .is_busy()
    );
    guard.extend(Duration::from_secs(60)).unwrap();
    assert!(guard.is_owned().unwrap());
    let all = client.mutex(names.clone()).unwrap();
    assert!(all.is_locked().unwrap());
    guard.release().unwrap();
    assert!(!all.is_locked().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_forced_release_work_per_slot() {
    let cluster = cluster();
    let names = names_on_every_node(cluster, "admin");
    let client = client();
    let guard = client
        .mutex(names.clone())
        .unwrap()
        .with_fencing(true)
        .lock()
        .await
        .unwrap();
    let statuses = client.status(names.clone()).await.unwrap();
    for status in &statuses {
        assert_eq!(status.holder.as_deref(), Some(guard.token()), "{status:?}");
        assert!(
            status.remaining.is_some() && status.fencing_counter.is_some(),
            "{status:?}"
        );
    }
    let released = client.force_release(names.clone()).await.unwrap();
    assert!(
        released
            .iter()
            .all(|r| r.removed_holder.as_deref() == Some(guard.token()))
    );
    assert!(!guard.is_owned().await.unwrap());
    for name in &names {
        assert_eq!(get(cluster, &key(name)), None);
    }
}

#[test]
fn callers_on_short_lived_runtimes_lock_through_their_own_connections() {
    let cluster = cluster();
    let lock_name = name("runtimes");
    let client = client();
    for _ in 0..3 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mutex = client.mutex(lock_name.as_str()).unwrap();
            // The first calls open this runtime's connections in the background; later ones
            // use them (the uncontended path), and every guard is released.
            for _ in 0..20 {
                let guard = mutex.lock().await.unwrap();
                assert_eq!(
                    holder(cluster, &key(&lock_name)).as_deref(),
                    Some(guard.token())
                );
                guard.release().await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
    assert_eq!(get(cluster, &key(&lock_name)), None);
}

/// A lock name whose key (`MUTEX_{tag}…`) hashes by `{tag}` to a slot of master `owner`, and
/// that tag: names `{tag}a`, `{tag}b`, … then share that slot.
fn tag_on(cluster: &RedisCluster, owner: usize, tag: &str) -> String {
    loop {
        let candidate = name(tag);
        if cluster.owner(&format!("{{{candidate}}}")) == owner {
            return candidate;
        }
    }
}

/// How many `TRYAGAIN` errors `node` has sent (`INFO errorstats`).
fn tryagain_replies(node: &RedisServer) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("errorstats")
        .query(&mut node.raw())
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("errorstat_TRYAGAIN:count="))
        .map_or(0, |count| count.trim().parse().unwrap())
}

/// A client of `cluster` with connections of its own, whose calls give up after `timeout`.
fn client_with_timeout(cluster: &RedisCluster, timeout: Duration) -> Client {
    Client::builder(cluster.url())
        .response_timeout(timeout)
        .max_poll_interval(Duration::from_millis(50))
        .build()
        .unwrap()
}

/// A slot in the middle of a migration (`MIGRATING` on its source, `IMPORTING` on its target,
/// some keys moved): single-key commands on keys already moved (or not created yet) are told
/// `ASK`, and are sent, once, with `ASKING` to the target. The migration never ends here, so a
/// client that only retried (until its response timeout) would fail every call below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrating_slot_is_followed_by_ask_and_locks_still_exclude() {
    let cluster = RedisCluster::start(3);
    let (source, target) = (&cluster.nodes()[2], &cluster.nodes()[0]);
    let tag = tag_on(&cluster, 2, "ask");
    let lock_name = format!("{{{tag}}}one");
    let lock_key = key(&lock_name);
    let slot = cluster.slot(&lock_key);
    let (one, other) = (
        client_with_timeout(&cluster, Duration::from_millis(1000)),
        client_with_timeout(&cluster, Duration::from_millis(1001)),
    );
    let (mine, theirs) = (
        one.mutex(lock_name.as_str()).unwrap(),
        other.mutex(lock_name.as_str()).unwrap(),
    );
    // Both clients know the slot map, and a lock is taken on the source before the migration.
    theirs.try_lock().await.unwrap().release().await.unwrap();
    let held = mine.try_lock().await.unwrap();
    assert_eq!(get_on(source, &lock_key).as_deref(), Some(held.token()));

    // The migration starts, and the held lock key moves to the target (with its TTL).
    cluster.start_migration(slot, 2, 0);
    redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(target.port())
        .arg(&lock_key)
        .arg(0)
        .arg(5000)
        .exec(&mut source.raw())
        .unwrap();
    let asking_get = |key: &str| -> Option<String> {
        let mut con = target.raw();
        redis::cmd("ASKING").exec(&mut con).unwrap();
        redis::cmd("GET").arg(key).query(&mut con).unwrap()
    };
    // (A GET on the source is told ASK for a key it no longer has.)
    let on_source = || -> bool {
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(100)
            .query(&mut source.raw())
            .unwrap();
        keys.contains(&lock_key)
    };
    assert!(!on_source());
    assert_eq!(asking_get(&lock_key).as_deref(), Some(held.token()));

    // The other client finds it held there (SET NX, then TYPE and PTTL, each after ASK), the
    // holder extends and releases it there.
    let busy = theirs.try_lock().await.unwrap_err();
    assert!(busy.is_busy(), "{busy}");
    held.extend(Duration::from_secs(20))
        .await
        .expect("extend after ASK");
    held.release().await.expect("release after ASK");
    assert_eq!(asking_get(&lock_key), None);

    // A lock key created during the migration is created on the target.
    let taken = theirs.try_lock().await.expect("acquire after ASK");
    assert_eq!(asking_get(&lock_key).as_deref(), Some(taken.token()));
    assert!(!on_source());
    assert!(mine.try_lock().await.unwrap_err().is_busy());
    taken.release().await.unwrap();

    // Two clients take turns on it, never both inside.
    let detector = Arc::new(OverlapDetector::default());
    let mut tasks = Vec::new();
    for client in [&one, &other, &one, &other] {
        let (mutex, detector) = (client.mutex(lock_name.as_str()).unwrap(), detector.clone());
        tasks.push(tokio::spawn(async move {
            let mut taken = 0;
            while taken < 5 {
                match mutex.try_lock().await {
                    Ok(guard) => {
                        let inside = detector.enter();
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        drop(inside);
                        guard.release().await.unwrap();
                        taken += 1;
                    }
                    Err(error) if error.is_busy() => {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err(error) => panic!("during the migration: {error}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(detector.max_seen(), 1, "two holders were inside at once");
    assert_eq!(detector.entries(), 4 * 5);
    assert_eq!(asking_get(&lock_key), None);
    assert!(!on_source());
}

/// A script of several keys of a migrating slot, some of them on neither node, is told
/// `TRYAGAIN` by the target even with `ASKING`: it is retried within the response timeout, and
/// goes through once the migration ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_name_lock_in_a_migrating_slot_waits_for_the_migration_within_its_bound() {
    let cluster = RedisCluster::start(3);
    // The slot moves from node 2 to node 0.
    let target = &cluster.nodes()[0];
    let tag = tag_on(&cluster, 2, "tryagain");
    let names = vec![format!("{{{tag}}}a"), format!("{{{tag}}}b")];
    let slot = cluster.slot(&key(&names[0]));
    let client = client_with_timeout(&cluster, Duration::from_secs(20));
    let both = client.mutex(names.clone()).unwrap();
    both.try_lock().await.unwrap().release().await.unwrap();

    cluster.start_migration(slot, 2, 0);
    let before = tryagain_replies(target);
    let attempt = tokio::spawn(async move {
        let guard = both.try_lock().await?;
        guard.release().await
    });
    assert!(
        eventually(PROMPTLY, || tryagain_replies(target) > before),
        "the attempt was not told TRYAGAIN"
    );
    assert!(!attempt.is_finished(), "the attempt did not wait");
    // A caller with a shorter bound gives up at it, with a connection error (the slot is out
    // of service for now) that says the command did not run.
    let impatient = client_with_timeout(&cluster, Duration::from_millis(300));
    let error = impatient
        .mutex(names.clone())
        .unwrap()
        .try_lock()
        .await
        .unwrap_err();
    assert!(error.is_connection(), "{error:?}");
    let cause = std::error::Error::source(&error).map(ToString::to_string);
    assert!(
        cause.as_deref().is_some_and(|c| c.contains("did not run")),
        "{error:?}"
    );
    // The migration ends: every node gives the slot to the target.
    cluster.assign_slot(slot, 0);
    tokio::time::timeout(Duration::from_secs(30), attempt)
        .await
        .expect("the attempt ends within its bound")
        .unwrap()
        .expect("the lock is taken once the migration ends");
    for name in &names {
        assert_eq!(get_on(target, &key(name)), None);
    }
}

/// `rediss+cluster://`: TLS to every node (and between them), all certificates signed by the CA
/// the client is told to trust; a client that trusts only the system's roots is refused.
#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_cluster_locks_hands_over_and_spans_slots_over_tls() {
    let cluster = RedisCluster::start_tls(3);
    let url = cluster.url();
    assert!(url.starts_with("rediss+cluster://"), "{url}");
    let ca = cluster.tls_ca().expect("a TLS cluster has a CA").cert_pem();
    let trusting = |i: u64| {
        Client::builder(url.clone())
            .tls_root_certificates(ca.clone())
            .response_timeout(Duration::from_millis(2000 + i))
            .build()
            .unwrap()
    };
    let names = names_on_every_node(&cluster, "tls");
    let client = trusting(0);

    // One name on every master.
    for lock_name in &names {
        let guard = client
            .mutex(lock_name.as_str())
            .unwrap()
            .lock()
            .await
            .unwrap();
        assert_eq!(
            holder(&cluster, &key(lock_name)).as_deref(),
            Some(guard.token())
        );
        guard.release().await.unwrap();
        assert_eq!(get(&cluster, &key(lock_name)), None);
    }

    // One lock over names of every master.
    let all = client.mutex(names.clone()).unwrap().lock().await.unwrap();
    for lock_name in &names {
        assert_eq!(
            holder(&cluster, &key(lock_name)).as_deref(),
            Some(all.token())
        );
    }
    let busy = trusting(1)
        .mutex(names[1].as_str())
        .unwrap()
        .try_lock()
        .await;
    assert!(busy.unwrap_err().is_busy());
    all.release().await.unwrap();
    for lock_name in &names {
        assert_eq!(get(&cluster, &key(lock_name)), None);
    }

    // Hand-overs, in order, between clients of their own.
    let lock_name = &names[2];
    let queue = format!("redis-mutex:{{{}}}:queue", key(lock_name));
    let node = cluster.node_of(&queue);
    hand_overs((10..14).map(trusting).collect(), lock_name, || {
        redis::cmd("ZCARD")
            .arg(&queue)
            .query(&mut node.raw())
            .unwrap()
    })
    .await;
    assert_eq!(get(&cluster, &key(lock_name)), None);
    // The waiters heard of the releases on their subscriber connections, over TLS too.
    let subscribers = cluster
        .nodes()
        .iter()
        .map(|node| {
            let clients: String = redis::cmd("CLIENT")
                .arg("LIST")
                .query(&mut node.raw())
                .unwrap();
            clients
                .lines()
                .filter(|line| {
                    line.split(' ')
                        .any(|field| field.strip_prefix("sub=").is_some_and(|n| n != "0"))
                })
                .count()
        })
        .sum::<usize>();
    assert!(subscribers > 0, "no subscriber connection over TLS");

    // A client that does not trust the test CA.
    let untrusting = Client::builder(url.clone())
        .connect_timeout(Duration::from_millis(2000))
        .build()
        .unwrap();
    let error = untrusting
        .mutex(names[0].as_str())
        .unwrap()
        .try_lock()
        .await
        .unwrap_err();
    assert!(error.is_connection(), "{error}");
}

/// The uncontended path goes from the caller's task straight to the master of the lock's slot,
/// over a connection of the caller's runtime (not through redis-rs's cluster connection): with
/// the crate's cluster connection and the runtime's own cluster connection to that master both
/// closed, pairs neither fail nor reopen either.
#[test]
fn uncontended_pairs_go_straight_to_the_slots_master() {
    let cluster = RedisCluster::start(3);
    let client = Client::open(&cluster.url()).expect("open a cluster client");
    let lock = name("direct");
    let m = client.mutex(&lock).unwrap();
    let rt = common::current_thread();
    let pairs = |n| common::pairs_on(&rt, &m, n);
    // A read opens the crate's cluster connection; the pairs then open the runtime's own (its
    // cluster connection, then one connection per master), in the background.
    rt.block_on(async { assert!(!m.is_locked().await.unwrap()) });
    pairs(20);
    let master = cluster.node_of(&key(&lock));
    let ids = common::client_ids(master);
    assert_eq!(
        ids.len(),
        3,
        "the crate's cluster connection, the runtime's, and the runtime's own connection to \
         the slot's master, in that order: {ids:?}"
    );
    for id in &ids[..2] {
        common::kill_client(master, *id);
    }
    pairs(50);
    assert_eq!(
        common::client_ids(master),
        [ids[2]],
        "the pairs went through a cluster connection"
    );
}
