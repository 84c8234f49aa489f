//! Redlock: one lock over several independent Redis masters, as specified on redis.io
//! ("Distributed Locks with Redis").
//!
//! An attempt runs one atomic script on every master at once, each bounded by the per-master
//! timeout ([`ClientBuilder::node_timeout`](crate::ClientBuilder::node_timeout)): each master
//! takes every name of the lock or none. The lock is ours when a majority (`N/2 + 1`) took it
//! and validity time is left (`ttl − elapsed − drift`, drift being [`protocol::drift`]): the
//! attempt returns then, without waiting for the other masters ([`settle`]); otherwise the
//! masters that took it (or did not answer) give it back at once, silently, and the attempt is
//! busy. There is no queue in Redis: a waiter retries when a holder's release is announced (on
//! every master, subscribed to on every master), when the holder's keys expire on enough
//! masters, or after a short random delay after a split vote (contenders that each took a
//! minority), as the spec asks.
//!
//! Release and extension run on every master, and count only when a quorum agrees: a lock is
//! reported ours (to renewal, to `lost()`, to release) when a quorum of masters holds its
//! token. A release returns once the replies so far decide that count; its calls to the other
//! masters finish in the background ([`Stragglers`]). An extension a quorum confirmed then takes
//! the keys again (all or none, as an acquisition) on the masters that answered without them,
//! such as one restarted empty. Reads (`is_locked`, `status`) report the token a quorum holds.
//!
//! Calls can thus reach a master late and out of order; the scripts make that harmless (see
//! [`scripts`]: numbered attempts, void marks). Their code is loaded on every new connection, so
//! that a call is one round trip.
//!
//! The uncontended path (first attempt, release) runs in the caller's task over connections
//! driven by the caller's runtime, one per master ([`Locals`]); a master it could not connect
//! to is reached over the crate's connection instead.
//!
//! # Lease
//!
//! `lock.rs` measures a lease from before the attempt was sent, with the full TTL less
//! [`protocol::drift`]: that is the spec's validity (`ttl − (t_end − t_start) − drift`,
//! counted from `t_end`), since a deadline of `t_start + ttl − drift` equals `t_end + validity`
//! with `t_start` taken no later than the first master was asked. Renewals likewise.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use redis::aio::MultiplexedConnection;

use super::local::Locals;
use super::subscriber::Subscription;
use super::{Backend, BoxFuture, Local, LocalConn, Via, WaitAttempt};
use crate::admin::KeyState;
use crate::backend::single::ConnectionSettings;
use crate::error::{Error, Result};
use crate::protocol::{self, Attempt, KeySet};
use crate::runtime;

mod node;
mod quorum;
mod scripts;
pub(crate) mod url;

use node::Node;
use quorum::{Part, Verdict};

/// The default per-master timeout of an attempt.
pub(crate) const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_millis(50);

/// The longest random delay before a retry after a split vote.
const MAX_JITTER: Duration = Duration::from_millis(30);

/// Several independent masters, locked by majority.
#[derive(Debug)]
pub(crate) struct Redlock {
    nodes: Vec<Arc<Node>>,
    server: String,
    node_timeout: Duration,
    /// The uncontended path's connections: per caller runtime, one per master.
    locals: Arc<Locals<NodeConns>>,
}

/// A caller runtime's connections, one per master in [`Redlock::nodes`]' order (`None`: that
/// master did not answer the connect, and is reached over the crate's connection).
type NodeConns = Arc<[Option<MultiplexedConnection>]>;

/// One master's reply to the acquire script.
type AcquireReply = Vec<i64>;

