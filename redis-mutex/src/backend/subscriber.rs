//! Release notifications: one shared pub/sub connection per server.
//!
//! Waiters register for the release channels of the lock they wait for. A single task owns the
//! pub/sub connection, subscribes a channel while at least one waiter needs it (and for
//! [`LINGER`] after the last one left), and on each announcement wakes every waiter of a freed
//! lock, or only the waiter a lock was handed to. Wake-ups go through `Notify::notify_one`,
//! which stores a permit when the waiter is not parked yet, so a release that lands between a
//! failed attempt and the wait is never missed.
//!
//! The task never waits for Redis itself: connecting, `SUBSCRIBE` and `UNSUBSCRIBE` run in
//! tasks of their own, bounded by the connect and response timeouts, and report back. So a
//! connection that goes silent (a stalled network, a paused server) delays no registration
//! and no waiter beyond those timeouts: a `SUBSCRIBE` left unanswered marks the connection
//! broken, waiters fall back to polling, and the task reconnects in the background.
//!
//! When the connection drops, the task reconnects with back-off, resubscribes, and wakes every
//! waiter (releases may have been missed meanwhile); waiters keep their bounded TTL-based poll
//! as a fallback throughout.
//!
//! Why not redis-rs's own subscriptions on the multiplexed connection: redis-rs 1.x can subscribe
//! there (`ConnectionManager::subscribe`, messages on a push sender, resubscription after a
//! reconnect on request, each call bounded by the response timeout), but only over RESP3, which
//! needs Redis 6, and this crate supports Redis 5. The connection used here is redis-rs's RESP2
//! `aio::PubSub`. The rest of this module would remain either way: the push sender delivers every
//! message of the connection on one channel, so counting waiters per channel, lingering, waking all
//! waiters of a channel but handing a lock over only to the waiter whose token it names, telling
//! each waiter when its own channels are confirmed, waking everyone after a reconnect, and keeping
//! registrations from ever waiting on Redis are ours.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::single::ConnectionSettings;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::protocol::{Announcement, parse_announcement};

/// What woke a waiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wake {
    /// The lock may be free: try again.
    Released,
    /// A release handed the lock to this waiter's token.
    Granted(Grant),
}

/// A hand-over announced to a waiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The fencing token, when the waiter asked for one.
    pub(crate) fence: Option<u64>,
    /// The waiter's latest attempt before the hand-over: only a grant naming the waiter's
    /// latest attempt is current (see [`crate::protocol::WAIT`]).
    pub(crate) attempt: u64,
}

/// One registered waiter, shared between its [`Subscription`] and the subscriber task.
#[derive(Debug)]
struct Waiter {
    notify: Notify,
    /// The token a release may hand the lock to.
    token: Option<Arc<str>>,
    granted: std::sync::Mutex<Option<Grant>>,
}

impl Waiter {
    fn new(token: Option<Arc<str>>) -> Arc<Waiter> {
        Arc::new(Waiter {
            notify: Notify::new(),
            token,
            granted: std::sync::Mutex::new(None),
        })
    }

    fn wake(&self) {
        self.notify.notify_one();
    }

    fn grant(&self, grant: Grant) {
        *self.granted.lock().unwrap_or_else(|p| p.into_inner()) = Some(grant);
        self.notify.notify_one();
    }
}

type Done = oneshot::Sender<Result<()>>;

enum Command {
    Subscribe {
        id: u64,
        channels: Vec<String>,
        waiter: Arc<Waiter>,
        done: Done,
    },
    Unsubscribe {
        id: u64,
        channels: Vec<String>,
        token: Option<Arc<str>>,
    },
    /// A connect started by the task finished.
    Connected {
        result: Result<(Sink, Stream)>,
        /// The channels the new connection listens on.
        channels: HashSet<String>,
    },
    /// A command on connection `generation` failed or went unanswered.
    Broken { generation: u64 },
}

/// How long a channel stays subscribed after its last waiter left, so that a lock contended
/// again soon does not pay a `SUBSCRIBE` round trip each time.
const LINGER: Duration = Duration::from_secs(2);

/// How long after a failed connect new waiters skip notifications (and poll) without trying.
const UNAVAILABLE_FOR: Duration = Duration::from_secs(1);

