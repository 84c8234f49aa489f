//! Helpers shared by the behaviour tests: clients for a spawned server, raw key access, the
//! non-atomic counter increment the locks protect, an overlap detector, polling helpers, and
//! [`Api`] with [`twin_tests!`], which run one scenario against both the async API and its
//! blocking twin.
//!
//! Include after `mod support;` with `mod common;`. Unlike `support`, this depends on
//! `redis_mutex` and `tokio`, so examples and benches do not include it.

#![allow(dead_code)]

use std::fmt::Debug;
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use redis_mutex::{IntoLockNames, LockNames, Result};

use crate::support::RedisServer;

/// Generous bound for "should happen promptly" waits: long enough for a loaded 2-core CI
/// machine, short enough that a hang fails the test.
pub(crate) const PROMPTLY: Duration = Duration::from_secs(3);

/// A lock name unique to this test run: `tag-PID-N-NANOS`. Tests of one binary share a server.
pub(crate) fn name(tag: &str) -> String {
    crate::support::unique(tag)
}

/// The default-prefixed Redis key of lock `name`.
pub(crate) fn key(name: &str) -> String {
    format!("MUTEX_{name}")
}

/// An async client for `server`.
pub(crate) fn client(server: &RedisServer) -> redis_mutex::Client {
    redis_mutex::Client::open(server.url().as_str()).expect("open client")
}

/// A blocking client for `server`.
pub(crate) fn blocking_client(server: &RedisServer) -> redis_mutex::blocking::Client {
    redis_mutex::blocking::Client::open(server.url().as_str()).expect("open blocking client")
}

/// `GET key` over a raw connection.
pub(crate) fn get(server: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut server.raw())
        .expect("raw GET")
}

/// The owner token at lock key `key`: its value, without the `+` a waiter queued behind the
/// holder puts after it (so that the holder's release hands the lock on).
pub(crate) fn holder(server: &RedisServer, key: &str) -> Option<String> {
    get(server, key).map(|value| value.strip_suffix('+').map_or(value.clone(), str::to_owned))
}

/// `PTTL key` over a raw connection (-2: no key, -1: no expiry).
pub(crate) fn pttl(server: &RedisServer, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query(&mut server.raw())
        .expect("raw PTTL")
}

/// Runs a raw command and returns its reply as a `redis::Value`.
pub(crate) fn raw(server: &RedisServer, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut server.raw())
        .unwrap_or_else(|err| panic!("raw {args:?}: {err}"))
}

/// Lock keys (default prefix) whose name starts with `name_prefix`.
pub(crate) fn lock_keys(server: &RedisServer, name_prefix: &str) -> Vec<String> {
    server.keys(&format!("MUTEX_{name_prefix}*"))
}

/// A client of `server` whose operations give up after `timeout` (connect and response), for
/// tests that stop or pause their server.
pub(crate) fn impatient_client(server: &RedisServer, timeout: Duration) -> redis_mutex::Client {
    redis_mutex::Client::builder(server.url().as_str())
        .connect_timeout(timeout)
        .response_timeout(timeout)
        .build()
        .expect("build impatient client")
}

/// A client of `server` without the in-process wait queue, so each waiter contends in Redis
/// (as waiters of separate processes do).
pub(crate) fn unqueued_client(server: &RedisServer) -> redis_mutex::Client {
    redis_mutex::Client::builder(server.url().as_str())
        .local_queue(false)
        .build()
        .expect("build unqueued client")
}

/// The ids of the server's client connections but the raw one asking, oldest first.
pub(crate) fn client_ids(server: &RedisServer) -> Vec<u64> {
    let mut raw = server.raw();
    let me: u64 = redis::cmd("CLIENT")
        .arg("ID")
        .query(&mut raw)
        .expect("CLIENT ID");
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut raw)
        .expect("CLIENT LIST");
    let mut ids: Vec<u64> = list
        .lines()
        .filter_map(|line| line.strip_prefix("id=")?.split(' ').next()?.parse().ok())
        .filter(|&id| id != me)
        .collect();
    ids.sort_unstable();
    ids
}

