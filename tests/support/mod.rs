//! A throwaway `redis-server` for tests, examples and benches.
//!
//! Include it with `mod support;` from `tests/*.rs`, or with
//! `#[path = "../tests/support/mod.rs"] mod support;` from `examples/` and `benches/`.
//! It needs only `std` and the `redis` crate (for readiness checks and [`RedisServer::raw`]).
//!
//! ```ignore
//! let server = support::RedisServer::start();            // free 127.0.0.1 port
//! let url = server.url();                                 // "redis://127.0.0.1:PORT/"
//! let server = support::RedisServer::builder()
//!     .password("pw")
//!     .unix_socket(true)
//!     .start();                                           // url(): "redis+unix:///...?pass=pw"
//! let shared = support::shared();                         // one server per test binary
//! let server = support::RedisServer::builder().tls(true).start();
//! let url = server.url();                                 // "rediss://127.0.0.1:PORT/"
//! let ca = server.tls_ca().unwrap().cert_pem();           // the CA that signed its certificate
//! ```
//!
//! A TLS server (`.tls(true)`) listens on its TLS port only (`--port 0`), with a certificate
//! for `127.0.0.1` and `localhost` signed by a fresh [`TestCa`] in its temp dir; certificates
//! are made with the `openssl` command-line tool (`scripts/install-deps` installs it). Checking
//! that it answers, and [`RedisServer::raw`], need the suite's `tls` feature (rustls in redis).
//!
//! Each server gets its own temporary directory, runs without persistence
//! (`--save "" --appendonly no`), and is killed (and waited for) when dropped, also while a
//! panic unwinds. The binary is `$REDIS_SERVER_BIN`, else `redis-server` from `PATH`.
//!
//! # Why hand-written
//!
//! The published crate closest to this, `redis-test` (from the redis-rs repository), starts a
//! `redis-server` on a random port (TCP, unix socket or TLS, picked by `REDISRS_SERVER_TYPE` or its
//! builder), waits for it through its `TestContext`, and kills it on drop. It has no password
//! option (a config file, or the extra-arguments hook of its 2.0 release candidate, could pass
//! one), and none of what the fault and liveness tests need: retrying a port lost to a race,
//! pausing and resuming the process (`SIGSTOP`/`SIGCONT`), restarting it in place with the same
//! options (it can only start a new server on a given address), a server shared by a test binary
//! and killed at exit, the URL of each address form (with its password) that the crate under test
//! accepts. Other helpers found run Redis in Docker (testcontainers) or from a config file only
//! (`embedded_redis_client`). So this harness stays, with no dependency beyond `redis`.
//!
//! # Limitation: the child outlives a killed test process
//!
//! Nothing ties the `redis-server` child to the test process at the OS level (no
//! `PR_SET_PDEATHSIG`, no watchdog shell). On a normal exit, servers still alive (such as the
//! one behind [`shared`], which lives in a `static` and is never dropped) are killed by an
//! `atexit` hook. If the test process is killed by a signal (`SIGKILL`, Ctrl-C), its servers
//! keep running on their loopback ports until killed by hand; `pgrep -af redis-mutex-test`
//! lists them (their `--dir` is a temp dir named `redis-mutex-test-*`).

#![allow(dead_code)]

pub(crate) mod sentinel;

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, ErrorKind};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Once, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod cluster;
#[allow(unused_imports)]
pub(crate) use cluster::RedisCluster;

/// How long [`RedisServer::start`] and [`RedisServer::restart`] wait for the server to answer
/// `PING`.
pub(crate) const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Read/write timeout of the connections returned by [`RedisServer::raw`], so a test talking
/// to a paused server fails instead of hanging.
pub(crate) const RAW_TIMEOUT: Duration = Duration::from_secs(5);

/// The environment variable naming the `redis-server` binary to run.
pub(crate) const SERVER_BIN_ENV: &str = "REDIS_SERVER_BIN";