impl Redlock {
    /// Prepares the masters `clients` (with their `host:port`); no I/O happens until the first
    /// command. `server` is the URL to show, password redacted.
    pub(crate) fn new(
        clients: Vec<(redis::Client, String)>,
        server: String,
        settings: ConnectionSettings,
        node_timeout: Duration,
    ) -> Self {
        if clients.len().is_multiple_of(2) {
            tracing::warn!(
                server = %server,
                "redis-mutex: Redlock over an even number of masters ({}) survives no more \
                 failures than over one master fewer; an odd number is recommended",
                clients.len()
            );
        }
        let nodes: Vec<Arc<Node>> = clients
            .into_iter()
            .map(|(client, addr)| Arc::new(Node::new(client, addr, settings)))
            .collect();
        let locals = Locals::new({
            let nodes = nodes.clone();
            Box::new(move || {
                let connects: Vec<_> = nodes.iter().map(|node| node.connect_local()).collect();
                Box::pin(async move {
                    let conns: NodeConns = join_all(connects).await.into();
                    conns.iter().any(Option::is_some).then_some(conns)
                })
            })
        });
        Redlock {
            nodes,
            server,
            node_timeout,
            locals,
        }
    }

    fn quorum(&self) -> usize {
        quorum::quorum(self.nodes.len())
    }

