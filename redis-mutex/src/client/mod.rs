//! [`Client`]: which server, which key prefix, which defaults; the per-URL connection cache.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;
use crate::backend::redlock;
use crate::backend::sentinel::ReplicaAcks;
use crate::backend::single::ConnectionSettings;
use crate::error::{Error, Result};
use crate::lock::Mutex;
use crate::names::IntoLockNames;
use crate::protocol;
use crate::queue::LocalQueues;

mod open;
use open::{ServerKey, cached_server, check_sentinel_options};
mod redact;
mod sentinel_url;
#[cfg(feature = "tls")]
mod tls;

pub(crate) use redact::redact;

/// The longest [`ClientBuilder::max_poll_interval`] accepted.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// The URL used when neither `REDIS_MUTEX_URL` nor `REDIS_URL` is set.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379/";

/// A handle to a Redis server plus lock defaults. Cheap to clone.
///
/// Connections are shared per server URL across the whole process: opening the same URL twice,
/// even with different prefixes or defaults, reuses one multiplexed command connection (which
/// reconnects by itself after a drop) and one subscriber connection. Nothing connects until the
/// first lock operation, and I/O runs on the crate's own runtime thread or on connections of the
/// caller's runtime or thread (see the crate docs' Architecture), so a `Client` can be
/// created anywhere and used from any thread, task or executor.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use redis_mutex::Client;
///
/// let client = Client::builder("redis://127.0.0.1:6379/")
///     .prefix("myapp:lock:")
///     .ttl(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(client.prefix(), "myapp:lock:");
/// # Ok::<(), redis_mutex::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) server: Arc<Server>,
    pub(crate) options: Arc<Options>,
}

/// What a [`Client`] shares with every other client of the same server.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) backend: Box<dyn Backend>,
    pub(crate) queues: LocalQueues,
}

/// Lock defaults of one [`Client`].
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) prefix: String,
    pub(crate) ttl: Duration,
    pub(crate) wait: Option<Duration>,
    pub(crate) max_poll_interval: Duration,
    pub(crate) local_queue: bool,
    pub(crate) renewal: bool,
    pub(crate) fencing: bool,
}

impl Client {
    /// A client for `url` with default options (see [`ClientBuilder`]).
    ///
    /// Accepts `redis://[user:password@]host[:port][/db]`, `rediss://…` (feature `tls`),
    /// `redis+unix:///path/to/socket[?db=N&pass=…]`, for a master watched by Redis Sentinel
    /// `redis+sentinel://[user:password@]host:port[,host:port…]/<master-name>[/<db>]`
    /// (`rediss+sentinel://…` with TLS; see [the crate docs](crate#redis-sentinel)), for a Redis
    /// Cluster `redis+cluster://[user:password@]host:port[,host:port…]` (its seed nodes;
    /// `rediss+cluster://…` with the feature `tls`; see the crate docs' Redis Cluster), and for
    /// [Redlock](crate#redlock-over-independent-masters) over independent masters
    /// `redis+redlock://[user:password@]host:port,host:port,host:port[,…][/db]` (at least
    /// three; `rediss+redlock://` with feature `tls`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] when `url` cannot be parsed. Connection problems surface on the
    /// first lock operation instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = redis_mutex::Client::open("redis://127.0.0.1:6379/")?;
    /// # Ok::<(), redis_mutex::Error>(())
    /// ```
    pub fn open(url: &str) -> Result<Client> {
        Client::builder(url).build()
    }

    /// A client for the URL in `REDIS_MUTEX_URL`, else `REDIS_URL`, else [`DEFAULT_URL`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] when the chosen URL cannot be parsed.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = redis_mutex::Client::from_env()?;
    /// # Ok::<(), redis_mutex::Error>(())
    /// ```
    pub fn from_env() -> Result<Client> {
        Client::open(&url_from_env())
    }