/// How many times a first start picks a new port after losing a race for the previous one.
const PORT_ATTEMPTS: usize = 8;

/// One `redis-server` shared by every test of the calling test binary.
///
/// Started on first use, never stopped by the tests (the type only hands out `&RedisServer`,
/// so `stop`/`restart` are out of reach), killed at process exit. Do not `pause()` it: other
/// tests of the binary run against it in parallel. Tests that stop, restart or pause their
/// server start their own with [`RedisServer::start`].
pub(crate) fn shared() -> &'static RedisServer {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(RedisServer::start)
}

/// A TCP port on 127.0.0.1 that was free a moment ago and that this process has not handed out
/// before (so a stopped server's port is never given to another server of the same process).
///
/// Nothing listens on it when this returns, which also makes it a good "closed port" for
/// unreachable-server tests.
pub(crate) fn free_port() -> u16 {
    loop {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|err| panic!("cannot bind 127.0.0.1:0 to find a free port: {err}"));
        let port = listener
            .local_addr()
            .expect("local_addr of a bound listener")
            .port();
        if lock(handed_out_ports()).insert(port) {
            return port;
        }
    }
}

/// A name unique within this machine for the lifetime of the process: `tag-PID-N-NANOS`.
///
/// Handy for lock names and counter keys, since tests of one binary run in parallel against
/// the same server.
pub(crate) fn unique(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{tag}-{}-{n}-{nanos}", std::process::id())
}

/// Options for [`RedisServer`]; see [`RedisServer::builder`].
#[derive(Debug, Clone, Default)]
pub(crate) struct RedisServerBuilder {
    password: Option<String>,
    unix_socket: bool,
    tls: bool,
    /// The certificate and key (PEM) of the CA to sign a TLS server's certificate with,
    /// instead of a fresh one.
    tls_issuer: Option<(Vec<u8>, Vec<u8>)>,
    port: Option<u16>,
    extra_args: Vec<String>,
    /// Run as a sentinel with this configuration file.
    sentinel_config: Option<String>,
}

impl RedisServerBuilder {
    /// Require this password (`--requirepass`); [`RedisServer::url`] then carries it.
    pub(crate) fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Also listen on a unix socket in the server's temp dir, and make
    /// [`RedisServer::url`] a `redis+unix://` URL (the TCP port stays open too; see
    /// [`RedisServer::tcp_url`]).
    pub(crate) fn unix_socket(mut self, yes: bool) -> Self {
        self.unix_socket = yes;
        self
    }

    /// Speak TLS only: the port is a `--tls-port` (plain TCP is off), with a certificate for
    /// `127.0.0.1` and `localhost` signed by a fresh [`TestCa`] (see [`RedisServer::tls_ca`]);
    /// [`RedisServer::url`] is then a `rediss://` URL. Clients are not asked for certificates.
    pub(crate) fn tls(mut self, yes: bool) -> Self {
        self.tls = yes;
        self
    }

    /// As [`tls`](Self::tls), with the server's certificate signed by `ca` instead of a fresh
    /// CA: for servers that speak TLS to each other (the nodes of a cluster), or that one
    /// client trusts together. The server gets a copy of the CA in its own temp dir.
    pub(crate) fn tls_signed_by(mut self, ca: &TestCa) -> Self {
        self.tls = true;
        self.tls_issuer = Some(ca.issuer());
        self
    }

    /// Listen on this port instead of a free one (no retry if it is taken).
    pub(crate) fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Start as a replica of the server on 127.0.0.1:`port` (`--replicaof`). Readiness is
    /// `PING`, as for a master: wait for the initial sync yourself when a test needs it.
    pub(crate) fn replica_of(self, port: u16) -> Self {
        self.arg("--replicaof")
            .arg("127.0.0.1")
            .arg(port.to_string())
    }

