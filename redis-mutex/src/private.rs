//! Support for the code `#[mutex]` generates. Not public API: no stability guarantees.
//!
//! The macro crate is pinned to this crate's exact version, so the two always agree on what is
//! here. Generated code calls, in order:
//!
//! 1. a client source: [`default_client`], [`ClientCell::get_or_open`] (a `static` per annotated
//!    function, for `server = ".."` / `prefix = ".."`) or [`IntoClient::into_client`]
//!    (`client = expr`), passed through [`with_prefix`] when `prefix = ".."` comes with it;
//! 2. [`enter_blocking`] (plain `fn`) or [`enter`] (`async fn`) with the formatted names and the
//!    compile-time [`Options`];
//! 3. on error, [`Tag`] with [`ViaResult`] / [`ViaPanic`] (autoref-based dispatch on the return
//!    type, which a never-taken `return tag.output()` fixes without naming it: see
//!    [`Tag::output`]) or [`fail`];
//! 4. for an `async fn`, [`Held::scope`] around the body, with the `on_lost` policy: `None`
//!    (continue), [`cancel`] (`on_lost = "cancel"`, a compile error unless the return type
//!    implements [`CarriesLost`]) or, by default, the same autoref dispatch as in 3 (cancel when
//!    the return type can carry the error); then [`Held::release`].
//!
//! # Reentrancy
//!
//! Each held lock is identified by its server and Redis key (prefix + name), the server by what
//! it is, not how its URL is spelled (see `ServerId`). A plain `fn` records the locks it took
//! in a thread-local stack for the duration of the call, each with the tokio task it was taken
//! in (`None` outside any task); an `async fn` runs its body in a tokio task-local scope holding
//! everything its async callers and itself hold. A plain `fn` checks both (the thread's entries
//! only when taken in the same task as the check, so a task that a lock-holding plain `fn`
//! happens to poll through `block_on` waits like any other caller), an `async fn` only the
//! task-local scope (see `Owner`); either takes only the locks not already held. Futures of
//! another executor polled inside a plain `fn` (no tokio task id) cannot be told apart from
//! the call itself: they re-enter its locks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::{Arc, LazyLock, Mutex as StdMutex, OnceLock};
use std::task::Poll;
use std::time::Duration;

use redis::ConnectionAddr;

use crate::{Client, Error, Guard, Mutex, Result, blocking};

/// What the attribute fixed at compile time.
#[derive(Debug)]
pub struct Options {
    /// `module::path::fn_name`, for panic messages.
    pub function: &'static str,
    /// `ttl = ".."`; `None`: the client's.
    pub ttl: Option<Duration>,
    /// `wait = ".."`.
    pub wait: Wait,
    /// `renew = ..`; `None`: the client's.
    pub renew: Option<bool>,
    /// `fencing = ..`; `None`: the client's.
    pub fencing: Option<bool>,
}

/// How long to wait for the locks.
#[derive(Debug, Clone, Copy)]
pub enum Wait {
    /// No `wait` option: the client's default wait (forever unless configured).
    Default,
    /// `wait = "forever"`.
    Forever,
    /// `wait = "0s"`: one attempt.
    Try,
    /// `wait = "2s"`.
    For(Duration),
}

// ---------------------------------------------------------------------------------------------
// Clients

/// The client of annotated functions without `server`, `client` or `prefix`: `Client::from_env`,
/// opened once per process.
///
/// # Errors
///
/// [`Error::InvalidUrl`] when the URL from the environment is unusable (retried on later calls).
pub fn default_client() -> Result<Client> {
    static DEFAULT: OnceLock<Client> = OnceLock::new();
    cached(&DEFAULT, Client::from_env)
}

/// The client of one annotated function with `server = ".."` and/or `prefix = ".."`, opened on
/// its first call and reused by every later one.
#[derive(Debug)]
pub struct ClientCell(OnceLock<Client>);