    /// A builder for a client of `url` with non-default options.
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            settings: ConnectionSettings {
                connect_timeout: Duration::from_secs(2),
                response_timeout: Duration::from_secs(2),
            },
            tls_roots: None,
            sentinel: SentinelOptions::default(),
            node_timeout: redlock::DEFAULT_NODE_TIMEOUT,
            node_credentials: Vec::new(),
            options: Options {
                prefix: protocol::DEFAULT_PREFIX.to_owned(),
                ttl: protocol::DEFAULT_TTL,
                wait: None,
                max_poll_interval: Duration::from_millis(500),
                local_queue: true,
                renewal: true,
                fencing: false,
            },
        }
    }

    /// A lock on one name, or on several names taken all-or-nothing (order and duplicates do not
    /// matter). Nothing is sent to Redis until the lock is acquired.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] when there is no name or a name is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = redis_mutex::Client::open("redis://127.0.0.1/")?;
    /// let orders = client.mutex("orders")?;
    /// let transfer = client.mutex(["account:1", "account:2"])?;
    /// assert_eq!(transfer.keys(), ["MUTEX_account:1", "MUTEX_account:2"]);
    /// # Ok::<(), redis_mutex::Error>(())
    /// ```
    pub fn mutex(&self, names: impl IntoLockNames) -> Result<Mutex> {
        Mutex::new(self.clone(), names)
    }

    /// The same server and defaults with another key prefix. Shares the connections.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = redis_mutex::Client::open("redis://127.0.0.1/")?;
    /// let app = client.with_prefix("app:lock:");
    /// assert_eq!(app.mutex("jobs")?.keys(), ["app:lock:jobs"]);
    /// # Ok::<(), redis_mutex::Error>(())
    /// ```
    pub fn with_prefix(&self, prefix: impl Into<String>) -> Client {
        let mut options = Options::clone(&self.options);
        options.prefix = prefix.into();
        Client {
            server: self.server.clone(),
            options: Arc::new(options),
        }
    }

    /// The blocking twin of this client, sharing its connections.
    pub fn blocking(&self) -> crate::blocking::Client {
        crate::blocking::Client::from(self.clone())
    }

    /// The server address, with any password replaced by `***`.
    pub fn server(&self) -> &str {
        self.server.backend.server()
    }

    /// The prefix put in front of every lock name to make its Redis key.
    pub fn prefix(&self) -> &str {
        &self.options.prefix
    }

    /// The default lease time to live of this client's locks.
    pub fn ttl(&self) -> Duration {
        self.options.ttl
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server())
            .field("prefix", &self.options.prefix)
            .field("ttl", &self.options.ttl)
            .field("wait", &self.options.wait)
            .field("renewal", &self.options.renewal)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Client`]. Created by [`Client::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let client = redis_mutex::Client::builder("redis://127.0.0.1/")
///     .prefix("MUTEX_")                                // the default, the Python original's
///     .ttl(Duration::from_secs(30))                    // the default lease
///     .wait(Some(Duration::from_secs(5)))              // `lock()` gives up after 5 s
///     .connect_timeout(Duration::from_secs(1))
///     .build()?;
/// # Ok::<(), redis_mutex::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct ClientBuilder {
    url: String,
    settings: ConnectionSettings,
    /// PEM certificates that replace the system's TLS roots (feature `tls`).
    tls_roots: Option<TlsRoots>,
    sentinel: SentinelOptions,
    /// Redlock's per-master timeout of an attempt.
    node_timeout: Duration,
    /// Redlock masters' own credentials.
    node_credentials: Vec<NodeCredentials>,
    options: Options,
}

/// One Redlock master's own user and password ([`ClientBuilder::node_credentials`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct NodeCredentials {
    /// As given: `host:port` or `host`.
    addr: String,
    username: String,
    password: Secret,
}

/// What a `redis+sentinel://` URL cannot say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct SentinelOptions {
    username: Option<String>,
    password: Option<Secret>,
    replica_acks: Option<ReplicaAcks>,
}

/// A password, shown in `Debug` as `***`.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// PEM root certificates, shown in `Debug` by size only.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
#[derive(Clone, PartialEq, Eq, Hash)]
struct TlsRoots(Vec<u8>);

impl fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsRoots({} bytes of PEM)", self.0.len())
    }
}