    /// Run as a sentinel (`redis-server sentinel.conf --sentinel`) whose configuration file (in
    /// its temp dir, rewritten by Sentinel as it learns) starts as `config`, e.g. the lines of
    /// [`sentinel::config`]. A sentinel has no data set; [`RedisServer::raw`] talks to it.
    pub(crate) fn sentinel(mut self, config: impl Into<String>) -> Self {
        self.sentinel_config = Some(config.into());
        self
    }

    /// Pass one more `redis-server` argument, e.g. `.arg("--maxmemory").arg("1mb")`.
    pub(crate) fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Start the server and wait until it answers `PING`.
    ///
    /// # Panics
    ///
    /// If `redis-server` cannot be found or run, or does not answer within
    /// [`STARTUP_TIMEOUT`]; the message includes the tail of the server's log.
    pub(crate) fn start(self) -> RedisServer {
        let dir = make_temp_dir();
        let socket = self.unix_socket.then(|| dir.join("redis.sock"));
        if let Some(socket) = &socket {
            // sun_path is 108 bytes on Linux, 104 on macOS.
            assert!(
                socket.as_os_str().len() < 100,
                "unix socket path {} is too long; set TMPDIR to a shorter directory",
                socket.display()
            );
        }
        let tls = self
            .tls
            .then(|| TestCa::create(dir.join("tls"), self.tls_issuer.as_ref()));
        let fixed_port = self.port.is_some();
        let mut server = RedisServer {
            port: self.port.unwrap_or_else(free_port),
            child: None,
            dir,
            socket,
            tls,
            options: self,
        };
        let attempts = if fixed_port { 1 } else { PORT_ATTEMPTS };
        for attempt in 1..=attempts {
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(StartError::PortTaken) if attempt < attempts => {
                    server.port = free_port();
                }
                Err(err) => panic!("{}", server.describe_failure(&err)),
            }
        }
        unreachable!("the last attempt returns or panics")
    }
}

