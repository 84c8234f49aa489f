//! A TCP proxy on 127.0.0.1 in front of a server, with per-connection, per-direction faults.
//!
//! Each accepted connection gets its own upstream connection and two pump threads, one per
//! [`Dir`]ection. Each direction of each connection flows in one of the [`Flow`] modes, which
//! a test switches at any time through a [`Conn`] handle: stall (hold the bytes, deliver them
//! when switched back to [`Flow::Pass`]), discard, or cut (half-close). [`Conn::close`] drops
//! the whole connection. Connections are numbered in accept order ([`Proxy::connection`]);
//! one whose client sends `SUBSCRIBE` is marked pub/sub ([`Proxy::pubsub`]). Defaults for
//! connections yet to come: [`Proxy::set_default`], [`Proxy::on_pubsub`].
//!
//! ```ignore
//! let proxy = Proxy::start(server.port());
//! let client = redis_mutex::Client::open(&proxy.url())?;
//! // ... let the client subscribe ...
//! let pubsub = proxy.pubsub_within(PROMPTLY);
//! pubsub.set(Dir::ToClient, Flow::Stall);   // the server's pushes are held back
//! pubsub.set(Dir::ToClient, Flow::Pass);    // ... and delivered now
//! ```

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often waits for a connection look again.
const TICK: Duration = Duration::from_millis(20);

/// How often a pump blocked on a quiet socket looks at the stop flag (closing a connection
/// wakes its pumps at once).
const IDLE: Duration = Duration::from_millis(200);

/// A direction of a proxied connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Client to server: commands.
    ToServer,
    /// Server to client: replies and pub/sub pushes.
    ToClient,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
}

/// What happens to the bytes of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Delivered (first whatever a stall held back).
    Pass,
    /// Held back, in order, until switched to `Pass`; the connection stays open.
    Stall,
    /// Thrown away; the connection stays open.
    Discard,
    /// The direction is closed: the receiving side reads end-of-stream.
    Cut,
}

/// A running proxy; stops (closing every connection) when dropped.
#[derive(Debug)]
pub(crate) struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    conns: Mutex<Vec<Conn>>,
    defaults: Mutex<[Flow; 2]>,
    on_pubsub: Mutex<Option<(Dir, Flow)>>,
    stop: AtomicBool,
}

/// One proxied connection; a cheap handle, clone freely.
#[derive(Debug, Clone)]
pub(crate) struct Conn(Arc<ConnInner>);

#[derive(Debug)]
struct ConnInner {
    n: usize,
    pubsub: AtomicBool,
    closed: AtomicBool,
    client: TcpStream,
    server: TcpStream,
    pipes: [Mutex<Pipe>; 2],
}

/// One direction's state. Writes to `to` happen under its lock, so held bytes and new bytes
/// keep their order.
#[derive(Debug)]
struct Pipe {
    flow: Flow,
    held: Vec<u8>,
    to: TcpStream,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// A proxy on a free 127.0.0.1 port forwarding to `127.0.0.1:upstream_port`. Connections
    /// made while the upstream is down are accepted and closed at once.
    pub(crate) fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the proxy on 127.0.0.1");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream: SocketAddr::from(([127, 0, 0, 1], upstream_port)),
            conns: Mutex::new(Vec::new()),
            defaults: Mutex::new([Flow::Pass; 2]),
            on_pubsub: Mutex::new(None),
            stop: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = shared.clone();
            thread::spawn(move || accept_loop(&listener, &shared))
        };
        Proxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// `redis://127.0.0.1:PORT/` of the proxy.
    pub(crate) fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every connection accepted so far, in accept order (closed ones included).
    pub(crate) fn connections(&self) -> Vec<Conn> {
        lock(&self.shared.conns).clone()
    }

    /// The `n`-th connection accepted (from 0), waiting up to `timeout` for it.
    ///
    /// # Panics
    ///
    /// If there is none by then.
    pub(crate) fn connection(&self, n: usize, timeout: Duration) -> Conn {
        self.find_within(timeout, &format!("connection #{n}"), |conn| conn.n() == n)
    }

    /// The open pub/sub connections.
    pub(crate) fn pubsub(&self) -> Vec<Conn> {
        self.connections()
            .into_iter()
            .filter(|conn| conn.is_pubsub() && !conn.is_closed())
            .collect()
    }

    /// The first open pub/sub connection, waiting up to `timeout` for one.
    ///
    /// # Panics
    ///
    /// If there is none by then.
    pub(crate) fn pubsub_within(&self, timeout: Duration) -> Conn {
        self.find_within(timeout, "a pub/sub connection", |conn| {
            conn.is_pubsub() && !conn.is_closed()
        })
    }

    fn find_within(&self, timeout: Duration, what: &str, pred: impl Fn(&Conn) -> bool) -> Conn {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(conn) = self.connections().into_iter().find(&pred) {
                return conn;
            }
            assert!(
                Instant::now() < deadline,
                "proxy {}: no {what} within {timeout:?}",
                self.addr
            );
            thread::sleep(TICK);
        }
    }

    /// The flow of direction `dir` of connections accepted from now on.
    pub(crate) fn set_default(&self, dir: Dir, flow: Flow) {
        lock(&self.shared.defaults)[dir.index()] = flow;
    }

    /// Sets `dir` of every open connection to `flow` (and of later ones, see
    /// [`set_default`](Self::set_default)).
    pub(crate) fn set_all(&self, dir: Dir, flow: Flow) {
        self.set_default(dir, flow);
        for conn in self.connections() {
            conn.set(dir, flow);
        }
    }

    /// Once a connection turns out to be pub/sub (its client sent `SUBSCRIBE`), set its `dir`
    /// to `flow`; `None` turns the rule off.
    pub(crate) fn on_pubsub(&self, rule: Option<(Dir, Flow)>) {
        *lock(&self.shared.on_pubsub) = rule;
    }

    /// Closes every open connection (new ones are still accepted).
    pub(crate) fn close_all(&self) {
        self.connections().iter().for_each(Conn::close);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.close_all();
        // Wake the acceptor blocked in `accept`; it sees the stop flag and closes this too.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((client, _)) => {
                let Ok(server) =
                    TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(1))
                else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let mut conns = lock(&shared.conns);
                let n = conns.len();
                let conn = Conn::new(n, client, server, *lock(&shared.defaults));
                conns.push(conn.clone());
                drop(conns);
                for dir in [Dir::ToServer, Dir::ToClient] {
                    let (conn, shared) = (conn.clone(), shared.clone());
                    thread::spawn(move || pump(&conn, dir, &shared));
                }
            }
            Err(_) => thread::sleep(TICK),
        }
    }
}