impl ClientBuilder {
    /// The key prefix (default `MUTEX_`, the Python original's, so both exclude each other).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.options.prefix = prefix.into();
        self
    }

    /// The default lease (default 30 s). A holder that crashes frees its locks this long after
    /// its last renewal.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.options.ttl = ttl;
        self
    }

    /// How long [`Mutex::lock`] waits before giving up with [`Error::Timeout`] (default `None`:
    /// forever, as the Python original).
    pub fn wait(mut self, wait: Option<Duration>) -> Self {
        self.options.wait = wait;
        self
    }

    /// How long connecting to Redis may take (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long a reply from Redis may take (default 2 s).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.settings.response_timeout = timeout;
        self
    }

    /// The longest a waiter sleeps between two attempts when no notification comes (default
    /// 500 ms, at most 24 h). Waiters wake on a hand-over or release notification, or when the holder's lease
    /// runs out; besides, every waiter re-runs its (cheap, one-script) attempt at least this
    /// often, also while notifications work, as a safety net: it refreshes its place in the
    /// queue, and it notices a hand-over whose notification was lost or one whose grantee died.
    ///
    /// A waiter's place in the queue lapses 3 times this (at least 1 s) after its last attempt,
    /// and a hand-over to a waiter that died holds the lock up for as long.
    pub fn max_poll_interval(mut self, interval: Duration) -> Self {
        self.options.max_poll_interval = interval;
        self
    }

    /// Whether waiters of one process queue locally, first come first served, so that only one
    /// of them at a time contends in Redis (default `true`).
    pub fn local_queue(mut self, enabled: bool) -> Self {
        self.options.local_queue = enabled;
        self
    }

    /// Whether guards renew their lease automatically, every third of the TTL (default `true`).
    pub fn renewal(mut self, enabled: bool) -> Self {
        self.options.renewal = enabled;
        self
    }

    /// How long an acquisition attempt waits for each master of a `redis+redlock://` URL
    /// (default 50 ms; ignored for one server). A master that does not answer in time counts as
    /// not taken, so one slow or unreachable master does not hold up the others: the lock is
    /// taken when a majority answered in time. Keep it well below the TTL; it is also the
    /// bound of each master's part in a release, a renewal or a read.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = redis_mutex::Client::builder("redis+redlock://a:6379,b:6379,c:6379")
    ///     .node_timeout(Duration::from_millis(20))
    ///     .build()?;
    /// # Ok::<(), redis_mutex::Error>(())
    /// ```
    pub fn node_timeout(mut self, timeout: Duration) -> Self {
        self.node_timeout = timeout;
        self
    }

    /// The user and password of one Redlock master, `addr` (`host:port` as the
    /// `redis+redlock://` URL lists it), when it does not share the URL's `user:password@`
    /// (independent masters, independently run, may not). The other masters keep the URL's.
    /// A master that refuses the credentials counts as not answering, and a quorum that fails
    /// for it reports the refusal ([`Error::Refused`]). Use `"default"` as `username` for a
    /// server with a `requirepass` password only.
    ///
    /// # Errors
    ///
    /// [`build`](Self::build) returns [`Error::InvalidConfig`] when the URL is not a
    /// `redis+redlock://` URL, when `addr` is not one of its masters, or when a master is
    /// given credentials twice.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = redis_mutex::Client::builder("redis+redlock://:pw@10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379")
    ///     .node_credentials("10.0.0.3:6379", "locks", "another-pw")
    ///     .build()?;
    /// # Ok::<(), redis_mutex::Error>(())
    /// ```
    pub fn node_credentials(
        mut self,
        addr: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.node_credentials.push(NodeCredentials {
            addr: addr.into(),
            username: username.into(),
            password: Secret(password.into()),
        });
        self
    }

    /// Whether acquisitions hand out fencing tokens by default (default `false`; not offered
    /// on Redlock, where [`build`](Self::build) refuses it).
    pub fn fencing(mut self, enabled: bool) -> Self {
        self.options.fencing = enabled;
        self
    }

    /// Trusts the certificate authorities in `pem` (one or more PEM `CERTIFICATE` blocks)
    /// instead of the system's roots, for a `rediss://` server whose certificate a private CA
    /// signed. Clients of the same URL with other roots never share its connections.
    ///
    /// Without this, `rediss://` connections trust the operating system's roots. A server whose
    /// certificate is not signed by a trusted root (or does not name the host of the URL) is
    /// refused at the first lock operation with [`Error::Unreachable`], whose message says that
    /// the certificate was not accepted.
    ///
    /// # Errors
    ///
    /// [`build`](Self::build) returns [`Error::InvalidConfig`] when `pem` holds no certificate
    /// or a malformed one, or when the URL is not a `rediss://` URL.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let ca = std::fs::read("/etc/redis/tls/ca.crt")?;
    /// let client = redis_mutex::Client::builder("rediss://redis.internal:6380/")
    ///     .tls_root_certificates(ca)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_roots = Some(TlsRoots(pem.into()));
        self
    }

    /// The password the sentinels of a `redis+sentinel://` URL require (`requirepass` in their
    /// configuration). The URL's own `user:password@` is the master's (and its replicas').
    ///
    /// # Errors
    ///
    /// [`build`](Self::build) returns [`Error::InvalidConfig`] when the URL is not a
    /// `redis+sentinel://` or `rediss+sentinel://` URL.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = redis_mutex::Client::builder("redis+sentinel://:master-pw@10.0.0.1:26379/mymaster")
    ///     .sentinel_password("sentinel-pw")
    ///     .build()?;
    /// # Ok::<(), redis_mutex::Error>(())
    /// ```
    pub fn sentinel_password(mut self, password: impl Into<String>) -> Self {
        self.sentinel.password = Some(Secret(password.into()));
        self
    }

    /// The ACL user the sentinels of a `redis+sentinel://` URL are asked as, with
    /// [`sentinel_password`](Self::sentinel_password) (default: none, the `default` user).
    ///
    /// # Errors
    ///
    /// As [`sentinel_password`](Self::sentinel_password).
    pub fn sentinel_username(mut self, username: impl Into<String>) -> Self {
        self.sentinel.username = Some(username.into());
        self
    }

    /// Makes an acquisition count only once at least `replicas` replicas of the master have it
    /// (`WAIT replicas timeout` after acquiring, as Redisson does), for `redis+sentinel://`
    /// URLs. Replication is asynchronous, so without this a failover right after an
    /// acquisition can promote a replica that never saw the lock, and a second caller can then
    /// take it; with it, that needs a failover to a replica that had not acknowledged yet (Sentinel
    /// picks the replica with the most data) or the loss of the acknowledged replicas.
    ///
    /// When fewer replicas acknowledge within `timeout`, the lock is released again and the
    /// acquisition fails with [`Error::NotReplicated`] (also when the call would otherwise
    /// wait on: a failed confirmation is reported, not retried). Costs one more round trip
    /// per acquisition, plus the replicas' delay. A lock handed over by a release to a waiter
    /// is confirmed too, as soon as the release's notification arrives, before the waiter
    /// takes it.
    ///
    /// # Errors
    ///
    /// [`build`](Self::build) returns [`Error::InvalidConfig`] for zero `replicas` or a zero
    /// `timeout`, and for a URL that is not a `redis+sentinel://` or `rediss+sentinel://` URL.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let client = redis_mutex::Client::builder("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster")
    ///     .replica_acks(1, Duration::from_millis(100))
    ///     .build()?;
    /// # Ok::<(), redis_mutex::Error>(())
    /// ```
    pub fn replica_acks(mut self, replicas: u32, timeout: Duration) -> Self {
        self.sentinel.replica_acks = Some(ReplicaAcks { replicas, timeout });
        self
    }

    /// Creates the client, reusing the connections of an earlier client of the same URL,
    /// timeouts, TLS roots and Sentinel options.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for an unusable URL, [`Error::InvalidTtl`] for an unusable TTL,
    /// [`Error::InvalidConfig`] for a zero timeout or poll interval, a poll interval over 24 h,
    /// unusable TLS roots, fencing on a Redlock URL, unusable
    /// [`node_credentials`](Self::node_credentials), an unusable
    /// [`replica_acks`](Self::replica_acks), or Sentinel options on a URL that is not a
    /// Sentinel URL.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let err = redis_mutex::Client::builder("redis://127.0.0.1/")
    ///     .connect_timeout(Duration::ZERO)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.is_invalid_input());
    /// assert!(err.to_string().contains("connect_timeout"));
    /// ```
    pub fn build(self) -> Result<Client> {
        protocol::validate_ttl(self.options.ttl)?;
        for (option, value) in [
            ("connect_timeout", self.settings.connect_timeout),
            ("response_timeout", self.settings.response_timeout),
            ("max_poll_interval", self.options.max_poll_interval),
            ("node_timeout", self.node_timeout),
        ] {
            if value.is_zero() {
                return Err(Error::InvalidConfig {
                    option,
                    reason: "it must be longer than zero; e.g. `Duration::from_secs(2)`".into(),
                });
            }
        }
        if self.options.max_poll_interval > MAX_POLL_INTERVAL {
            // A waiter's queue entry lasts three poll intervals, in milliseconds of Redis time.
            return Err(Error::InvalidConfig {
                option: "max_poll_interval",
                reason: format!(
                    "it must be at most {MAX_POLL_INTERVAL:?}; waiters also wake when the lock \
                     is released or its holder's lease runs out"
                ),
            });
        }
        let is_redlock = redlock::url::is_redlock(&self.url);
        if self.options.fencing && is_redlock {
            return Err(redlock::fencing_refused());
        }
        if !self.node_credentials.is_empty() && !is_redlock {
            return Err(Error::InvalidConfig {
                option: "node_credentials",
                reason: "it applies to `redis+redlock://` URLs only; give other deployments' \
                         credentials in the URL (`redis://user:password@host:port`)"
                    .into(),
            });
        }
        check_sentinel_options(&self.url, &self.sentinel)?;
        let server = cached_server(ServerKey {
            url: self.url,
            settings: self.settings,
            tls_roots: self.tls_roots,
            sentinel: self.sentinel,
            node_timeout: self.node_timeout,
            node_credentials: self.node_credentials,
        })?;
        Ok(Client {
            server,
            options: Arc::new(self.options),
        })
    }

    /// Creates the [blocking](crate::blocking) client, as [`build`](ClientBuilder::build).
    ///
    /// # Errors
    ///
    /// As [`build`](ClientBuilder::build).
    pub fn build_blocking(self) -> Result<crate::blocking::Client> {
        self.build().map(crate::blocking::Client::from)
    }
}