/// Closes the server's client connection `id` (`CLIENT KILL ID`).
pub(crate) fn kill_client(server: &RedisServer, id: u64) {
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query(&mut server.raw())
        .expect("CLIENT KILL");
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub(crate) fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Panics unless `key` holds `guard`'s token: the lock is taken in Redis, by this guard.
#[track_caller]
pub(crate) fn assert_key_holds(server: &RedisServer, key: &str, guard: &impl ApiGuard) {
    assert_eq!(
        holder(server, key).as_deref(),
        Some(guard.token()),
        "{key} does not hold the token of {guard:?}"
    );
}

/// The key of `lock`'s wait queue in Redis (default prefix).
pub(crate) fn queue_key(lock: &str) -> String {
    format!("redis-mutex:{{{}}}:queue", key(lock))
}

/// The tokens waiting in `lock`'s queue in Redis, first in line first.
pub(crate) fn queued(server: &RedisServer, lock: &str) -> Vec<String> {
    redis::cmd("ZRANGE")
        .arg(queue_key(lock))
        .arg(0)
        .arg(-1)
        .query(&mut server.raw())
        .expect("raw ZRANGE")
}

/// Waits (up to [`PROMPTLY`]) until `lock`'s wait queue in Redis holds `waiters` entries.
#[track_caller]
pub(crate) fn assert_queued(server: &RedisServer, lock: &str, waiters: i64) {
    let queue = queue_key(lock);
    let len = || raw(server, &["ZCARD", &queue]);
    assert!(
        eventually(PROMPTLY, || len() == redis::Value::Int(waiters)),
        "expected {waiters} queued waiters, found {:?}",
        len()
    );
}

/// Waits (up to 5 s) for `key` to expire; `what` names it in the failure message.
#[track_caller]
pub(crate) fn wait_expired(server: &RedisServer, key: &str, what: &str) {
    assert!(
        eventually(Duration::from_secs(5), || get(server, key).is_none()),
        "{what} did not expire"
    );
}

/// Async twin of [`eventually`].
pub(crate) async fn eventually_async<F, Fut>(timeout: Duration, cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_in::<Async, _, _>(timeout, cond).await
}

/// [`eventually`] for a scenario of either API: `cond` is awaited, the pauses are `A::sleep`.
pub(crate) async fn eventually_in<A: Api, F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        A::sleep(Duration::from_millis(10)).await;
    }
}

/// Read-modify-write increment of a Redis counter, deliberately non-atomic: `GET`, a pause,
/// `SET value+1`. Two of these interleaving lose an update.
pub(crate) fn unsafe_increment(con: &mut redis::Connection, key: &str) {
    let value: Option<i64> = redis::cmd("GET").arg(key).query(con).expect("GET counter");
    std::thread::sleep(Duration::from_micros(500));
    redis::cmd("SET")
        .arg(key)
        .arg(value.unwrap_or(0) + 1)
        .exec(con)
        .expect("SET counter");
}

/// Async twin of [`unsafe_increment`].
pub(crate) async fn unsafe_increment_async(con: &mut redis::aio::MultiplexedConnection, key: &str) {
    let value: Option<i64> = redis::cmd("GET")
        .arg(key)
        .query_async(con)
        .await
        .expect("GET counter");
    tokio::time::sleep(Duration::from_micros(500)).await;
    tokio::task::yield_now().await;
    redis::cmd("SET")
        .arg(key)
        .arg(value.unwrap_or(0) + 1)
        .exec_async(con)
        .await
        .expect("SET counter");
}

/// The counter's value (0 when absent).
pub(crate) fn counter(server: &RedisServer, key: &str) -> i64 {
    get(server, key).map_or(0, |v| v.parse().expect("counter is an integer"))
}

/// Counts how many critical sections run at once; the most ever seen must stay 1.
#[derive(Debug, Default)]
pub(crate) struct OverlapDetector {
    inside: AtomicUsize,
    max_seen: AtomicUsize,
    entries: AtomicUsize,
}