/// The handle to one server's subscriber task. The task starts on first use.
#[derive(Debug)]
pub(crate) struct Subscriber {
    commands: mpsc::UnboundedSender<Command>,
    next_id: AtomicU64,
    inbox: Arc<str>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

/// A waiter's registration; dropping it unregisters (and unsubscribes unused channels).
#[derive(Debug)]
pub(crate) struct Subscription {
    id: u64,
    channels: Vec<String>,
    waiter: Arc<Waiter>,
    commands: mpsc::UnboundedSender<Command>,
    confirmed: Option<oneshot::Receiver<Result<()>>>,
    /// The same waiter's registrations with other servers (see [`Subscription::across`]).
    joined: Vec<Subscription>,
    /// How many of this registration and the joined ones must be confirmed.
    quorum: usize,
}

impl Subscription {
    /// Completes once Redis confirmed the subscription, or with the reason it could not be made
    /// (after at most the connect plus the response timeout). Until it completes successfully,
    /// a release may go unannounced to this waiter. Completes at once when called again.
    ///
    /// A registration [across](Subscription::across) several servers completes once a quorum
    /// of them listen, or with an error once a quorum no longer can.
    pub(crate) async fn confirmed(&mut self) -> Result<()> {
        let own = confirmation(self.confirmed.take());
        if self.joined.is_empty() {
            return own.await;
        }
        let mut all: FuturesUnordered<_> = std::iter::once(own)
            .chain(
                self.joined
                    .iter_mut()
                    .map(|joined| confirmation(joined.confirmed.take())),
            )
            .collect();
        let (total, mut listening, mut failed) = (all.len(), 0, 0);
        while let Some(result) = all.next().await {
            match result {
                Ok(()) => listening += 1,
                Err(error) => {
                    failed += 1;
                    if total - failed < self.quorum {
                        return Err(error);
                    }
                }
            }
            if listening >= self.quorum {
                break;
            }
        }
        Ok(())
    }

    /// One waiter registered for releases on `channels` with each of `subscribers` (one per
    /// server, as Redlock's masters): an announcement from any of them wakes it, and
    /// [`confirmed`](Subscription::confirmed) completes once `quorum` of them listen. No
    /// hand-overs are announced to it.
    pub(crate) fn across(
        subscribers: &[&Subscriber],
        channels: &[String],
        quorum: usize,
    ) -> Subscription {
        let waiter = Waiter::new(None);
        let mut each = subscribers
            .iter()
            .map(|subscriber| subscriber.register(channels, waiter.clone()));
        let mut first = each
            .next()
            .expect("a subscription needs at least one server");
        first.joined = each.collect();
        first.quorum = quorum;
        first
    }

    /// Completes after a release was announced on one of the channels since the last call.
    pub(crate) async fn wait(&self) -> Wake {
        self.waiter.notify.notified().await;
        match self
            .waiter
            .granted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            Some(grant) => Wake::Granted(grant),
            None => Wake::Released,
        }
    }
}

/// Waits for the confirmation of one registration (already taken: done).
async fn confirmation(confirmed: Option<oneshot::Receiver<Result<()>>>) -> Result<()> {
    let Some(confirmed) = confirmed else {
        return Ok(());
    };
    confirmed.await.unwrap_or_else(|_| {
        Err(Error::Runtime {
            source: std::io::Error::other("the subscriber task stopped"),
        })
    })
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Unsubscribe {
            id: self.id,
            channels: std::mem::take(&mut self.channels),
            token: self.waiter.token.clone(),
        });
    }
}

/// The timeouts a subscriber's I/O runs under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) response: Duration,
}

impl From<ConnectionSettings> for Timeouts {
    fn from(settings: ConnectionSettings) -> Self {
        Timeouts {
            connect: settings.connect_timeout,
            response: settings.response_timeout,
        }
    }
}

impl Subscriber {
    /// Creates the handle and spawns its task on the current (crate) runtime.
    pub(crate) fn spawn(client: redis::Client, server: String, timeouts: Timeouts) -> Self {
        Self::spawn_any(vec![client], server, timeouts)
    }