/// The URL chosen by [`Client::from_env`].
pub(crate) fn url_from_env() -> String {
    ["REDIS_MUTEX_URL", "REDIS_URL"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|url| !url.is_empty()))
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

#[cfg(all(test, feature = "tls"))]
mod tls_tests {
    use super::*;

    /// Two self-signed CA certificates, only parsed here (tests/tls.rs connects).
    const CA_A: &str = "-----BEGIN CERTIFICATE-----
MIIBmTCCAT+gAwIBAgIUUZeO4w+sl3dGTbMANBlGmroBVm0wCgYIKoZIzj0EAwIw
IjEgMB4GA1UEAwwXcmVkaXMtbXV0ZXggdW5pdCB0ZXN0IGEwHhcNMjYxMTMwMDkw
NTU0WhcNMzYxMTI3MDkwNTU0WjAiMSAwHgYDVQQDDBdyZWRpcy1tdXRleCB1bml0
IHRlc3QgYTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABAjwcfGz4YwN7hrX+Ndu
d2zjzOnQs829ijcDfECzL9CrEEZL2WpIWOMTtrqK5o/8pfRgDZNB0KHtzlkmdEle
ZpOjUzBRMB0GA1UdDgQWBBQSGwOvZStYeu+SIYT0A1vPEuvzPTAfBgNVHSMEGDAW
gBQSGwOvZStYeu+SIYT0A1vPEuvzPTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49
BAMCA0gAMEUCIGjMy1A++9vEVstIYZvfpXfd+EykzWWyu1UGj/OUGZkAAiEA8pCw
DB7kNm4vPU9dcvNzp4UOQAHI4MwMHyXPs2xMCBQ=
-----END CERTIFICATE-----
";
    const CA_B: &str = "-----BEGIN CERTIFICATE-----
MIIBmDCCAT+gAwIBAgIUE0pHyMG2CxR8ayBFzueyX3zKo+gwCgYIKoZIzj0EAwIw
IjEgMB4GA1UEAwwXcmVkaXMtbXV0ZXggdW5pdCB0ZXN0IGIwHhcNMjYxMTMwMDkw
NTU0WhcNMzYxMTI3MDkwNTU0WjAiMSAwHgYDVQQDDBdyZWRpcy1tdXRleCB1bml0
IHRlc3QgYjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABC4nFSKiZPeX2O1JUT1b
N3uPHNrwoHCtwz2rA9VPWOYwVHzfOUGkITLB1nPycaeWCS1grHHkge5vxd+EN20w
JO6jUzBRMB0GA1UdDgQWBBR6FyLeTRJmqhlCCxJikTwnA1XXNDAfBgNVHSMEGDAW
gBR6FyLeTRJmqhlCCxJikTwnA1XXNDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49
BAMCA0cAMEQCID7ftwx8aYz8QZtH/p70vcSa7MeJQqCzfj/yNQRMph6LAiBDSnK3
RGJGZNGAdH4l4BHi0prrZBppxkpGx7tsOldtSA==
-----END CERTIFICATE-----
";

    fn client(url: &str, roots: Option<&str>) -> Client {
        let builder = Client::builder(url);
        match roots {
            Some(pem) => builder.tls_root_certificates(pem),
            None => builder,
        }
        .build()
        .unwrap()
    }

    #[test]
    fn roots_are_part_of_the_connection_identity() {
        let url = "rediss://127.0.0.1:1/";
        let a = client(url, Some(CA_A));
        assert!(Arc::ptr_eq(&a.server, &client(url, Some(CA_A)).server));
        for other in [client(url, Some(CA_B)), client(url, None)] {
            assert!(!Arc::ptr_eq(&a.server, &other.server));
        }
        let both = format!("{CA_A}{CA_B}");
        assert!(!Arc::ptr_eq(&a.server, &client(url, Some(&both)).server));
    }

    #[test]
    fn debug_shows_the_size_of_the_roots_only() {
        let shown = format!(
            "{:?}",
            Client::builder("rediss://h/").tls_root_certificates(CA_A)
        );
        assert!(shown.contains("bytes of PEM"), "{shown}");
        assert!(!shown.contains("BEGIN CERTIFICATE"), "{shown}");
    }
}