impl ClientCell {
    /// An empty cell, for a `static`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        ClientCell(OnceLock::new())
    }

    /// The client for `server` (default: as `Client::from_env`) with `prefix` (default: the
    /// client's), opened on first use.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for an unusable URL (retried on later calls).
    pub fn get_or_open(&self, server: Option<&str>, prefix: Option<&str>) -> Result<Client> {
        cached(&self.0, || {
            let url = server.map_or_else(crate::client::url_from_env, str::to_owned);
            let builder = Client::builder(url);
            match prefix {
                Some(prefix) => builder.prefix(prefix),
                None => builder,
            }
            .build()
        })
    }
}

fn cached(cell: &OnceLock<Client>, open: impl FnOnce() -> Result<Client>) -> Result<Client> {
    if let Some(client) = cell.get() {
        return Ok(client.clone());
    }
    let client = open()?;
    Ok(cell.get_or_init(|| client).clone())
}

/// What `client = expr` accepts.
#[diagnostic::on_unimplemented(
    message = "`client = ...` needs a `redis_mutex::Client`, found `{Self}`",
    label = "not a `redis_mutex::Client`",
    note = "pass a `Client` or `&Client` (also `&LazyLock<Client>`, `Arc<Client>`), a \
            `redis_mutex::blocking::Client`, or a `redis_mutex::Result<Client>`; for a URL, write \
            `server = \"redis://...\"` instead"
)]
pub trait IntoClient {
    /// The client, or the error that opening it gave.
    ///
    /// # Errors
    ///
    /// The error held by a `Result` argument.
    fn into_client(self) -> Result<Client>;
}

impl IntoClient for Client {
    fn into_client(self) -> Result<Client> {
        Ok(self)
    }
}

impl<F: FnOnce() -> Client> IntoClient for &LazyLock<Client, F> {
    fn into_client(self) -> Result<Client> {
        Ok(LazyLock::force(self).clone())
    }
}

impl IntoClient for Arc<Client> {
    fn into_client(self) -> Result<Client> {
        Ok((*self).clone())
    }
}

impl IntoClient for &Arc<Client> {
    fn into_client(self) -> Result<Client> {
        Ok((**self).clone())
    }
}

impl IntoClient for &Client {
    fn into_client(self) -> Result<Client> {
        Ok(self.clone())
    }
}

impl IntoClient for blocking::Client {
    fn into_client(self) -> Result<Client> {
        Ok(self.as_async().clone())
    }
}

impl IntoClient for &blocking::Client {
    fn into_client(self) -> Result<Client> {
        Ok(self.as_async().clone())
    }
}

impl<C: IntoClient> IntoClient for Result<C> {
    fn into_client(self) -> Result<Client> {
        self.and_then(IntoClient::into_client)
    }
}

/// `client = expr` with `prefix = ".."`: the client's server and connections, with that prefix.
///
/// # Errors
///
/// The error `client` holds.
pub fn with_prefix(client: Result<Client>, prefix: &str) -> Result<Client> {
    client.map(|client| client.with_prefix(prefix))
}

// ---------------------------------------------------------------------------------------------
// Held locks (reentrancy)

/// What a server is, for telling whether two clients lock in the same key space: the addresses
/// its host resolves to (or its unix socket), and the database. Not the URL's text, which
/// spells one server many ways (`localhost` or `127.0.0.1`, a trailing `/`, a password).
///
/// Two URLs name the same server when their hosts share an address (IP and port), or their
/// unix socket paths are the same file, and their databases are the same. Resolving a host
/// name is the only I/O: done on the first call for a server (not at `Client::open`), once per
/// process, and off the caller's executor in an `async fn`. A host that does not resolve is
/// identified by its name and port. Asking Redis for its `run_id` would also tell apart
/// servers behind one address (a proxy), but costs a round trip and an `INFO` permission on
/// first use; two addresses of one server (a LAN and a loopback address) remain two servers
/// here, so a call nested that way waits for itself, bounded by its `wait`.
#[derive(Debug, PartialEq, Eq)]
struct ServerId {
    place: Place,
    db: i64,
}

#[derive(Debug, PartialEq, Eq)]
enum Place {
    /// The addresses the host resolved to, sorted.
    Tcp(Vec<SocketAddr>),
    /// The unix socket, canonicalized when it exists.
    Unix(PathBuf),
    /// What could not be resolved or parsed, as written.
    Text(String),
}