    /// [`spawn`](Subscriber::spawn) for a deployment whose servers all hear every message (the
    /// nodes of a Redis Cluster, where `PUBLISH` reaches every node): each connect goes to the
    /// next of `clients` in turn, so a connection lost with its server is made again to another.
    pub(crate) fn spawn_any(
        clients: Vec<redis::Client>,
        server: String,
        timeouts: Timeouts,
    ) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        let inbox: Arc<str> = format!("redis-mutex:inbox:{}", crate::protocol::new_token()).into();
        tokio::spawn(
            Task {
                clients,
                next_client: 0,
                server,
                timeouts,
                commands: commands.downgrade(),
                waiters: HashMap::new(),
                idle: HashMap::new(),
                inbox: inbox.clone(),
                by_token: HashMap::new(),
                sink: None,
                generation: 0,
                connecting: false,
                pending: Vec::new(),
                unavailable_until: None,
            }
            .run(rx),
        );
        Subscriber {
            commands,
            next_id: AtomicU64::new(0),
            inbox,
        }
    }

    /// The channel hand-overs to this process's waiters are announced on.
    pub(crate) fn inbox(&self) -> &str {
        &self.inbox
    }

    /// Registers for releases on `channels`, and for hand-overs to `token`, at once; see
    /// [`Subscription::confirmed`] for when Redis listens.
    pub(crate) fn subscribe(&self, channels: &[String], token: Arc<str>) -> Subscription {
        self.register(channels, Waiter::new(Some(token)))
    }

    /// Registers `waiter` for releases on `channels` (and for hand-overs to its token).
    fn register(&self, channels: &[String], waiter: Arc<Waiter>) -> Subscription {
        let (done, confirmed) = oneshot::channel();
        let subscription = Subscription {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            channels: channels.to_vec(),
            waiter,
            commands: self.commands.clone(),
            confirmed: Some(confirmed),
            joined: Vec::new(),
            quorum: 1,
        };
        self.commands
            .send(Command::Subscribe {
                id: subscription.id,
                channels: subscription.channels.clone(),
                waiter: subscription.waiter.clone(),
                done,
            })
            .ok();
        subscription
    }
}

struct Task {
    /// Where to connect: the next one in turn at each connect.
    clients: Vec<redis::Client>,
    next_client: usize,
    server: String,
    timeouts: Timeouts,
    /// For the I/O tasks to report back; weak, so the task ends with its last handle.
    commands: mpsc::WeakUnboundedSender<Command>,
    /// channel -> (waiter id -> waiter); subscribed in Redis (when connected).
    waiters: HashMap<String, HashMap<u64, Arc<Waiter>>>,
    /// Subscribed channels without waiters, since when.
    idle: HashMap<String, Instant>,
    /// This process's inbox channel: hand-overs to its waiters are announced there.
    inbox: Arc<str>,
    /// Waiters by the token a hand-over names.
    by_token: HashMap<Arc<str>, Arc<Waiter>>,
    /// The connection's command half, while connected.
    sink: Option<Sink>,
    /// Counts connections, so a late failure report of an old one is ignored.
    generation: u64,
    /// Whether a connect is under way.
    connecting: bool,
    /// Registrations waiting for the connect under way: their channels and confirmations.
    pending: Vec<(Vec<String>, Done)>,
    /// After a failed connect: until when new waiters are told "unavailable" at once.
    unavailable_until: Option<Instant>,
}

type Sink = redis::aio::PubSubSink;
type Stream = redis::aio::PubSubStream;