/// A running `redis-server` on 127.0.0.1, killed when dropped.
pub(crate) struct RedisServer {
    port: u16,
    child: Option<Child>,
    dir: PathBuf,
    socket: Option<PathBuf>,
    /// The CA that signed the server's certificate, when it speaks TLS.
    tls: Option<TestCa>,
    options: RedisServerBuilder,
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisServer")
            .field("port", &self.port)
            .field("pid", &self.pid())
            .field("dir", &self.dir)
            .field("unix_socket", &self.socket)
            .field("tls", &self.tls.is_some())
            .field("password", &self.options.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl RedisServer {
    /// Start a server on a free 127.0.0.1 port, without password or unix socket.
    ///
    /// # Panics
    ///
    /// See [`RedisServerBuilder::start`].
    pub(crate) fn start() -> Self {
        Self::builder().start()
    }

    /// Options: password, unix socket, fixed port, extra arguments.
    pub(crate) fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// The URL clients should use: `redis+unix:///DIR/redis.sock` (with `?pass=PW`) when
    /// started with a unix socket, else the same as [`tcp_url`](Self::tcp_url).
    pub(crate) fn url(&self) -> String {
        match &self.socket {
            Some(socket) => {
                let mut url = format!("redis+unix://{}", encode_path(socket));
                if let Some(pw) = &self.options.password {
                    url.push_str("?pass=");
                    url.push_str(&encode_component(pw));
                }
                url
            }
            None => self.tcp_url(),
        }
    }

    /// `redis://127.0.0.1:PORT/`, or `redis://:PW@127.0.0.1:PORT/` with a password
    /// (`rediss://` for a TLS server).
    pub(crate) fn tcp_url(&self) -> String {
        let scheme = self.scheme();
        match &self.options.password {
            Some(pw) => format!(
                "{scheme}://:{}@127.0.0.1:{}/",
                encode_component(pw),
                self.port
            ),
            None => self.url_without_password(),
        }
    }

    /// The TCP URL without the password, e.g. to test authentication failures.
    pub(crate) fn url_without_password(&self) -> String {
        format!("{}://127.0.0.1:{}/", self.scheme(), self.port)
    }

    /// The CA that signed the certificate of a TLS server ([`RedisServerBuilder::tls`]).
    pub(crate) fn tls_ca(&self) -> Option<&TestCa> {
        self.tls.as_ref()
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        }
    }

    /// A `redis` client of [`tcp_url`](Self::tcp_url) that trusts the server's CA when it
    /// speaks TLS.
    fn redis_client(&self) -> redis::RedisResult<redis::Client> {
        match &self.tls {
            None => redis::Client::open(self.tcp_url()),
            #[cfg(feature = "tls")]
            Some(ca) => redis::Client::build_with_tls(
                self.tcp_url(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.cert_pem()),
                },
            ),
            #[cfg(not(feature = "tls"))]
            Some(_) => Err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "talking to a TLS test server needs the suite's `tls` feature",
            ))),
        }
    }

    /// The TCP port; it stays the same across [`stop`](Self::stop) and
    /// [`restart`](Self::restart).
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, as error messages name it.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The unix socket path, if started with one.
    pub(crate) fn unix_socket_path(&self) -> Option<&Path> {
        self.socket.as_deref()
    }

    /// The server's temp directory (working dir, log, socket).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The process id, or `None` while stopped.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is running (possibly paused).
    pub(crate) fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kill the server and wait for it to exit. The port is kept for
    /// [`restart`](Self::restart); connections to it are refused meanwhile. No-op if stopped.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }

    /// Start again (stopping first if running) on the same port with the same options, and
    /// wait until it answers `PING`. The data set starts empty: there is no persistence.
    ///
    /// # Panics
    ///
    /// If the server does not come back within [`STARTUP_TIMEOUT`] (e.g. something else took
    /// the port meanwhile).
    pub(crate) fn restart(&mut self) {
        self.stop();
        // A just-killed listener may linger for a moment; redis sets SO_REUSEADDR, so this is
        // only a guard against slow teardown.
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(StartError::PortTaken) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(100));
                }
                Err(err) => panic!("{}", self.describe_failure(&err)),
            }
        }
    }

    /// Freeze the server (`SIGSTOP`): connections stay open but nothing answers, as with a
    /// hung server or a network partition. Undo with [`resume`](Self::resume); dropping a
    /// paused server is fine.
    ///
    /// # Panics
    ///
    /// If the server is stopped or `kill` fails.
    pub(crate) fn pause(&self) {
        self.signal("-STOP");
    }

    /// Continue a [`pause`](Self::pause)d server (`SIGCONT`).
    ///
    /// # Panics
    ///
    /// If the server is stopped or `kill` fails.
    pub(crate) fn resume(&self) {
        self.signal("-CONT");
    }

    /// A new synchronous connection (over TCP, authenticated when there is a password) for raw
    /// commands, with [`RAW_TIMEOUT`] read/write timeouts.
    ///
    /// # Panics
    ///
    /// If the server cannot be reached.
    pub(crate) fn raw(&self) -> redis::Connection {
        let con = self
            .redis_client()
            .and_then(|client| client.get_connection_with_timeout(RAW_TIMEOUT))
            .unwrap_or_else(|err| panic!("cannot connect to test redis at {}: {err}", self.addr()));
        con.set_read_timeout(Some(RAW_TIMEOUT))
            .and_then(|()| con.set_write_timeout(Some(RAW_TIMEOUT)))
            .expect("set timeouts on a raw connection");
        con
    }

    /// All keys matching `pattern` (via `SCAN`, sorted), e.g. `keys("MUTEX_*")`.
    ///
    /// # Panics
    ///
    /// If the server cannot be reached.
    pub(crate) fn keys(&self, pattern: &str) -> Vec<String> {
        let mut con = self.raw();
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut con)
                .unwrap_or_else(|err| panic!("SCAN {pattern} on {}: {err}", self.addr()));
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// The tail of the server's log (stdout and stderr), for failure messages.
    pub(crate) fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn signal(&self, signal: &str) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("test redis on port {} is stopped", self.port));
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .unwrap_or_else(|err| panic!("cannot run `kill {signal} {pid}`: {err}"));
        assert!(status.success(), "`kill {signal} {pid}` failed: {status}");
    }

    fn args(&self) -> Vec<String> {
        let (port, tls_port) = match self.tls {
            Some(_) => ("0".to_owned(), Some(self.port.to_string())),
            None => (self.port.to_string(), None),
        };
        let mut args: Vec<String> = [
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            "",
            "--loglevel",
            "warning",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        if self.options.sentinel_config.is_some() {
            // The configuration file must come first.
            let config = self.dir.join("sentinel.conf").display().to_string();
            args.splice(0..0, [config, "--sentinel".to_owned()]);
        }
        args.push("--dir".into());
        args.push(self.dir.display().to_string());
        if let Some(pw) = &self.options.password {
            args.push("--requirepass".into());
            args.push(pw.clone());
        }
        if let (Some(ca), Some(tls_port)) = (&self.tls, tls_port) {
            args.push("--tls-port".into());
            args.push(tls_port);
            for (option, path) in [
                ("--tls-cert-file", ca.dir.join("server.crt")),
                ("--tls-key-file", ca.dir.join("server.key")),
                ("--tls-ca-cert-file", ca.cert_path()),
            ] {
                args.push(option.into());
                args.push(path.display().to_string());
            }
            args.push("--tls-auth-clients".into());
            args.push("no".into());
        }
        if let Some(socket) = &self.socket {
            args.push("--unixsocket".into());
            args.push(socket.display().to_string());
            args.push("--unixsocketperm".into());
            args.push("700".into());
        }
        args.extend(self.options.extra_args.iter().cloned());
        args
    }

    fn spawn_and_wait(&mut self) -> Result<(), StartError> {
        let bin = server_bin();
        let log_path = self.dir.join("redis.log");
        let log = File::create(&log_path).map_err(StartError::Io)?;
        let log_err = log.try_clone().map_err(StartError::Io)?;
        if let Some(socket) = &self.socket {
            let _ = fs::remove_file(socket);
        }
        let config = self.dir.join("sentinel.conf");
        if let Some(text) = &self.options.sentinel_config
            && !config.exists()
        {
            fs::write(&config, text).map_err(StartError::Io)?;
        }
        let child = Command::new(&bin)
            .args(self.args())
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|err| match err.kind() {
                ErrorKind::NotFound => StartError::NotFound(bin.clone()),
                _ => StartError::Spawn(bin.clone(), err),
            })?;
        register_live(child.id(), &self.dir);
        self.child = Some(child);
        match self.wait_ready() {
            Ok(()) => Ok(()),
            Err(err) => {
                self.stop();
                Err(err)
            }
        }
    }

    fn wait_ready(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let client = self.redis_client().map_err(StartError::Redis)?;
        loop {
            let child = self.child.as_mut().expect("spawned");
            let pid = child.id();
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                unregister_live(pid);
                return Err(if self.log_tail().contains("Address already in use") {
                    StartError::PortTaken
                } else {
                    StartError::Exited(status.to_string())
                });
            }
            let last_error = match ping(&client, pid) {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            if Instant::now() >= deadline {
                return Err(StartError::NotReady(last_error));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn describe_failure(&self, err: &StartError) -> String {
        let what = match err {
            StartError::NotFound(bin) => {
                return format!(
                    "`{bin}` not found: the tests need redis-server. Run `scripts/install-deps` \
                     (installs the Debian package redis-server), or set {SERVER_BIN_ENV} to the \
                     path of a redis-server binary"
                );
            }
            StartError::Spawn(bin, err) => format!("cannot run `{bin}`: {err}"),
            StartError::Io(err) => format!("cannot create the log file: {err}"),
            StartError::Redis(err) => format!("bad URL {}: {err}", self.tcp_url()),
            StartError::PortTaken => format!("port {} stayed in use", self.port),
            StartError::Exited(status) => format!("redis-server exited early ({status})"),
            StartError::NotReady(last) => format!(
                "redis-server did not answer PING within {STARTUP_TIMEOUT:?} (last error: {last})"
            ),
        };
        format!(
            "test redis-server on 127.0.0.1:{} failed to start: {what}\n--- log tail ({}) ---\n{}",
            self.port,
            self.dir.join("redis.log").display(),
            self.log_tail()
        )
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

enum StartError {
    NotFound(String),
    Spawn(String, io::Error),
    Io(io::Error),
    Redis(redis::RedisError),
    PortTaken,
    Exited(String),
    NotReady(String),
}

/// `PING`, and check the answer comes from our child (`INFO server` `process_id`), not from
/// some other server that won a race for the port.
fn ping(client: &redis::Client, pid: u32) -> Result<(), String> {
    let mut con = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .map_err(|err| err.to_string())?;
    con.set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|err| err.to_string())?;
    let pong: String = redis::cmd("PING")
        .query(&mut con)
        .map_err(|err| err.to_string())?;
    if pong != "PONG" {
        return Err(format!("PING answered {pong:?}"));
    }
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query(&mut con)
        .map_err(|err| err.to_string())?;
    let theirs = info
        .lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .map(str::trim);
    if theirs == Some(pid.to_string().as_str()) {
        Ok(())
    } else {
        Err(format!(
            "another server (pid {theirs:?}) answers on this port"
        ))
    }
}

fn server_bin() -> String {
    std::env::var(SERVER_BIN_ENV)
        .ok()
        .filter(|bin| !bin.is_empty())
        .unwrap_or_else(|| "redis-server".to_owned())
}

fn make_temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("redis-mutex-test"));
    fs::create_dir_all(&dir)
        .unwrap_or_else(|err| panic!("cannot create temp dir {}: {err}", dir.display()));
    dir
}

fn kill_and_reap(child: &mut Child) {
    // SIGKILL also ends a SIGSTOPped process.
    let _ = child.kill();
    let _ = child.wait();
    unregister_live(child.id());
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn handed_out_ports() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(Mutex::default)
}

/// Servers still running, by pid, with their temp dirs: what the `atexit` hook cleans up.
fn live_servers() -> &'static Mutex<Vec<(u32, PathBuf)>> {
    static LIVE: Mutex<Vec<(u32, PathBuf)>> = Mutex::new(Vec::new());
    &LIVE
}