impl ServerId {
    /// Identifies `server` (a URL, password redacted). Blocking: may resolve a host name.
    fn resolve(server: &str) -> ServerId {
        let Ok(info) = redis::IntoConnectionInfo::into_connection_info(server) else {
            return ServerId {
                place: Place::Text(server.to_owned()),
                db: 0,
            };
        };
        let place = match info.addr() {
            ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                let mut addrs: Vec<SocketAddr> = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .unwrap_or_default();
                addrs.sort_unstable();
                addrs.dedup();
                if addrs.is_empty() {
                    Place::Text(format!("{}:{port}", host.to_ascii_lowercase()))
                } else {
                    Place::Tcp(addrs)
                }
            }
            ConnectionAddr::Unix(path) => {
                Place::Unix(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()))
            }
            _ => Place::Text(server.to_owned()),
        };
        ServerId {
            place,
            db: info.redis_settings().db(),
        }
    }

    fn same(&self, other: &ServerId) -> bool {
        self.db == other.db
            && match (&self.place, &other.place) {
                (Place::Tcp(mine), Place::Tcp(theirs)) => {
                    mine.iter().any(|addr| theirs.contains(addr))
                }
                (mine, theirs) => mine == theirs,
            }
    }
}

/// Server identities by the client's server text, resolved once per process.
fn known_servers() -> &'static StdMutex<HashMap<String, Arc<ServerId>>> {
    static KNOWN: OnceLock<StdMutex<HashMap<String, Arc<ServerId>>>> = OnceLock::new();
    KNOWN.get_or_init(Default::default)
}

fn known_server(server: &str) -> Option<Arc<ServerId>> {
    let known = known_servers().lock().unwrap_or_else(|e| e.into_inner());
    known.get(server).cloned()
}

/// The identity of `server`, resolving it (blocking) on first use.
fn server_id(server: &str) -> Arc<ServerId> {
    if let Some(id) = known_server(server) {
        return id;
    }
    let id = Arc::new(ServerId::resolve(server));
    let mut known = known_servers().lock().unwrap_or_else(|e| e.into_inner());
    known.entry(server.to_owned()).or_insert(id).clone()
}

/// [`server_id`] for an `async fn`: the first resolution runs on a thread of its own, so a slow
/// DNS lookup does not block the caller's executor.
async fn server_id_async(server: &str) -> Arc<ServerId> {
    if let Some(id) = known_server(server) {
        return id;
    }
    let (send, receive) = tokio::sync::oneshot::channel();
    let owned = server.to_owned();
    let spawned = std::thread::Builder::new()
        .name("redis-mutex-resolve".into())
        .spawn(move || {
            let _ = send.send(server_id(&owned));
        });
    match spawned {
        Ok(_) => match receive.await {
            Ok(id) => id,
            Err(_) => server_id(server),
        },
        Err(_) => server_id(server),
    }
}

/// One held lock: its server and full key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LockId {
    server: Arc<ServerId>,
    key: String,
}

impl LockId {
    fn same(&self, other: &LockId) -> bool {
        self.key == other.key
            && (Arc::ptr_eq(&self.server, &other.server) || self.server.same(&other.server))
    }
}

/// The locks held by the current `async fn` body and its callers.
type HeldSet = Arc<[LockId]>;

tokio::task_local! {
    static TASK_HELD: HeldSet;
}

/// A lock taken by a plain `fn`, with the tokio task it was taken in (`None` outside any task,
/// including in a `block_on` future).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ThreadEntry {
    lock: LockId,
    task: Option<tokio::task::Id>,
}

thread_local! {
    /// The locks taken by the plain `fn`s running on this thread, innermost last.
    static THREAD_HELD: RefCell<Vec<ThreadEntry>> = const { RefCell::new(Vec::new()) };
}