impl Task {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut stream: Option<Stream> = None;
        let mut backoff = Duration::from_millis(50);
        loop {
            let reconnect = self.sink.is_none() && !self.connecting && !self.waiters.is_empty();
            let sweep_at = self.idle.values().min().map(|since| *since + LINGER);
            let message = async {
                match stream.as_mut() {
                    Some(stream) => stream.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Connected { result, channels }) => {
                        self.connecting = false;
                        match result {
                            Ok((sink, new_stream)) => {
                                backoff = Duration::from_millis(50);
                                stream = Some(new_stream);
                                self.connected(sink, &channels);
                            }
                            Err(error) => {
                                backoff = (backoff * 2).min(Duration::from_secs(2));
                                self.connect_failed(&error);
                            }
                        }
                    }
                    Some(Command::Broken { generation }) => {
                        if generation == self.generation && self.sink.is_some() {
                            tracing::debug!(server = %self.server, "release notifications unanswered; reconnecting");
                            self.sink = None;
                            stream = None;
                            self.wake_all();
                        }
                    }
                    Some(command) => self.handle(command),
                    None => return,
                },
                message = message => match message {
                    Some(message) => self.announce(&message),
                    None => {
                        tracing::debug!(server = %self.server, "release notifications disconnected; reconnecting");
                        self.sink = None;
                        stream = None;
                        self.wake_all();
                    }
                },
                () = tokio::time::sleep_until(sweep_at.unwrap_or_else(Instant::now)), if sweep_at.is_some() => {
                    self.sweep();
                }
                () = tokio::time::sleep(backoff), if reconnect => self.connect(),
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Subscribe {
                id,
                channels,
                waiter,
                done,
            } => {
                if let Some(token) = &waiter.token {
                    self.by_token.insert(token.clone(), waiter.clone());
                }
                let mut new = Vec::new();
                for channel in &channels {
                    let entry = self.waiters.entry(channel.clone()).or_default();
                    if entry.is_empty() && self.idle.remove(channel).is_none() {
                        new.push(channel.clone());
                    }
                    entry.insert(id, waiter.clone());
                }
                self.listen(new, done);
            }
            Command::Unsubscribe {
                id,
                channels,
                token,
            } => {
                if let Some(token) = token {
                    self.by_token.remove(&token);
                }
                let now = Instant::now();
                for channel in channels {
                    if let Some(entry) = self.waiters.get_mut(&channel) {
                        entry.remove(&id);
                        if entry.is_empty() {
                            // Stay subscribed a moment: the next waiter likely comes soon.
                            self.idle.insert(channel, now);
                        }
                    }
                }
            }
            Command::Connected { .. } | Command::Broken { .. } => {
                unreachable!("handled in the run loop")
            }
        }
    }

    /// Makes Redis listen on `channels` (newly registered), then confirms on `done`.
    fn listen(&mut self, channels: Vec<String>, done: Done) {
        if let Some(sink) = &self.sink {
            if channels.is_empty() {
                let _ = done.send(Ok(()));
            } else {
                let sink = sink.clone();
                self.request(sink, Some(done), move |mut sink| async move {
                    sink.subscribe(channels).await
                });
            }
            return;
        }
        // After a failed connect, waiters poll for a while instead of each waiting out another
        // connect attempt; the run loop keeps retrying in the background.
        if self
            .unavailable_until
            .is_some_and(|until| Instant::now() < until)
        {
            let _ = done.send(Err(unavailable(&self.server)));
            return;
        }
        self.pending.push((channels, done));
        if !self.connecting {
            self.connect();
        }
    }

    /// Runs one pub/sub command on the current connection in a task of its own, bounded by the
    /// response timeout; a failure or a silence marks the connection broken.
    fn request<F, Fut>(&self, sink: Sink, done: Option<Done>, command: F)
    where
        F: FnOnce(Sink) -> Fut + Send + 'static,
        Fut: Future<Output = redis::RedisResult<()>> + Send,
    {
        let (generation, commands) = (self.generation, self.commands.clone());
        let (server, response) = (self.server.clone(), self.timeouts.response);
        tokio::spawn(async move {
            let result = match tokio::time::timeout(response, command(sink)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(source)) => Err(Error::from_redis(&server, None, source)),
                Err(_) => Err(timed_out(&server, "no answer to SUBSCRIBE")),
            };
            if result.is_err()
                && let Some(commands) = commands.upgrade()
            {
                let _ = commands.send(Command::Broken { generation });
            }
            if let Some(done) = done {
                let _ = done.send(result);
            }
        });
    }

    /// Starts connecting in the background; the result comes back as [`Command::Connected`].
    fn connect(&mut self) {
        let (Some(commands), Some(client)) = (
            self.commands.upgrade(),
            self.clients.get(self.next_client).cloned(),
        ) else {
            return;
        };
        self.next_client = (self.next_client + 1) % self.clients.len();
        self.connecting = true;
        let mut channels: HashSet<String> = self.waiters.keys().cloned().collect();
        channels.extend(self.pending.iter().flat_map(|(c, _)| c.iter().cloned()));
        channels.insert(self.inbox.to_string());
        let (server, timeouts) = (self.server.clone(), self.timeouts);
        tokio::spawn(async move {
            let connect = async {
                let pubsub = client
                    .get_async_pubsub()
                    .await
                    .map_err(|source| Error::from_redis(&server, None, source))?;
                let (mut sink, stream) = pubsub.split();
                sink.subscribe(channels.iter().collect::<Vec<_>>())
                    .await
                    .map_err(|source| Error::from_redis(&server, None, source))?;
                Ok((sink, stream))
            };
            let result =
                tokio::time::timeout(timeouts.connect.saturating_add(timeouts.response), connect)
                    .await
                    .unwrap_or_else(|_| Err(timed_out(&server, "no answer while connecting")));
            let _ = commands.send(Command::Connected { result, channels });
        });
    }

    /// A connect succeeded: confirm pending registrations (subscribing what the connect did
    /// not cover), and wake everyone, since releases may have been missed meanwhile.
    fn connected(&mut self, sink: Sink, channels: &HashSet<String>) {
        self.generation += 1;
        self.unavailable_until = None;
        self.sink = Some(sink.clone());
        let mut missing: Vec<String> = self
            .waiters
            .keys()
            .filter(|channel| !channels.contains(*channel))
            .cloned()
            .collect();
        missing.sort();
        let pending = std::mem::take(&mut self.pending);
        if missing.is_empty() {
            pending
                .into_iter()
                .for_each(|(_, done)| drop(done.send(Ok(()))));
        } else {
            let (done, confirmed) = oneshot::channel();
            self.request(sink, Some(done), move |mut sink| async move {
                sink.subscribe(missing).await
            });
            let server = self.server.clone();
            tokio::spawn(async move {
                let listening = matches!(confirmed.await, Ok(Ok(())));
                for (_, done) in pending {
                    let _ = done.send(if listening {
                        Ok(())
                    } else {
                        Err(unavailable(&server))
                    });
                }
            });
        }
        self.wake_all();
    }

    fn connect_failed(&mut self, error: &Error) {
        tracing::debug!(%error, "release notifications unavailable");
        self.unavailable_until = Some(Instant::now() + UNAVAILABLE_FOR);
        for (_, done) in std::mem::take(&mut self.pending) {
            let _ = done.send(Err(unavailable(&self.server)));
        }
    }

    /// Unsubscribes the channels that no waiter needed for [`LINGER`].
    fn sweep(&mut self) {
        let now = Instant::now();
        let unused: Vec<String> = self
            .idle
            .iter()
            .filter(|(_, since)| now.duration_since(**since) >= LINGER)
            .map(|(channel, _)| channel.clone())
            .collect();
        for channel in &unused {
            self.idle.remove(channel);
            self.waiters.remove(channel);
        }
        if let Some(sink) = &self.sink {
            self.request(sink.clone(), None, move |mut sink| async move {
                sink.unsubscribe(unused).await
            });
        }
    }

    fn announce(&self, message: &redis::Msg) {
        let payload: String = message.get_payload().unwrap_or_default();
        match parse_announcement(&payload) {
            Some(Announcement::Granted {
                token,
                fence,
                attempt,
            }) => {
                if let Some(waiter) = self.by_token.get(token) {
                    waiter.grant(Grant { fence, attempt });
                }
            }
            Some(Announcement::Wake { token }) => {
                if let Some(waiter) = self.by_token.get(token) {
                    waiter.wake();
                }
            }
            // A free lock, or a message from a newer or older protocol: everyone looks.
            _ => self.wake(message.get_channel_name()),
        }
    }

    fn wake(&self, channel: &str) {
        if let Some(waiters) = self.waiters.get(channel) {
            waiters.values().for_each(|waiter| waiter.wake());
        }
    }

    fn wake_all(&self) {
        self.waiters
            .values()
            .flat_map(HashMap::values)
            .for_each(|waiter| waiter.wake());
    }
}

/// The error of a registration made while the connection is down.
fn unavailable(server: &str) -> Error {
    Error::unreachable(
        server,
        std::io::ErrorKind::NotConnected,
        "release notifications are reconnecting",
    )
}

/// An [`Error::Unreachable`] for a pub/sub request that got no answer in time.
fn timed_out(server: &str, what: &str) -> Error {
    Error::unreachable(server, std::io::ErrorKind::TimedOut, what)
}