    /// Runs `invocation` on the masters `asked` names (by index), at once, and waits until
    /// each answered or `settled` says the replies so far decide the operation: each master's
    /// reply, `None` for one not asked or not waited for. The calls not waited for are
    /// dropped or finished in the background, as `stragglers` says.
    async fn everywhere<T: redis::FromRedisValue + Send + 'static>(
        &self,
        invocation: redis::ScriptInvocation<'static>,
        keys: &KeySet,
        via: &Via,
        asked: impl Fn(usize) -> bool,
        settled: impl Fn(&[Option<Result<T>>]) -> bool,
        stragglers: Stragglers,
    ) -> Vec<Option<Result<T>>> {
        let invocation = Arc::new(invocation);
        let key: Option<Arc<str>> = keys.keys.first().map(|key| key.as_str().into());
        let (conns, local) = match via {
            Via::Shared => (None, None),
            Via::Local(local) => match &local.conn {
                LocalConn::Redlock(conns) => (Some(conns.clone()), Some(local.clone())),
                _ => {
                    let mut replies: Vec<Option<Result<T>>> =
                        self.nodes.iter().map(|_| None).collect();
                    replies[0] = Some(Err(Local::foreign(&self.server)));
                    return replies;
                }
            },
        };
        let calls = self.nodes.iter().enumerate().map(|(index, node)| {
            asked(index).then(|| {
                let conn = conns.as_ref().and_then(|conns| conns.get(index)?.clone());
                let call = Call {
                    node: node.clone(),
                    invocation: invocation.clone(),
                    key: key.clone(),
                    timeout: self.node_timeout,
                };
                call.run(conn, local.clone(), self.locals.clone(), stragglers)
            })
        });
        let (replies, left) = settle(calls.collect(), settled).await;
        if !left.is_empty() && stragglers != Stragglers::Drop {
            tokio::spawn(join_all(left));
        }
        replies
    }

    /// Runs `invocation` on `nodes` at once, over the crate's connections: each one's reply,
    /// in their order.
    async fn on<T: redis::FromRedisValue>(
        &self,
        nodes: &[Arc<Node>],
        invocation: &redis::ScriptInvocation<'_>,
        keys: &KeySet,
    ) -> Vec<Result<T>> {
        let key = keys.keys.first().map(String::as_str);
        join_all(
            nodes
                .iter()
                .map(|node| node.invoke::<T>(invocation, key, self.node_timeout, None)),
        )
        .await
    }

    /// The error of an operation that only `answered` masters answered.
    fn unreachable(&self, answered: usize, errors: Vec<Error>) -> Error {
        // A master's own refusal (authentication, ACL …) is more telling than a count.
        if let Some(refused) = errors
            .iter()
            .position(|e| matches!(e, Error::Refused { .. }))
        {
            return errors.into_iter().nth(refused).expect("just found");
        }
        let cause = errors
            .first()
            .map(|error| {
                let source = std::error::Error::source(error)
                    .map(|source| format!(": {source}"))
                    .unwrap_or_default();
                format!("; first failure: {error}{source}")
            })
            .unwrap_or_default();
        Error::unreachable(
            &self.server,
            std::io::ErrorKind::NotConnected,
            &format!(
                "only {answered} of {} Redlock masters answered, and {} are needed for a \
                 quorum{cause}",
                self.nodes.len(),
                self.quorum()
            ),
        )
    }

    /// One attempt on every master, over the connections `via` names. It is settled as soon as
    /// a quorum took the lock, without waiting for the other masters.
    async fn attempt(
        &self,
        keys: &KeySet,
        token: &str,
        ttl: Duration,
        fencing: bool,
        via: &Via,
    ) -> Result<Attempt> {
        if fencing {
            return Err(fencing_refused());
        }
        let started = Instant::now();
        let attempt = next_attempt();
        let mut invocation = scripts::ACQUIRE.prepare_invoke();
        script_keys(&mut invocation, keys);
        invocation
            .arg(token)
            .arg(protocol::ttl_millis(ttl))
            .arg(attempt);
        let quorum = self.quorum();
        let replies = self
            .everywhere::<AcquireReply>(
                invocation,
                keys,
                via,
                |_| true,
                |replies| answers(replies).filter(|reply| **reply == [1]).count() >= quorum,
                Stragglers::Finish,
            )
            .await;
        // The masters this attempt may have taken: those that took it, failed or were not
        // waited for.
        let took: Vec<bool> = replies
            .iter()
            .map(|reply| !matches!(reply, Some(Ok(reply)) if reply != &[1]))
            .collect();
        let (replies, errors) = split(replies);
        let mut parts = Vec::with_capacity(replies.len());
        let mut wrong_type = None;
        for reply in &replies {
            match reply.as_slice() {
                [1] => parts.push(Part::Taken),
                [0, _, pttl] => parts.push(Part::Held(protocol::pttl_from_reply(*pttl))),
                // Void for this attempt: a late call, or a later attempt got there first.
                [2, _] => parts.push(Part::Held(Some(Duration::ZERO))),
                [-1, i] => wrong_type = usize::try_from(*i - 1).ok(),
                _ => {
                    return Err(Error::Protocol {
                        server: self.server.clone(),
                        detail: format!("the Redlock acquire script replied {reply:?}"),
                    });
                }
            }
        }
        let valid = started.elapsed() + protocol::drift(ttl) < ttl;
        let verdict = match wrong_type {
            Some(_) => Verdict::Busy(None),
            None => quorum::judge(&parts, self.nodes.len(), valid, jitter()),
        };
        if verdict == Verdict::Acquired {
            return Ok(Attempt::Acquired { fences: Vec::new() });
        }
        // Give back what this attempt took (or may have taken, on a master that did not
        // answer), without waking anyone: the lock was never ours. On the same connections,
        // so that no master sees this before the attempt.
        if took.contains(&true) {
            let _ = self
                .release_all(keys, token, attempt, via, |index| took[index])
                .await;
        }
        if let Some(index) = wrong_type {
            return Err(Error::WrongType {
                key: keys.keys.get(index).cloned().unwrap_or_default(),
                server: self.server.clone(),
            });
        }
        match verdict {
            Verdict::Unreachable { answered } => Err(self.unreachable(answered, errors)),
            Verdict::Busy(pttl) => Ok(Attempt::Busy { pttl }),
            Verdict::Acquired => unreachable!("returned above"),
        }
    }

    /// Runs the release script for `attempt` of `token` ([`scripts::EVERY_ATTEMPT`]: the
    /// holder's release, which announces) on the masters `asked` names, and waits for them all.
    async fn release_all(
        &self,
        keys: &KeySet,
        token: &str,
        attempt: u64,
        via: &Via,
        asked: impl Fn(usize) -> bool,
    ) -> (Vec<Vec<i64>>, Vec<Error>) {
        let invocation = release_invocation(keys, token, attempt);
        let stragglers = Stragglers::FinishOrResend;
        split(
            self.everywhere(invocation, keys, via, asked, |_| false, stragglers)
                .await,
        )
    }

    /// How many keys a quorum reported as `token`'s, from per-key flags.
    fn count_ours(
        &self,
        keys: &KeySet,
        (flags, errors): (Vec<Vec<i64>>, Vec<Error>),
    ) -> Result<usize> {
        let answered = flags.len();
        quorum::ours(&flags, keys.keys.len(), self.nodes.len())
            .map_err(|()| self.unreachable(answered, errors))
    }

    /// Every master's view of every key: `(kind, pttl, value)` per key, per master that
    /// answered; an error when fewer than a quorum did, or a key holds another type.
    async fn read(&self, keys: &KeySet) -> Result<Vec<Vec<(i64, i64, Option<String>)>>> {
        let mut invocation = scripts::READ.prepare_invoke();
        invocation.key(&keys.keys);
        let (replies, errors) = split(
            self.everywhere::<Vec<(i64, i64, Option<String>)>>(
                invocation,
                keys,
                &Via::Shared,
                |_| true,
                |_| false,
                Stragglers::Drop,
            )
            .await,
        );
        if replies.len() < self.quorum() {
            return Err(self.unreachable(replies.len(), errors));
        }
        for reply in &replies {
            if let Some(index) = reply.iter().position(|(kind, _, _)| *kind < 0) {
                return Err(Error::WrongType {
                    key: keys.keys[index].clone(),
                    server: self.server.clone(),
                });
            }
        }
        Ok(replies)
    }

    /// What a majority says of key `index`, from [`read`](Redlock::read)'s replies.
    fn majority(
        &self,
        replies: &[Vec<(i64, i64, Option<String>)>],
        index: usize,
    ) -> Option<(String, Option<Duration>)> {
        let views: Vec<_> = replies
            .iter()
            .filter_map(|reply| reply.get(index))
            .map(|(_, pttl, value)| {
                let token = value.as_deref().map(scripts::token_of);
                (token, protocol::pttl_from_reply(*pttl))
            })
            .collect();
        quorum::majority(&views, self.nodes.len()).map(|(value, pttl)| (value.to_owned(), pttl))
    }
}