/// Where a call looks for locks it already holds.
#[derive(Clone, Copy)]
enum Owner {
    /// A plain `fn`: its thread's stack, counting only entries taken in the current tokio task
    /// (or, like the caller, outside any task), plus the task-local scope of an `async fn`
    /// body it runs inside (it runs synchronously within that body's poll, while the lock is
    /// held). The task check matters when a plain `fn` holding a lock drives a runtime
    /// (`block_on` on a current-thread runtime): tasks polled there run on this thread, inside
    /// the call, but are not part of it.
    Thread,
    /// An `async fn`: the task-local scope only. Not the thread's stack: the future may be
    /// polled on other threads, and outlive the plain `fn` that happened to poll it first.
    Task,
}

/// Whether the caller already holds the lock `id`.
fn is_held(id: &LockId, owner: Owner) -> bool {
    let in_thread = matches!(owner, Owner::Thread) && {
        let task = tokio::task::try_id();
        THREAD_HELD.with(|held| {
            held.borrow()
                .iter()
                .any(|entry| entry.task == task && entry.lock.same(id))
        })
    };
    in_thread
        || TASK_HELD
            .try_with(|held| held.iter().any(|held| held.same(id)))
            .unwrap_or(false)
}

/// The configured lock on the names not held yet (`None` when all are), with their ids.
fn plan(
    client: &Client,
    server: &Arc<ServerId>,
    names: &[String],
    options: &Options,
    owner: Owner,
) -> Result<(Option<Mutex>, Vec<LockId>)> {
    let all = client.mutex(names)?;
    let (fresh, ids): (Vec<&String>, Vec<LockId>) = all
        .names()
        .as_slice()
        .iter()
        .zip(all.keys())
        .map(|(name, key)| {
            let id = LockId {
                server: server.clone(),
                key: key.clone(),
            };
            (name, id)
        })
        .filter(|(_, id)| !is_held(id, owner))
        .unzip();
    if fresh.is_empty() {
        return Ok((None, ids));
    }
    let mutex = if fresh.len() == all.names().len() {
        all
    } else {
        client.mutex(fresh.as_slice())?
    };
    let mut mutex = match options.ttl {
        Some(ttl) => mutex.with_ttl(ttl)?,
        None => mutex,
    };
    if let Some(renew) = options.renew {
        mutex = mutex.with_renewal(renew);
    }
    if let Some(fencing) = options.fencing {
        mutex = mutex.with_fencing(fencing);
    }
    if let Wait::Forever = options.wait {
        mutex = mutex.with_wait(None);
    }
    Ok((Some(mutex), ids))
}

/// Takes the locks of a plain `fn` (blocking), or notes that this thread or task holds them.
///
/// # Errors
///
/// Opening the client, an invalid name or TTL, and acquisition errors.
pub fn enter_blocking(
    client: Result<Client>,
    names: &[String],
    options: &Options,
) -> Result<BlockingHeld> {
    let client = client?;
    let server = server_id(client.server());
    let (mutex, ids) = plan(&client, &server, names, options, Owner::Thread)?;
    let Some(mutex) = mutex else {
        return Ok(BlockingHeld {
            guard: None,
            entries: Vec::new(),
            not_send: PhantomData,
        });
    };
    let mutex = blocking::Mutex::from(mutex);
    let guard = match options.wait {
        Wait::Default | Wait::Forever => mutex.lock(),
        Wait::Try => mutex.try_lock(),
        Wait::For(wait) => mutex.try_lock_for(wait),
    }?;
    let task = tokio::task::try_id();
    let entries: Vec<ThreadEntry> = ids
        .into_iter()
        .map(|lock| ThreadEntry { lock, task })
        .collect();
    THREAD_HELD.with(|held| held.borrow_mut().extend(entries.iter().cloned()));
    Ok(BlockingHeld {
        guard: Some(guard),
        entries,
        not_send: PhantomData,
    })
}

/// The locks a plain `fn` took; dropping it forgets them and releases them (waiting for the
/// release).
pub struct BlockingHeld {
    guard: Option<blocking::Guard>,
    entries: Vec<ThreadEntry>,
    /// Bound to the thread whose thread-local it updates.
    not_send: PhantomData<*const ()>,
}