impl OverlapDetector {
    pub(crate) fn enter(&self) -> Inside<'_> {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_seen.fetch_max(now, Ordering::SeqCst);
        self.entries.fetch_add(1, Ordering::SeqCst);
        Inside(self)
    }

    /// The largest number of holders seen inside at once.
    pub(crate) fn max_seen(&self) -> usize {
        self.max_seen.load(Ordering::SeqCst)
    }

    /// How many critical sections ran.
    pub(crate) fn entries(&self) -> usize {
        self.entries.load(Ordering::SeqCst)
    }
}

/// Leaves the critical section when dropped.
#[derive(Debug)]
pub(crate) struct Inside<'a>(&'a OverlapDetector);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Panics unless every critical section watched by `detector` ran alone, there were
/// `entries` of them, and the `counter` they incremented with [`unsafe_increment`] lost no
/// update.
#[track_caller]
pub(crate) fn assert_serialized(
    server: &RedisServer,
    detector: &OverlapDetector,
    counter_key: &str,
    entries: usize,
) {
    assert_eq!(detector.max_seen(), 1, "two holders were inside at once");
    assert_eq!(detector.entries(), entries, "critical sections that ran");
    assert_eq!(
        counter(server, counter_key),
        i64::try_from(entries).expect("a small count"),
        "updates were lost"
    );
}

/// Panics unless `elapsed` is at least `at_least` (less a few ms of timer granularity) and
/// less than `at_least + slack`; `what` names the call in the message.
#[track_caller]
pub(crate) fn assert_took(what: &str, elapsed: Duration, at_least: Duration, slack: Duration) {
    assert!(
        elapsed + Duration::from_millis(5) >= at_least,
        "{what} returned after {elapsed:?}, before the wait of {at_least:?} was over"
    );
    assert!(
        elapsed < at_least + slack,
        "{what} returned after {elapsed:?}, more than {slack:?} past the wait of {at_least:?}"
    );
}

/// Panics unless `start` is less than `bound` ago; `what` names what was timed.
#[track_caller]
pub(crate) fn assert_within(what: &str, start: Instant, bound: Duration) {
    let took = start.elapsed();
    assert!(took < bound, "{what} took {took:?}, more than {bound:?}");
}

// ---------------------------------------------------------------------------------------------
// One scenario, both APIs

/// The async API ([`Async`]) or its blocking twin ([`Blocking`]). A scenario written once as
/// `async fn scenario<A: Api>()` against [`ApiClient`], [`ApiMutex`] and [`ApiGuard`] tests
/// both: [`twin_tests!`] runs it on a tokio runtime with `A = Async`, and on a plain thread
/// with `A = Blocking`, where every call blocks inside `poll` and no runtime is around.
pub(crate) trait Api: Sized + Send + Sync + 'static {
    /// `"async"` or `"blocking"`, for assertion messages.
    const NAME: &'static str;
    /// `redis_mutex::Client` or `redis_mutex::blocking::Client`.
    type Client: ApiClient<Mutex = Self::Mutex>;
    /// `redis_mutex::Mutex` or `redis_mutex::blocking::Mutex`.
    type Mutex: ApiMutex<Guard = Self::Guard>;
    /// `redis_mutex::Guard` or `redis_mutex::blocking::Guard`.
    type Guard: ApiGuard;
    /// A raw Redis connection of this style, for [`Api::unsafe_increment`].
    type Raw: Send + 'static;

    /// This API's client for `client`'s server and settings.
    fn wrap(client: redis_mutex::Client) -> Self::Client;

    /// This API's client for `server`, default settings.
    fn client(server: &RedisServer) -> Self::Client {
        Self::wrap(client(server))
    }

    /// `tokio::time::sleep` or `std::thread::sleep`.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;

    /// Runs `work` concurrently: a tokio task, or a thread of its own.
    fn spawn<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> Task<T>;

    /// A raw connection to `server`.
    fn raw(server: &RedisServer) -> impl Future<Output = Self::Raw> + Send;

    /// [`unsafe_increment`] or [`unsafe_increment_async`].
    fn unsafe_increment(con: &mut Self::Raw, key: &str) -> impl Future<Output = ()> + Send;
}

