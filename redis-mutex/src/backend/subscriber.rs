//! Release notifications: one shared pub/sub connection per server.
//!
//! Waiters register for the release channels of the lock they wait for. A single task owns the
//! pub/sub connection, subscribes a channel while at least one waiter needs it (and for
//! [`LINGER`] after the last one left), and on each announcement wakes every waiter of a freed
//! lock, or only the waiter a lock was handed to. Wake-ups go through `Notify::notify_one`,
//! which stores a permit when the waiter is not parked yet, so a release that lands between a
//! failed attempt and the wait is never missed.
//!
//! When the connection drops, the task reconnects with back-off, resubscribes, and wakes every
//! waiter (releases may have been missed meanwhile); waiters keep their bounded TTL-based poll
//! as a fallback throughout.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::protocol::{Announcement, parse_announcement};

/// What woke a waiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wake {
    /// The lock may be free: try again.
    Released,
    /// A release handed the lock to this waiter's token, with this fencing token.
    Granted {
        /// The fencing token, when the waiter asked for one.
        fence: Option<u64>,
    },
}

/// One registered waiter, shared between its [`Subscription`] and the subscriber task.
#[derive(Debug)]
struct Waiter {
    notify: Notify,
    /// The token a release may hand the lock to.
    token: Option<Arc<str>>,
    granted: std::sync::Mutex<Option<Option<u64>>>,
}

impl Waiter {
    fn wake(&self) {
        self.notify.notify_one();
    }

    fn grant(&self, fence: Option<u64>) {
        *self.granted.lock().unwrap_or_else(|p| p.into_inner()) = Some(fence);
        self.notify.notify_one();
    }
}

enum Command {
    Subscribe {
        id: u64,
        channels: Vec<String>,
        waiter: Arc<Waiter>,
        done: oneshot::Sender<Result<()>>,
    },
    Unsubscribe {
        id: u64,
        channels: Vec<String>,
        token: Option<Arc<str>>,
    },
    Wake {
        channels: Vec<String>,
    },
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
}

impl Subscription {
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
            Some(fence) => Wake::Granted { fence },
            None => Wake::Released,
        }
    }
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

impl Subscriber {
    /// Creates the handle and spawns its task on the current (crate) runtime.
    pub(crate) fn spawn(client: redis::Client, server: String, connect_timeout: Duration) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        let inbox: Arc<str> = format!("redis-mutex:inbox:{}", crate::protocol::new_token()).into();
        tokio::spawn(
            Task {
                client,
                server,
                connect_timeout,
                waiters: HashMap::new(),
                idle: HashMap::new(),
                inbox: inbox.clone(),
                by_token: HashMap::new(),
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

    /// Registers for releases on `channels`, and for hand-overs to `token`; returns once Redis
    /// confirmed the subscription.
    pub(crate) async fn subscribe(
        &self,
        channels: &[String],
        token: Option<Arc<str>>,
    ) -> Result<Subscription> {
        let subscription = Subscription {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            channels: channels.to_vec(),
            waiter: Arc::new(Waiter {
                notify: Notify::new(),
                token,
                granted: std::sync::Mutex::new(None),
            }),
            commands: self.commands.clone(),
        };
        let (done, confirmed) = oneshot::channel();
        self.commands
            .send(Command::Subscribe {
                id: subscription.id,
                channels: subscription.channels.clone(),
                waiter: subscription.waiter.clone(),
                done,
            })
            .ok();
        match confirmed.await {
            Ok(Ok(())) => Ok(subscription),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(Error::Runtime {
                source: std::io::Error::other("the subscriber task stopped"),
            }),
        }
    }

    /// Wakes local waiters on `channels` without a round trip (after a release by this process).
    pub(crate) fn wake(&self, channels: &[String]) {
        let _ = self.commands.send(Command::Wake {
            channels: channels.to_vec(),
        });
    }
}

struct Task {
    client: redis::Client,
    server: String,
    connect_timeout: Duration,
    /// channel -> (waiter id -> waiter); subscribed in Redis (when connected).
    waiters: HashMap<String, HashMap<u64, Arc<Waiter>>>,
    /// Subscribed channels without waiters, since when.
    idle: HashMap<String, Instant>,
    /// This process's inbox channel: hand-overs to its waiters are announced there.
    inbox: Arc<str>,
    /// Waiters by the token a hand-over names.
    by_token: HashMap<Arc<str>, Arc<Waiter>>,
    /// After a failed connect: until when new waiters are told "unavailable" at once.
    unavailable_until: Option<Instant>,
}

type Sink = redis::aio::PubSubSink;
type Stream = redis::aio::PubSubStream;

impl Task {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut connection: Option<(Sink, Stream)> = None;
        let mut backoff = Duration::from_millis(50);
        loop {
            let reconnect = connection.is_none() && !self.waiters.is_empty();
            let sweep_at = self.idle.values().min().map(|since| *since + LINGER);
            let message = async {
                match connection.as_mut() {
                    Some((_, stream)) => stream.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.handle(command, &mut connection).await,
                    None => return,
                },
                message = message => match message {
                    Some(message) => self.announce(&message),
                    None => {
                        tracing::debug!(server = %self.server, "release notifications disconnected; reconnecting");
                        connection = None;
                        self.wake_all();
                    }
                },
                () = tokio::time::sleep_until(sweep_at.unwrap_or_else(Instant::now)), if sweep_at.is_some() => {
                    self.sweep(&mut connection).await;
                }
                () = tokio::time::sleep(backoff), if reconnect => {
                    match self.connect().await {
                        Ok(conn) => {
                            connection = Some(conn);
                            self.unavailable_until = None;
                            backoff = Duration::from_millis(50);
                            self.wake_all();
                        }
                        Err(error) => {
                            tracing::debug!(%error, "release notifications still unavailable");
                            backoff = (backoff * 2).min(Duration::from_secs(2));
                        }
                    }
                }
            }
        }
    }

    async fn handle(&mut self, command: Command, connection: &mut Option<(Sink, Stream)>) {
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
                let result = self.subscribe(connection, &new).await;
                let _ = done.send(result);
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
            Command::Wake { channels } => channels.iter().for_each(|c| self.wake(c)),
        }
    }