impl BlockingHeld {
    /// The guard for `guard = name`: `None` when a caller already held every lock.
    pub fn guard(&self) -> Option<&blocking::Guard> {
        self.guard.as_ref()
    }
}

impl Drop for BlockingHeld {
    fn drop(&mut self) {
        if self.entries.is_empty() {
            return;
        }
        // `try_with`: during thread teardown the thread-local may already be gone.
        let _ = THREAD_HELD.try_with(|held| {
            let mut held = held.borrow_mut();
            for entry in self.entries.iter().rev() {
                if let Some(at) = held.iter().rposition(|held| held == entry) {
                    held.remove(at);
                }
            }
        });
        // Then `guard` drops, releasing the locks.
    }
}

impl fmt::Debug for BlockingHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingHeld")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

/// Takes the locks of an `async fn`, or notes that its callers hold them.
///
/// # Errors
///
/// Opening the client, an invalid name or TTL, and acquisition errors.
pub async fn enter(client: Result<Client>, names: &[String], options: &Options) -> Result<Held> {
    let inherited = TASK_HELD.try_with(Arc::clone).ok();
    let client = client?;
    let server = server_id_async(client.server()).await;
    let (mutex, ids) = plan(&client, &server, names, options, Owner::Task)?;
    let guard = match mutex {
        None => None,
        Some(mutex) => Some(match options.wait {
            Wait::Default | Wait::Forever => mutex.lock().await,
            Wait::Try => mutex.try_lock().await,
            Wait::For(wait) => mutex.try_lock_for(wait).await,
        }?),
    };
    let scope: HeldSet = inherited
        .iter()
        .flat_map(|held| held.iter())
        .chain(&ids)
        .cloned()
        .collect();
    Ok(Held { guard, scope })
}

/// The locks an `async fn` holds while its body runs.
#[derive(Debug)]
pub struct Held {
    guard: Option<Guard>,
    scope: HeldSet,
}

impl Held {
    /// The guard for `guard = name`: `None` when a caller already held every lock.
    pub fn guard(&self) -> Option<&Guard> {
        self.guard.as_ref()
    }

    /// Runs the body with the held locks visible to the functions it calls. The type parameter
    /// fixes the body's output to the function's declared return type, so `?` inside it infers.
    ///
    /// With `on_lost`, the body races the loss of the guard this call took (polled body first,
    /// so a body that completes wins): once [`Guard::lost`] completes, the body is dropped at
    /// the await it is parked on and `on_lost(Error::Lost { .. })` is returned. Without a
    /// guard (every lock re-entered), the caller's guard covers the call: the body just runs.
    pub async fn scope<R, F: Future<Output = R>>(
        &self,
        body: F,
        on_lost: Option<fn(Error) -> R>,
    ) -> R {
        let body = TASK_HELD.scope(self.scope.clone(), body);
        let (Some(guard), Some(on_lost)) = (&self.guard, on_lost) else {
            return body.await;
        };
        // The inner block owns the pinned body: leaving it drops the body, so nothing more of
        // it runs once the loss is reported.
        let finished = {
            let mut body = pin!(body);
            let mut lost = pin!(guard.lost());
            poll_fn(|cx| {
                if let Poll::Ready(output) = body.as_mut().poll(cx) {
                    return Poll::Ready(Some(output));
                }
                lost.as_mut().poll(cx).map(|()| None)
            })
            .await
        };
        finished.unwrap_or_else(|| {
            on_lost(Error::Lost {
                names: guard.names().clone(),
            })
        })
    }