/// The client calls scenarios use; see [`Api`].
pub(crate) trait ApiClient: Clone + Debug + Send + Sync + 'static {
    type Mutex: ApiMutex;

    fn mutex(&self, names: impl IntoLockNames) -> Result<Self::Mutex>;

    /// A mutex on `names` with a lease of `ttl`, renewed or not.
    fn lease(&self, names: impl IntoLockNames, ttl: Duration, renewal: bool) -> Self::Mutex {
        self.mutex(names)
            .expect("valid lock names")
            .with_ttl(ttl)
            .expect("valid TTL")
            .with_renewal(renewal)
    }
}

/// The mutex calls scenarios use; see [`Api`].
pub(crate) trait ApiMutex: Clone + Debug + Send + Sync + 'static {
    type Guard: ApiGuard;

    fn lock(&self) -> impl Future<Output = Result<Self::Guard>> + Send;
    fn try_lock(&self) -> impl Future<Output = Result<Self::Guard>> + Send;
    fn try_lock_for(&self, wait: Duration) -> impl Future<Output = Result<Self::Guard>> + Send;
    fn try_lock_until(&self, deadline: Instant)
    -> impl Future<Output = Result<Self::Guard>> + Send;
    fn with_ttl(self, ttl: Duration) -> Result<Self>;
    fn with_wait(self, wait: Option<Duration>) -> Self;
    fn with_renewal(self, renewal: bool) -> Self;
    fn with_fencing(self, fencing: bool) -> Self;
    fn names(&self) -> &LockNames;
    fn keys(&self) -> &[String];
}

/// The guard calls scenarios use; see [`Api`].
pub(crate) trait ApiGuard: Debug + Send + Sync + 'static {
    fn token(&self) -> &str;
    fn names(&self) -> &LockNames;
    fn fencing_token(&self) -> Option<u64>;
    fn is_held(&self) -> bool;
    fn remaining(&self) -> Duration;
    fn extend(&self, ttl: Duration) -> impl Future<Output = Result<()>> + Send;
    fn release(self) -> impl Future<Output = Result<()>> + Send;
    /// Whether the loss of the lock is reported within `timeout`: `lost()` under a timeout, or
    /// `lost_timeout(timeout)`.
    fn lost_within(&self, timeout: Duration) -> impl Future<Output = bool> + Send;
}

/// The async API.
#[derive(Debug)]
pub(crate) enum Async {}

/// The blocking API.
#[derive(Debug)]
pub(crate) enum Blocking {}

impl Api for Async {
    const NAME: &'static str = "async";
    type Client = redis_mutex::Client;
    type Mutex = redis_mutex::Mutex;
    type Guard = redis_mutex::Guard;
    type Raw = redis::aio::MultiplexedConnection;

    fn wrap(client: redis_mutex::Client) -> Self::Client {
        client
    }

    async fn sleep(duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn spawn<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> Task<T> {
        Task::Tokio(tokio::spawn(work))
    }

    async fn raw(server: &RedisServer) -> Self::Raw {
        redis::Client::open(server.url())
            .expect("raw client")
            .get_multiplexed_async_connection()
            .await
            .expect("raw async connection")
    }

    async fn unsafe_increment(con: &mut Self::Raw, key: &str) {
        unsafe_increment_async(con, key).await;
    }
}

impl Api for Blocking {
    const NAME: &'static str = "blocking";
    type Client = redis_mutex::blocking::Client;
    type Mutex = redis_mutex::blocking::Mutex;
    type Guard = redis_mutex::blocking::Guard;
    type Raw = redis::Connection;

    fn wrap(client: redis_mutex::Client) -> Self::Client {
        client.blocking()
    }

    fn client(server: &RedisServer) -> Self::Client {
        blocking_client(server)
    }

    async fn sleep(duration: Duration) {
        thread::sleep(duration);
    }

    fn spawn<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> Task<T> {
        Task::Thread(thread::spawn(move || block_on(work)))
    }

    async fn raw(server: &RedisServer) -> Self::Raw {
        server.raw()
    }

    async fn unsafe_increment(con: &mut Self::Raw, key: &str) {
        unsafe_increment(con, key);
    }
}

impl ApiClient for redis_mutex::Client {
    type Mutex = redis_mutex::Mutex;