impl Conn {
    fn new(n: usize, client: TcpStream, server: TcpStream, flows: [Flow; 2]) -> Conn {
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let pipe = |flow: Flow, to: &TcpStream| {
            let to = to.try_clone().expect("clone a proxied socket");
            let _ = to.set_write_timeout(Some(Duration::from_secs(5)));
            Mutex::new(Pipe {
                flow,
                held: Vec::new(),
                to,
            })
        };
        Conn(Arc::new(ConnInner {
            n,
            pubsub: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            pipes: [
                pipe(flows[Dir::ToServer.index()], &server),
                pipe(flows[Dir::ToClient.index()], &client),
            ],
            client,
            server,
        }))
    }

    /// Accept order, from 0.
    pub(crate) fn n(&self) -> usize {
        self.0.n
    }

    /// Whether the client sent `SUBSCRIBE` (or `PSUBSCRIBE`, `SSUBSCRIBE`) on it.
    pub(crate) fn is_pubsub(&self) -> bool {
        self.0.pubsub.load(Ordering::SeqCst)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::SeqCst)
    }

    pub(crate) fn flow(&self, dir: Dir) -> Flow {
        lock(&self.0.pipes[dir.index()]).flow
    }

    /// Switches `dir` to `flow`. Switching a stalled direction to [`Flow::Pass`] delivers the
    /// held bytes first; [`Flow::Cut`] half-closes at once.
    pub(crate) fn set(&self, dir: Dir, flow: Flow) {
        let mut pipe = lock(&self.0.pipes[dir.index()]);
        pipe.flow = flow;
        match flow {
            Flow::Pass => pipe.flush(),
            Flow::Discard => pipe.held.clear(),
            Flow::Cut => {
                pipe.held.clear();
                let _ = pipe.to.shutdown(Shutdown::Write);
            }
            Flow::Stall => {}
        }
    }

    /// Drops the whole connection: both sides read end-of-stream.
    pub(crate) fn close(&self) {
        self.0.closed.store(true, Ordering::SeqCst);
        let _ = self.0.client.shutdown(Shutdown::Both);
        let _ = self.0.server.shutdown(Shutdown::Both);
    }
}

impl Pipe {
    fn flush(&mut self) {
        if !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            let _ = self.to.write_all(&held);
        }
    }
}

/// Whether `window` (the tail of the previous read and this one) contains `SUBSCRIBE`.
fn mentions_subscribe(window: &[u8]) -> bool {
    window
        .windows(b"SUBSCRIBE".len())
        .any(|w| w.eq_ignore_ascii_case(b"SUBSCRIBE"))
}

/// Moves the bytes of one direction until either side closes or the proxy stops.
fn pump(conn: &Conn, dir: Dir, shared: &Shared) {
    let from = match dir {
        Dir::ToServer => &conn.0.client,
        Dir::ToClient => &conn.0.server,
    };
    let Ok(mut from) = from.try_clone() else {
        return;
    };
    let _ = from.set_read_timeout(Some(IDLE));
    let mut buf = vec![0u8; 16 * 1024];
    let mut tail: Vec<u8> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) && !conn.is_closed() {
        let read = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                continue;
            }
            Err(_) => break,
        };
        let data = &buf[..read];
        if dir == Dir::ToServer && !conn.is_pubsub() {
            tail.extend_from_slice(data);
            if mentions_subscribe(&tail) {
                conn.0.pubsub.store(true, Ordering::SeqCst);
                if let Some((rule_dir, flow)) = *lock(&shared.on_pubsub) {
                    conn.set(rule_dir, flow);
                }
            }
            let keep = tail.len().saturating_sub(b"SUBSCRIBE".len());
            tail.drain(..keep);
        }
        let mut pipe = lock(&conn.0.pipes[dir.index()]);
        match pipe.flow {
            Flow::Pass => {
                pipe.flush();
                if pipe.to.write_all(data).is_err() {
                    break;
                }
            }
            Flow::Stall => pipe.held.extend_from_slice(data),
            Flow::Discard => {}
            // Half-closed by `Conn::set`; the other direction carries on.
            Flow::Cut => return,
        }
    }
    // One side is gone: so is the connection, as a real network path would behave.
    conn.close();
}