    /// Releases the locks this call took, waiting for the release. A release error is not
    /// returned (the body's result stands) but logged: a lost lock by the runtime, any other
    /// failure (Redis unreachable, say) here, as a `Drop` release would be.
    pub async fn release(self) {
        let Some(guard) = self.guard else {
            return;
        };
        let names = guard.names().clone();
        if let Err(error) = guard.release().await
            && !error.is_lost()
        {
            tracing::warn!(lock = %names, %error, "releasing the lock of an annotated function failed; the lock frees itself when its lease runs out");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Failure: `Err(e.into())` or panic, chosen by the function's return type

/// Carries the annotated function's return type `R` for method dispatch: [`ViaResult`] applies
/// when `R` is `Result<T, E>` with `E: From<Error>`; otherwise autoref falls back to
/// [`ViaPanic`].
pub struct Tag<R>(PhantomData<fn() -> R>);

impl<R> Tag<R> {
    /// A tag for the return type `R`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Tag(PhantomData)
    }

    /// Never called: generated code writes `if false { return tag.output(); }` so that the
    /// type checker fixes `R` to the function's return type without the macro naming that type
    /// among the body's items (which may shadow it).
    #[cold]
    pub fn output(&self) -> R {
        unreachable!("`Tag::output` is only type-checked, never called")
    }
}

impl<R> fmt::Debug for Tag<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tag")
    }
}

/// Lock errors as the function's own `Err`.
pub trait ViaResult {
    /// The function's return type.
    type Output;
    /// `Err(E::from(error))`.
    fn __redis_mutex_fail(&self, error: Error, names: &[String], options: &Options)
    -> Self::Output;
    /// The default `on_lost` of an `async fn`: cancel, returning `Err(E::from(Error::Lost))`.
    fn __redis_mutex_on_lost(&self) -> Option<fn(Error) -> Self::Output>;
}

impl<T, E: From<Error>> ViaResult for Tag<std::result::Result<T, E>> {
    type Output = std::result::Result<T, E>;

    fn __redis_mutex_fail(&self, error: Error, _: &[String], _: &Options) -> Self::Output {
        Err(E::from(error))
    }

    fn __redis_mutex_on_lost(&self) -> Option<fn(Error) -> Self::Output> {
        cancel()
    }
}

/// Lock errors as a panic, for functions that cannot return them.
pub trait ViaPanic {
    /// The function's return type.
    type Output;
    /// Panics (see [`fail`]).
    fn __redis_mutex_fail(&self, error: Error, names: &[String], options: &Options)
    -> Self::Output;
    /// The default `on_lost` of an `async fn` that cannot return the error: continue (the
    /// runtime logs the loss as a warning).
    fn __redis_mutex_on_lost(&self) -> Option<fn(Error) -> Self::Output>;
}

impl<R> ViaPanic for &Tag<R> {
    type Output = R;

    #[track_caller]
    fn __redis_mutex_fail(&self, error: Error, names: &[String], options: &Options) -> R {
        fail(error, names, options)
    }

    fn __redis_mutex_on_lost(&self) -> Option<fn(Error) -> R> {
        None
    }
}

/// Return types that can carry the lost-lock error: what `on_lost = "cancel"` requires.
#[diagnostic::on_unimplemented(
    message = "`on_lost = \"cancel\"` needs a return type that can carry the lost-lock error, \
               found `{Self}`",
    label = "cannot carry `redis_mutex::Error`",
    note = "return `Result<T, E>` with `E: From<redis_mutex::Error>` (such as \
            `redis_mutex::Result<T>`, `std::io::Result<T>`, `anyhow::Result<T>`), or write \
            `on_lost = \"continue\"` to let the body finish"
)]
pub trait CarriesLost: Sized {
    /// `Err(E::from(error))`.
    fn from_lost(error: Error) -> Self;
}

impl<T, E: From<Error>> CarriesLost for std::result::Result<T, E> {
    fn from_lost(error: Error) -> Self {
        Err(E::from(error))
    }
}

/// The `on_lost = "cancel"` policy for the return type `R`.
pub fn cancel<R: CarriesLost>() -> Option<fn(Error) -> R> {
    Some(R::from_lost)
}

/// Panics with a message naming the function, the locks and the cause.
#[track_caller]
#[cold]
pub fn fail(error: Error, names: &[String], options: &Options) -> ! {
    let names = match names {
        [one] => format!("{one:?}"),
        many => format!("{many:?}"),
    };
    panic!(
        "`{}` could not take lock {names}: {error} (to handle this instead of panicking, return a \
         `Result` whose error type implements `From<redis_mutex::Error>`)",
        options.function
    )
}