fn register_live(pid: u32, dir: &Path) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // SAFETY: `atexit` is the C library's; the hook is a plain `extern "C" fn` that never
        // unwinds (it catches panics) and touches only process-wide state that outlives it.
        unsafe {
            atexit(kill_live_servers_at_exit);
        }
    });
    lock(live_servers()).push((pid, dir.to_path_buf()));
}

fn unregister_live(pid: u32) {
    lock(live_servers()).retain(|(live, _)| *live != pid);
}

unsafe extern "C" {
    fn atexit(hook: extern "C" fn()) -> std::os::raw::c_int;
}

extern "C" fn kill_live_servers_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let live = std::mem::take(&mut *lock(live_servers()));
        for (pid, dir) in live {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = fs::remove_dir_all(dir);
        }
    });
}

/// A throwaway certificate authority made with the `openssl` command-line tool in a directory
/// of its own: `ca.crt` and `ca.key`, plus `server.crt` and `server.key`, a certificate for
/// `127.0.0.1` and `localhost` (for servers, and for clients too) that it signed. The directory is removed when dropped.
pub(crate) struct TestCa {
    dir: PathBuf,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa").field("dir", &self.dir).finish()
    }
}

impl TestCa {
    /// A new CA (and server certificate) in a fresh temp dir, e.g. one a client trusts while
    /// the server's certificate was signed by another.
    ///
    /// # Panics
    ///
    /// If `openssl` cannot be run or fails; the message includes its output.
    pub(crate) fn new() -> Self {
        Self::create(make_temp_dir(), None)
    }