    fn mutex(&self, names: impl IntoLockNames) -> Result<Self::Mutex> {
        redis_mutex::Client::mutex(self, names)
    }
}

impl ApiClient for redis_mutex::blocking::Client {
    type Mutex = redis_mutex::blocking::Mutex;

    fn mutex(&self, names: impl IntoLockNames) -> Result<Self::Mutex> {
        redis_mutex::blocking::Client::mutex(self, names)
    }
}

/// Implements [`ApiMutex`] for `$mutex` by forwarding to its inherent methods, awaiting those
/// of the async API (`await`) and calling those of the blocking one (`block`).
macro_rules! forward_mutex {
    ($mutex:ty, $guard:ty, $($call:tt)+) => {
        impl ApiMutex for $mutex {
            type Guard = $guard;

            async fn lock(&self) -> Result<$guard> {
                forward_mutex!(@ $($call)+ <$mutex>::lock(self))
            }
            async fn try_lock(&self) -> Result<$guard> {
                forward_mutex!(@ $($call)+ <$mutex>::try_lock(self))
            }
            async fn try_lock_for(&self, wait: Duration) -> Result<$guard> {
                forward_mutex!(@ $($call)+ <$mutex>::try_lock_for(self, wait))
            }
            async fn try_lock_until(&self, deadline: Instant) -> Result<$guard> {
                forward_mutex!(@ $($call)+ <$mutex>::try_lock_until(self, deadline))
            }
            fn with_ttl(self, ttl: Duration) -> Result<Self> {
                <$mutex>::with_ttl(self, ttl)
            }
            fn with_wait(self, wait: Option<Duration>) -> Self {
                <$mutex>::with_wait(self, wait)
            }
            fn with_renewal(self, renewal: bool) -> Self {
                <$mutex>::with_renewal(self, renewal)
            }
            fn with_fencing(self, fencing: bool) -> Self {
                <$mutex>::with_fencing(self, fencing)
            }
            fn names(&self) -> &LockNames {
                <$mutex>::names(self)
            }
            fn keys(&self) -> &[String] {
                <$mutex>::keys(self)
            }
        }
    };
    (@ await $call:expr) => { $call.await };
    (@ block $call:expr) => { $call };
}

forward_mutex!(redis_mutex::Mutex, redis_mutex::Guard, await);
forward_mutex!(
    redis_mutex::blocking::Mutex,
    redis_mutex::blocking::Guard,
    block
);

/// Implements the [`ApiGuard`] accessors for `$guard` by forwarding to its inherent methods.
macro_rules! forward_guard_accessors {
    ($guard:ty) => {
        fn token(&self) -> &str {
            <$guard>::token(self)
        }
        fn names(&self) -> &LockNames {
            <$guard>::names(self)
        }
        fn fencing_token(&self) -> Option<u64> {
            <$guard>::fencing_token(self)
        }
        fn is_held(&self) -> bool {
            <$guard>::is_held(self)
        }
        fn remaining(&self) -> Duration {
            <$guard>::remaining(self)
        }
    };
}

impl ApiGuard for redis_mutex::Guard {
    forward_guard_accessors!(redis_mutex::Guard);

    async fn extend(&self, ttl: Duration) -> Result<()> {
        redis_mutex::Guard::extend(self, ttl).await
    }
    async fn release(self) -> Result<()> {
        redis_mutex::Guard::release(self).await
    }
    async fn lost_within(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.lost()).await.is_ok()
    }
}

impl ApiGuard for redis_mutex::blocking::Guard {
    forward_guard_accessors!(redis_mutex::blocking::Guard);

    async fn extend(&self, ttl: Duration) -> Result<()> {
        redis_mutex::blocking::Guard::extend(self, ttl)
    }
    async fn release(self) -> Result<()> {
        redis_mutex::blocking::Guard::release(self)
    }
    async fn lost_within(&self, timeout: Duration) -> bool {
        self.lost_timeout(timeout)
    }
}

/// Work started by [`Api::spawn`].
#[derive(Debug)]
pub(crate) enum Task<T> {
    Tokio(tokio::task::JoinHandle<T>),
    Thread(thread::JoinHandle<T>),
}