/// The replies of the masters that answered, and the errors of those that failed (masters
/// not asked or not waited for are in neither).
fn split<T>(replies: Vec<Option<Result<T>>>) -> (Vec<T>, Vec<Error>) {
    let mut answered = Vec::with_capacity(replies.len());
    let mut errors = Vec::new();
    for reply in replies.into_iter().flatten() {
        match reply {
            Ok(reply) => answered.push(reply),
            Err(error) => errors.push(error),
        }
    }
    (answered, errors)
}

/// The replies so far that are answers.
fn answers<T>(replies: &[Option<Result<T>>]) -> impl Iterator<Item = &T> + Clone {
    replies
        .iter()
        .filter_map(|reply| reply.as_ref()?.as_ref().ok())
}

/// Drives `calls` (one per master, `None` for one not asked) at once until each is done or
/// `settled` says the replies so far are enough: the replies, and the calls still running.
/// Each round polls every call left, so every call is polled (queued on its connection) at
/// least once.
async fn settle<T>(
    mut calls: Vec<Option<BoxFuture<'static, Result<T>>>>,
    settled: impl Fn(&[Option<Result<T>>]) -> bool,
) -> (Vec<Option<Result<T>>>, Vec<BoxFuture<'static, Result<T>>>) {
    let mut replies: Vec<Option<Result<T>>> = calls.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (call, reply) in calls.iter_mut().zip(replies.iter_mut()) {
            if let Some(future) = call
                && let Poll::Ready(done) = future.as_mut().poll(cx)
            {
                *reply = Some(done);
                *call = None;
            }
        }
        match calls.iter().all(Option::is_none) || settled(&replies) {
            true => Poll::Ready(()),
            false => Poll::Pending,
        }
    })
    .await;
    (replies, calls.into_iter().flatten().collect())
}