    /// A CA in `dir`: a copy of `issuer` (its certificate and key, PEM) when given, else a
    /// fresh one; with a server certificate it signed.
    fn create(dir: PathBuf, issuer: Option<&(Vec<u8>, Vec<u8>)>) -> Self {
        fs::create_dir_all(&dir)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
        let ca = TestCa { dir };
        let ec_key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        match issuer {
            Some((cert, key)) => {
                for (file, pem) in [("ca.crt", cert), ("ca.key", key)] {
                    let path = ca.dir.join(file);
                    fs::write(&path, pem)
                        .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
                }
            }
            None => ca.create_authority(&ec_key),
        }
        ca.issue_server_certificate(&ec_key);
        ca
    }

    /// A fresh self-signed CA: `ca.crt` and `ca.key`.
    fn create_authority(&self, ec_key: &[&str]) {
        self.openssl(
            &["req", "-x509"],
            ec_key,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                &format!("/CN={}", unique("redis-mutex test CA")),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
    }

    /// `server.crt` and `server.key`, for `127.0.0.1` and `localhost`, signed by the CA.
    fn issue_server_certificate(&self, ec_key: &[&str]) {
        let ca = self;
        ca.openssl(
            &["req"],
            ec_key,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        // Client authentication too: the nodes of a cluster show theirs to each other on the
        // cluster bus, which always asks for a client certificate.
        let extensions = "basicConstraints=CA:FALSE\n\
                          keyUsage=critical,digitalSignature\n\
                          extendedKeyUsage=serverAuth,clientAuth\n\
                          subjectAltName=IP:127.0.0.1,DNS:localhost\n";
        fs::write(ca.dir.join("server.ext"), extensions)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", ca.dir.display()));
        ca.openssl(
            &["x509", "-req"],
            &[],
            &[
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
    }

    /// The CA's certificate and key (PEM), to sign other servers' certificates with.
    fn issuer(&self) -> (Vec<u8>, Vec<u8>) {
        let key = self.dir.join("ca.key");
        let key =
            fs::read(&key).unwrap_or_else(|err| panic!("cannot read {}: {err}", key.display()));
        (self.cert_pem(), key)
    }

    /// The CA's certificate, PEM, as a client should trust it.
    pub(crate) fn cert_pem(&self) -> Vec<u8> {
        let path = self.cert_path();
        fs::read(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
    }

    /// The certificate (for `127.0.0.1` and `localhost`) and key the CA made for a server, e.g.
    /// for another process that must speak TLS with the same CA (a sentinel).
    pub(crate) fn server_cert_and_key(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("server.crt"), self.dir.join("server.key"))
    }

    /// The path of the CA's certificate (`ca.crt`).
    pub(crate) fn cert_path(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    fn openssl(&self, command: &[&str], key: &[&str], args: &[&str]) {
        let output = Command::new("openssl")
            .args(command)
            .args(key)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot run `openssl` to make test certificates: {err}; TLS tests need the \
                     openssl command-line tool (`scripts/install-deps` installs the Debian \
                     package openssl)"
                )
            });
        assert!(
            output.status.success(),
            "`openssl {}` failed ({}) in {}:\n{}",
            command.join(" "),
            output.status,
            self.dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters (for the password).
fn encode_component(raw: &str) -> String {
    encode(raw, |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Percent-encode a filesystem path for a `redis+unix://` URL, keeping `/`.
fn encode_path(path: &Path) -> String {
    encode(&path.display().to_string(), |b| {
        b.is_ascii_alphanumeric() || b"-._~/".contains(&b)
    })
}

fn encode(raw: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