    /// Unsubscribes the channels that no waiter needed for [`LINGER`].
    async fn sweep(&mut self, connection: &mut Option<(Sink, Stream)>) {
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
        if let Some((sink, _)) = connection.as_mut()
            && sink.unsubscribe(&unused).await.is_err()
        {
            *connection = None;
        }
    }

    /// Makes sure the connection exists and listens on `channels`.
    async fn subscribe(
        &mut self,
        connection: &mut Option<(Sink, Stream)>,
        channels: &[String],
    ) -> Result<()> {
        if connection.is_none() {
            // After a failed connect, waiters poll for a while instead of each waiting out
            // another connect attempt here; the run loop keeps retrying in the background.
            if self
                .unavailable_until
                .is_some_and(|until| Instant::now() < until)
            {
                return Err(Error::Unreachable {
                    server: self.server.clone(),
                    source: redis::RedisError::from(std::io::Error::other(
                        "release notifications are reconnecting",
                    )),
                });
            }
            // A fresh connection subscribes every registered channel, `channels` included.
            match self.connect().await {
                Ok(connected) => {
                    *connection = Some(connected);
                    self.unavailable_until = None;
                    return Ok(());
                }
                Err(error) => {
                    self.unavailable_until = Some(Instant::now() + UNAVAILABLE_FOR);
                    return Err(error);
                }
            }
        }
        if channels.is_empty() {
            return Ok(());
        }
        let Some((sink, _)) = connection.as_mut() else {
            unreachable!("connected above")
        };
        if let Err(source) = sink.subscribe(channels).await {
            *connection = None;
            return Err(Error::from_redis(&self.server, None, source));
        }
        Ok(())
    }

    async fn connect(&self) -> Result<(Sink, Stream)> {
        let server = &self.server;
        let pubsub = tokio::time::timeout(self.connect_timeout, self.client.get_async_pubsub())
            .await
            .map_err(|_| Error::Unreachable {
                server: server.clone(),
                source: redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)),
            })?
            .map_err(|source| Error::from_redis(server, None, source))?;
        let (mut sink, stream) = pubsub.split();
        let mut channels: Vec<&str> = self.waiters.keys().map(String::as_str).collect();
        channels.push(&self.inbox);
        sink.subscribe(channels)
            .await
            .map_err(|source| Error::from_redis(server, None, source))?;
        Ok((sink, stream))
    }

    fn announce(&self, message: &redis::Msg) {
        let payload: String = message.get_payload().unwrap_or_default();
        match parse_announcement(&payload) {
            Some(Announcement::Granted { token, fence }) => {
                if let Some(waiter) = self.by_token.get(token) {
                    waiter.grant(fence);
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