/// What becomes of the calls an operation no longer waits for, once a quorum settled it.
///
/// A call cannot simply be dropped once queued: redis-rs does not send a request whose caller
/// went away before its connection took it from the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stragglers {
    /// Dropped: a read's.
    Drop,
    /// Finished in a task of their own, on the caller's runtime: an acquisition's, so that the
    /// lock reaches every master it can (also one still being connected to). Late, such a
    /// call is harmless: a release that came first left a void mark.
    Finish,
    /// Finished, and sent again on the crate runtime if their task is dropped before its end
    /// (the caller's runtime shutting down): a release's, which must reach every master.
    FinishOrResend,
}

/// One master's part of an operation, owning what it needs (it may outlive the operation).
#[derive(Clone)]
struct Call {
    node: Arc<Node>,
    invocation: Arc<redis::ScriptInvocation<'static>>,
    /// The first key, for messages.
    key: Option<Arc<str>>,
    timeout: Duration,
}

impl Call {
    /// The call on `conn` (a connection of `local`, the caller's runtime), else on the crate's
    /// connection to the master.
    fn run<T: redis::FromRedisValue + Send + 'static>(
        self,
        conn: Option<MultiplexedConnection>,
        local: Option<Local>,
        locals: Arc<Locals<NodeConns>>,
        stragglers: Stragglers,
    ) -> BoxFuture<'static, Result<T>> {
        Box::pin(async move {
            let resend = stragglers == Stragglers::FinishOrResend;
            let mut resend = Resend(resend.then(|| self.clone()));
            let key = self.key.as_deref();
            let reply = match self
                .node
                .invoke::<T>(&self.invocation, key, self.timeout, conn.as_ref())
                .await
            {
                // A caller runtime's connection that broke stays broken: open them again
                // for later calls, and send this one again on the crate's connection to
                // that master (every script sent here is safe to run twice, and late).
                Err(error) if conn.is_some() && error.is_broken_connection() => {
                    if let Some(local) = &local {
                        locals.failed(local);
                    }
                    self.node
                        .invoke::<T>(&self.invocation, key, self.timeout, None)
                        .await
                }
                reply => reply,
            };
            resend.0 = None;
            reply
        })
    }
}

/// Sends its call again on the crate runtime if dropped while armed (`Some`).
struct Resend(Option<Call>);

impl Drop for Resend {
    fn drop(&mut self) {
        if let Some(call) = self.0.take() {
            runtime::spawn_detached(async move {
                let key = call.key.as_deref();
                let _ = call
                    .node
                    .invoke::<redis::Value>(&call.invocation, key, call.timeout, None)
                    .await;
            });
        }
    }
}

/// The next attempt number: it only grows in this process (see `scripts`).
fn next_attempt() -> u64 {
    static ATTEMPTS: AtomicU64 = AtomicU64::new(1);
    ATTEMPTS.fetch_add(1, Ordering::Relaxed)
}

/// A script's `KEYS` for `keys`: the lock keys, then their void marks.
fn script_keys(invocation: &mut redis::ScriptInvocation<'_>, keys: &KeySet) {
    invocation.key(&keys.keys).key(keys.voids());
}

/// The release script's call for `attempt` of `token` (the holder's release, announced, for
/// [`scripts::EVERY_ATTEMPT`]; an attempt's clean-up, silent, otherwise).
fn release_invocation(
    keys: &KeySet,
    token: &str,
    attempt: u64,
) -> redis::ScriptInvocation<'static> {
    let mut invocation = scripts::RELEASE.prepare_invoke();
    script_keys(&mut invocation, keys);
    let announce = attempt == scripts::EVERY_ATTEMPT;
    invocation
        .arg(token)
        .arg(if announce { "1" } else { "0" })
        .arg(attempt)
        .arg(keys.channels());
    invocation
}

/// Why fencing is refused on Redlock.
pub(crate) fn fencing_refused() -> Error {
    Error::InvalidConfig {
        option: "fencing",
        reason: "fencing tokens are not offered on Redlock: independent masters keep \
                 independent counters, so no single round trip can issue a number greater \
                 than every earlier holder's; turn fencing off for this lock, or lock on one \
                 server, a Sentinel or a Cluster deployment where a counter lives in one place"
            .into(),
    }
}