impl<T> Task<T> {
    pub(crate) fn is_finished(&self) -> bool {
        match self {
            Task::Tokio(handle) => handle.is_finished(),
            Task::Thread(handle) => handle.is_finished(),
        }
    }

    /// Waits for the work to finish: its output, or `Err` with the panic payload when it
    /// panicked.
    pub(crate) async fn join(self) -> thread::Result<T> {
        match self {
            Task::Tokio(handle) => handle.await.map_err(|err| match err.try_into_panic() {
                Ok(payload) => payload,
                Err(err) => panic!("task did not finish: {err}"),
            }),
            Task::Thread(handle) => handle.join(),
        }
    }

    /// [`join`](Task::join), panicking when the work panicked or is not done within
    /// `timeout`; `what` names the work in the message.
    pub(crate) async fn finish_within(self, timeout: Duration, what: &str) -> T {
        let start = Instant::now();
        while !self.is_finished() {
            assert!(
                start.elapsed() < timeout,
                "{what} did not finish within {timeout:?}"
            );
            match &self {
                Task::Tokio(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                Task::Thread(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
        self.join()
            .await
            .unwrap_or_else(|_| panic!("{what} panicked"))
    }
}

/// Runs `future` to completion on this thread, parking between polls: a minimal executor,
/// standing in for a non-tokio runtime, and the driver of [`Blocking`] scenarios (whose
/// futures do their blocking work inside `poll`).
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park_timeout(Duration::from_millis(50)),
        }
    }
}

/// Stamps out two tests from each `async fn scenario<A: Api>()` named: `scenario::async_api`, a
/// `#[tokio::test]` (given any arguments in parentheses, such as a runtime flavor) running it
/// with `A = Async`, and `scenario::blocking_api`, a plain `#[test]` running it with
/// `A = Blocking` on the test's own thread, with no runtime.
///
/// ```ignore
/// async fn try_lock_on_a_held_lock_is_busy<A: Api>() { /* ... */ }
/// common::twin_tests!(try_lock_on_a_held_lock_is_busy, other(flavor = "multi_thread"));
/// ```
#[allow(unused_macros)] // not every test binary has twins
macro_rules! twin_tests {
    ($($scenario:ident $(($($tokio:tt)*))?),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test$(($($tokio)*))?]
            async fn async_api() {
                super::$scenario::<crate::common::Async>().await;
            }

            #[test]
            fn blocking_api() {
                crate::common::block_on(super::$scenario::<crate::common::Blocking>());
            }
        }
    )+};
}
#[allow(unused_imports)]
pub(crate) use twin_tests;

/// A client of the shared server, opened once per test binary: for `#[mutex(client = ...)]`.
pub(crate) fn shared_client() -> &'static redis_mutex::Client {
    static CLIENT: std::sync::OnceLock<redis_mutex::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| client(crate::support::shared()))
}

/// Whether the lock `name` (default prefix) is held by anyone on the shared server right now.
pub(crate) fn lock_held(name: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key(name))
        .query(&mut crate::support::shared().raw())
        .expect("EXISTS")
}

// ---------------------------------------------------------------------------------------------
// Logs

/// Everything the process logs at `WARN` and above, from every thread (the crate also logs from
/// its own runtime thread): installs a global subscriber on first use, so a test binary that
/// calls this cannot install another.
pub(crate) fn warnings() -> String {
    static LOG: OnceLock<Arc<StdMutex<Vec<u8>>>> = OnceLock::new();
    let log = LOG.get_or_init(|| {
        let log = Arc::new(StdMutex::new(Vec::new()));
        let sink = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
        log
    });
    String::from_utf8_lossy(&log.lock().expect("log")).into_owned()
}

/// The writer behind [`warnings`].
struct Capture(Arc<StdMutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A current-thread tokio runtime, as an application may run.
pub(crate) fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// `n` uncontended lock + release pairs of `mutex` on `rt`, a few milliseconds apart (so that
/// connections opening in the background get their turn).
pub(crate) fn pairs_on(rt: &tokio::runtime::Runtime, mutex: &redis_mutex::Mutex, n: usize) {
    rt.block_on(async {
        for _ in 0..n {
            mutex.lock().await.unwrap().release().await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}