/// A random delay up to [`MAX_JITTER`], so contenders that split the masters between them do
/// not retry in step.
fn jitter() -> Duration {
    let random = uuid::Uuid::new_v4().as_u128();
    let max = u128::from(protocol::ttl_millis(MAX_JITTER)) * 1000;
    Duration::from_micros(u64::try_from(random % max).unwrap_or(0))
}

impl Backend for Redlock {
    fn server(&self) -> &str {
        &self.server
    }

    fn acquire<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
        fencing: bool,
        _probe: bool,
        via: &'a Via,
    ) -> BoxFuture<'a, Result<Attempt>> {
        Box::pin(self.attempt(keys, token, ttl, fencing, via))
    }

    fn local(&self) -> Option<Local> {
        self.locals.get()
    }

    fn local_failed(&self, local: &Local) {
        self.locals.failed(local);
    }

    fn wait_attempt<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
        fencing: bool,
        _wait: WaitAttempt,
    ) -> BoxFuture<'a, Result<Attempt>> {
        Box::pin(self.attempt(keys, token, ttl, fencing, &Via::Shared))
    }

    fn release<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        via: &'a Via,
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            // Settled as soon as a quorum's replies decide how many keys were ours.
            let invocation = release_invocation(keys, token, scripts::EVERY_ATTEMPT);
            let masters = self.nodes.len();
            let replies = self
                .everywhere::<Vec<i64>>(
                    invocation,
                    keys,
                    via,
                    |_| true,
                    |replies| quorum::ours(answers(replies), keys.keys.len(), masters).is_ok(),
                    Stragglers::FinishOrResend,
                )
                .await;
            self.count_ours(keys, split(replies))
        })
    }

    fn extend<'a>(
        &'a self,
        keys: &'a KeySet,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            let mut invocation = scripts::EXTEND.prepare_invoke();
            script_keys(&mut invocation, keys);
            invocation.arg(token).arg(protocol::ttl_millis(ttl));
            let replies: Vec<Result<Vec<i64>>> = self.on(&self.nodes, &invocation, keys).await;
            // Masters that answered but lack a key (restarted empty, say): retaken below once a
            // quorum confirmed the extension, so the lock keeps its full redundancy.
            let lacking: Vec<Arc<Node>> = self
                .nodes
                .iter()
                .zip(&replies)
                .filter(|(_, reply)| reply.as_ref().is_ok_and(|flags| flags.contains(&0)))
                .map(|(node, _)| node.clone())
                .collect();
            let extended = self.count_ours(keys, split(replies.into_iter().map(Some).collect()))?;
            if extended == keys.keys.len() && !lacking.is_empty() {
                let mut retake = scripts::ACQUIRE.prepare_invoke();
                script_keys(&mut retake, keys);
                retake
                    .arg(token)
                    .arg(protocol::ttl_millis(ttl))
                    .arg(next_attempt());
                let _ = self.on::<AcquireReply>(&lacking, &retake, keys).await;
            }
            Ok(extended)
        })
    }

    fn subscribe(&self, keys: &KeySet, _token: Arc<str>) -> Subscription {
        let subscribers: Vec<_> = self.nodes.iter().map(|node| node.subscriber()).collect();
        Subscription::across(&subscribers, keys.channels(), self.quorum())
    }

    fn holders<'a>(&'a self, keys: &'a KeySet) -> BoxFuture<'a, Result<Vec<Option<String>>>> {
        Box::pin(async move {
            let replies = self.read(keys).await?;
            Ok((0..keys.keys.len())
                .map(|index| self.majority(&replies, index).map(|(value, _)| value))
                .collect())
        })
    }

    fn inspect<'a>(&'a self, keys: &'a KeySet) -> BoxFuture<'a, Result<KeyState>> {
        Box::pin(async move {
            let replies = self.read(keys).await?;
            let majority = self.majority(&replies, 0);
            Ok(KeyState {
                remaining: majority.as_ref().and_then(|(_, pttl)| *pttl),
                holder: majority.map(|(holder, _)| holder),
                fencing_counter: None,
                waiters: 0,
            })
        })
    }
}
