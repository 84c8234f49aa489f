//! The `#[mutex]` attribute of [redis-mutex](https://docs.rs/redis-mutex).
//!
//! Use it through the facade, `redis_mutex::mutex` (default feature `macros`); this crate is an
//! implementation detail whose output calls `redis_mutex::__private`, and its version is pinned
//! to the facade's.
#![deny(missing_docs)]

mod args;
mod cluster_url;
mod expand;
#[cfg(test)]
mod fuzz;
mod names;

use proc_macro::TokenStream;

/// Holds one or more distributed Redis locks for the duration of each call: the port of the
/// Python `@mutex(name, server=...)` decorator.
///
/// ```no_run
/// use redis_mutex::mutex;
///
/// #[mutex("account:{id}", ttl = "10s", wait = "2s")]
/// fn debit(id: u64, cents: u64) -> Result<(), redis_mutex::Error> {
///     // Only one caller at a time, in any thread or process, runs this for a given `id`.
///     # let _ = (id, cents);
///     Ok(())
/// }
/// ```
///
/// The lock is taken before the body runs and released on every way out of it: normal return,
/// early `return`, `?`, and panic. The function's signature, attributes and doc comments are
/// kept exactly; only the inside of its body changes.
///
/// # Lock names
///
/// The first argument names the lock: a string literal, or a list of them.
///
/// | form | meaning |
/// |---|---|
/// | `#[mutex("orders")]` | one lock |
/// | `#[mutex(["a", "b"])]` | several locks, taken all-or-nothing (never one without the other, and never a deadlock between two callers that list them in a different order) |
/// | `#[mutex("account:{id}")]` | `{id}` is replaced by the `Display` of the argument `id`, so each account has its own lock |
/// | `#[mutex("file:{self.path}:{n.0}")]` | fields and tuple fields of an argument (or of `self`) |
/// | `#[mutex("{{literal}}")]` | `{{` and `}}` are literal braces, as in `format!` |
///
/// A placeholder that names no argument is a compile error, and so are format specs
/// (`{id:?}`): names are built from `Display`. Names that come out empty at run time are
/// reported as [`Error::InvalidName`](https://docs.rs/redis-mutex/latest/redis_mutex/enum.Error.html).
///
/// # Options
///
/// Options follow the name, in any order, each at most once.
///
/// | option | default | meaning |
/// |---|---|---|
/// | `server = "redis://..."` | `REDIS_MUTEX_URL`, `REDIS_URL`, `redis://127.0.0.1:6379/` | the server, as a URL literal |
/// | `client = expr` | | a configured client instead of `server` (`prefix` still applies) |
/// | `ttl = "10s"` | the client's (30 s) | the lease, renewed while the body runs |
/// | `wait = "2s"` / `"0s"` / `"forever"` | the client's (forever) | how long to wait for the locks |
/// | `prefix = "app:"` | `"MUTEX_"` | the Redis key prefix |
/// | `guard = name` | | binds the guard for the body |
/// | `renew = false` | `true` | no automatic lease renewal |
/// | `fencing = true` | `false` | take a fencing token with the lock |
/// | `on_lost = "cancel"` / `"continue"` | `"cancel"` for an `async fn` whose return type can carry the error, else `"continue"` | what the body does when the lock is lost while it runs |
/// | `crate = path` | `::redis_mutex` | where the crate is, for re-exporters |
///
/// Durations are [humantime](https://docs.rs/humantime) strings (`"500ms"`, `"10s"`,
/// `"1m 30s"`), checked at compile time.
///
/// **`server = "redis://host:port/db"`**: the server, as a URL literal (the seed's `server`
/// argument, which took a bare host). It is opened on the first call and reused by every later
/// call. Without `server` or `client`, the default server is used: `REDIS_MUTEX_URL`, else
/// `REDIS_URL`, else `redis://127.0.0.1:6379/`, read on the first call of the process.
///
/// ```no_run
/// # use redis_mutex::mutex;
/// #[mutex("orders", server = "redis://10.0.0.5:6380/2")]
/// fn ship() {}
/// ```
///
/// **`client = expr`**: any expression giving a configured client, evaluated on each call: a
/// `redis_mutex::Client` or `&Client` (clones are cheap and share the connection), a
/// `&LazyLock<Client>`, an `Arc<Client>`, a `redis_mutex::blocking::Client`, or a
/// `redis_mutex::Result<Client>` (an `Err` is reported like a lock error). Cannot be combined
/// with `server` (a client knows its server). With `prefix = ".."`, the client's locks live
/// under that prefix instead of the client's own, as with `Client::with_prefix`: same server,
/// connections and defaults.
///
/// ```no_run
/// # use redis_mutex::mutex;
/// use std::sync::LazyLock;
/// use redis_mutex::Client;
///
/// static LOCKS: LazyLock<Client> = LazyLock::new(|| {
///     Client::builder("redis://127.0.0.1:6379/").prefix("app:").build().unwrap()
/// });
///
/// #[mutex("jobs", client = &LOCKS)]
/// fn run_jobs() {}
///
/// #[mutex("jobs", client = &LOCKS, prefix = "batch:")] // the key `batch:jobs`
/// fn run_batch_jobs() {}
/// ```
///
/// **`ttl = "10s"`**: the lease. If the process dies holding the lock, Redis frees it after
/// this long. While the function runs, the lease is renewed (every `ttl / 3`), so a body may
/// run longer than the lease. Default: the client's (30 s unless configured).
///
/// ```no_run
/// # use redis_mutex::mutex;
/// #[mutex("nightly-report", ttl = "2m")]
/// fn nightly_report() {}
/// ```
///
/// **`wait = "2s"`**: how long to wait for the locks before giving up with
/// `Error::Timeout`. `wait = "0s"` tries once and gives up at once with `Error::Busy` (the
/// seed's `acquire(blocking=False)`); `wait = "forever"` waits without limit, whatever the
/// client's default. Default: the client's default wait, which is forever unless configured,
/// as in the seed.
///
/// ```no_run
/// # use redis_mutex::mutex;
/// #[mutex("jobs", wait = "0s")]
/// fn run_if_idle() -> Result<(), redis_mutex::Error> { Ok(()) }
///
/// #[mutex("jobs", wait = "500ms")]
/// fn run_soon() -> Result<(), redis_mutex::Error> { Ok(()) }
/// ```
///
/// **`prefix = "app:"`**: the Redis key prefix (default `MUTEX_`, as in the seed: the lock
/// `orders` lives in the key `MUTEX_orders`). With `server`, on the default server, or with
/// `client` (replacing that client's prefix).
///
/// ```no_run
/// # use redis_mutex::mutex;
/// #[mutex("orders", prefix = "shop:lock:")] // the key `shop:lock:orders`
/// fn ship() {}
/// ```
///
/// **`guard = name`**: binds the guard so the body can read its fencing token or check that it
/// still holds the lock. The binding is an `Option`: `Some(&guard)`
/// ([`&redis_mutex::Guard`](https://docs.rs/redis-mutex/latest/redis_mutex/struct.Guard.html)
/// in an `async fn`, `&redis_mutex::blocking::Guard` in a plain `fn`), or `None` when this call
/// re-entered locks that a caller up the stack already holds (see *Reentrancy*): then the
/// caller's guard covers it.
///
/// ```no_run
/// # use redis_mutex::mutex;
/// # fn copy_chunk() {}
/// #[mutex("backup", guard = lock)]
/// fn backup() -> bool {
///     for _ in 0..100 {
///         if lock.is_some_and(|guard| !guard.is_held()) {
///             return false; // the lease was lost: stop writing
///         }
///         copy_chunk();
///     }
///     true
/// }
/// ```
///
/// **`renew = false`**: no automatic lease renewal; the lock then lasts at most `ttl`, however
/// long the body runs.
///
/// ```no_run
/// # use redis_mutex::mutex;
/// #[mutex("rate-limit", ttl = "1s", renew = false)]
/// fn at_most_one_per_second() {}
/// ```
///
/// **`fencing = true`**: take a fencing token (a number that grows with each acquisition of the
/// lock) along with the lock; read it through `guard`, and pass it to the storage, which
/// rejects writes older than the newest it saw.
///
/// ```no_run
/// # use redis_mutex::mutex;
/// # fn store(_: u64, _: Option<u64>) {}
/// #[mutex("ledger", fencing = true, guard = lock)]
/// async fn append(entry: u64) {
///     store(entry, lock.and_then(|guard| guard.fencing_token()));
/// }
/// ```
///
/// **`on_lost = "cancel"` / `"continue"`**: what an `async fn` does when its lock is lost while
/// the body runs. The lock is lost when a renewal finds its key deleted or holding another
/// owner's token, or when the lease runs out without a successful renewal (Redis unreachable
/// for longer than `ttl`, or `renew = false` and a body that outlives `ttl`); the guard notices
/// within a renewal period (`ttl / 3`), or at the lease deadline.
///
/// * `"cancel"`: the body is dropped at the `.await` it is parked on, so none of its code after
///   that point runs, and the call returns `Err(E::from(Error::Lost { .. }))` (check it with
///   `is_lost()`). Needs an `async fn` whose return type can carry the error, `Result<T, E>`
///   with `E: From<redis_mutex::Error>`; anywhere else it is a compile error.
/// * `"continue"`: the body runs to completion and its own result is returned. The loss is
///   logged as a `tracing` warning; the body can watch for it through `guard` (`is_held()`,
///   `lost()`).
///
/// The default is `"cancel"` for an `async fn` whose return type can carry the error (decided
/// from the type, as for lock errors, so aliases such as `anyhow::Result` or `io::Result`
/// count), because:
///
/// * the lock exists to guarantee exclusion: once it is lost, another holder may be running
///   the same critical section, and carrying on would silently overlap it;
/// * an async body must already tolerate being dropped at any `.await` (a timeout, `select!`,
///   an aborted task), so stopping it at one adds no new failure mode;
/// * the caller gets a typed `Error::Lost` to retry, compensate or report, instead of a result
///   that looks fine.
///
/// Everywhere else the default is `"continue"`, with the warning: a plain `fn` cannot be
/// interrupted (check `guard.is_held()` between steps instead), and an `async fn` returning
/// `()`, `Option`, ... has no way to say what happened. Write `"continue"` explicitly when
/// finishing matters more than exclusion, for instance when the storage rejects stale writes by
/// fencing token.
///
/// Cancelling takes effect at the body's next `.await`: code between two awaits (a blocking
/// call, a CPU-bound loop) runs until it yields, and what the body already did is not undone.
/// A nested call that re-entered locks its caller holds took no guard of its own: the caller's
/// guard covers it, and the caller's cancellation drops it along with the caller's body.
///
/// ```no_run
/// # use redis_mutex::mutex;
/// # async fn copy_chunk(_: u32) {}
/// # async fn send_report() {}
/// // `on_lost = "cancel"` by default here: the return type can carry the error.
/// #[mutex("backup", ttl = "10s")]
/// async fn backup() -> redis_mutex::Result<()> {
///     for chunk in 0..100 {
///         copy_chunk(chunk).await; // lock lost: `backup()` returns `Err(Error::Lost)` here
///     }
///     Ok(())
/// }
///
/// // Let the body finish, and report whether it kept the lock throughout.
/// #[mutex("report", on_lost = "continue", guard = lock)]
/// async fn report() -> redis_mutex::Result<bool> {
///     send_report().await;
///     Ok(lock.is_none_or(|guard| guard.is_held()))
/// }
/// ```
///
/// **`crate = path`**: where the `redis_mutex` crate is, for crates that re-export it, as
/// serde and tracing allow (a string, `crate = "my_facade::redis_mutex"`, works too).
///
/// ```no_run
/// # use redis_mutex::mutex;
/// # mod my_facade { pub use redis_mutex; }
/// #[mutex("orders", crate = my_facade::redis_mutex)]
/// fn ship() {}
/// ```
///
/// # `fn` and `async fn`
///
/// Works on free functions and methods (`&self`, `&mut self`, `self`), generic functions,
/// `impl Trait` arguments, trait impl methods, `unsafe fn`, any visibility. It composes with
/// `#[tokio::main]`, `#[tokio::test]`, `#[test]` and `#[tracing::instrument]`, in either
/// order. Not on a `const fn`, and not on a plain `fn` that returns a future (the lock would
/// cover only the future's creation): write an `async fn`.
///
/// Methods of an `#[async_trait]` trait or impl work as `async fn`s do. `#[async_trait]`
/// (on the `impl`) expands first and turns the method into a plain `fn` returning
/// `Pin<Box<dyn Future<Output = T> + Send + 'async_trait>>` with the body
/// `Box::pin(async move { .. })`; `#[mutex]` recognises that shape and holds the lock inside
/// the future, while it runs, as for an `async fn` returning `T`:
///
/// ```no_run
/// # use redis_mutex::mutex;
/// use async_trait::async_trait;
///
/// #[async_trait]
/// trait Ledger {
///     async fn append(&self, entry: u64) -> redis_mutex::Result<()>;
/// }
///
/// struct Remote;
///
/// #[async_trait]
/// impl Ledger for Remote {
///     #[mutex("ledger", wait = "2s")]
///     async fn append(&self, entry: u64) -> redis_mutex::Result<()> {
///         # let _ = entry;
///         Ok(())
///     }
/// }
/// ```
///
/// * A plain `fn` takes the lock with the blocking API: it can be called from any thread,
///   including from inside an async runtime (where it blocks that thread, like any blocking
///   call). The lock is released when the guard drops, on every exit.
/// * An `async fn` awaits the lock without blocking the executor. After the body completes
///   (by return, `return` or `?`), the lock is released with `.await` before the function
///   returns; if the body panics or the future is dropped mid-way, the guard's `Drop` releases
///   it in the background. If the lock is lost while the body runs, the body is cancelled when
///   its return type can carry the error (see `on_lost`).
///
/// # Errors
///
/// When the locks cannot be taken (busy with `wait = "0s"`, the wait ran out, the server is
/// unreachable or refused, a bad name or URL):
///
/// * if the function returns `Result<T, E>` where `E: From<redis_mutex::Error>` (written any
///   way: `redis_mutex::Result<T>`, `anyhow::Result<T>`, an alias), the error is returned as
///   `Err(E::from(error))` and the body does not run;
/// * otherwise the call **panics** with a message naming the function, the lock(s) and the
///   cause, as the Python decorator raises. Give the function a `Result` return type to handle
///   lock errors instead.
///
/// The choice is made by the compiler from the declared return type (trait dispatch on the
/// type, not on its name), so aliases work.
///
/// When the lock is lost while the body runs, an `async fn` whose return type can carry the
/// error returns `Err(E::from(Error::Lost { .. }))` (see `on_lost`); otherwise the body's
/// result is returned as is, and the loss is only logged (so is a failed release). Use `guard`
/// and `is_held()` to check, and `fencing = true` to protect the resource itself.
///
/// # Reentrancy
///
/// Calling an annotated function from inside another one that holds the same lock, in the same
/// thread or task, does not deadlock: the inner call sees that the lock is held and runs
/// without taking it again (its `guard` is then `None`). Locks are identified by server and
/// full key (prefix + name); a server by what it is, not how its URL is spelled: two URLs whose
/// hosts resolve to a shared address and port (`localhost` and `127.0.0.1`), or that name the
/// same unix socket, with the same database, are one server. Host names are resolved on the
/// first call, once per process. Held locks are tracked
///
/// * for a plain `fn`: per thread and tokio task, for the duration of the call. If the call
///   drives a runtime itself (`block_on` on a current-thread runtime), the `block_on` future is
///   part of the call, but the tasks polled there are not: they wait like other callers.
///   Futures of a non-tokio executor polled inside the call cannot be told apart from it, and
///   re-enter its locks;
/// * for an `async fn`: per future, for the duration of its body (a tokio `task_local!`
///   scope), so locks pass down to the futures the body awaits but not to tasks it spawns
///   (`tokio::spawn`, `spawn_blocking`), nor to sibling futures joined with it, which exclude
///   each other as separate callers do;
/// * a plain `fn` called from an `async fn`'s body sees the async caller's locks too;
/// * an `async fn` does not see the locks of a plain `fn` that runs it (say with `block_on`):
///   its future may be polled on other threads, or after that call returned, so it waits for
///   them like any other caller would. Do not nest that way.
///
/// A call whose list mixes held and unheld locks takes only the unheld ones. As with any
/// nested locking, taking *different* locks from inside a locked function can deadlock against
/// a caller that nests them the other way round: prefer one `#[mutex([..])]` with every lock,
/// or bound the wait.
///
/// # Equivalent code
///
/// ```no_run
/// # use redis_mutex::mutex;
/// # type Error = redis_mutex::Error;
/// #[mutex("account:{id}", wait = "2s")]
/// async fn debit(id: u64) -> Result<(), Error> {
///     // body
///     Ok(())
/// }
/// ```
///
/// behaves like this (the real expansion also tracks reentrancy and builds the client once):
///
/// ```no_run
/// # type Error = redis_mutex::Error;
/// # use std::time::Duration;
/// async fn debit(id: u64) -> Result<(), Error> {
///     let client = redis_mutex::Client::from_env()?;
///     let mutex = client.mutex(format!("account:{id}"))?;
///     let guard = mutex.try_lock_for(Duration::from_secs(2)).await?;
///     let body = async move {
///         // body
///         Ok(())
///     };
///     // `on_lost = "cancel"` (the default for this return type); with `"continue"`, just
///     // `body.await`.
///     let result = tokio::select! {
///         biased;
///         result = body => result,
///         () = guard.lost() => Err(redis_mutex::Error::Lost { names: guard.names().clone() }.into()),
///     };
///     let _ = guard.release().await;
///     result
/// }
/// ```
///
/// and for a plain `fn`, with the blocking API and release on drop:
///
/// ```no_run
/// # type Error = redis_mutex::Error;
/// fn debit(id: u64) -> Result<(), Error> {
///     let client = redis_mutex::Client::from_env()?.blocking();
///     let _guard = client.mutex(format!("account:{id}"))?.lock()?;
///     // body
///     Ok(())
/// }
/// ```
///
/// # Compile errors
///
/// Mistakes in the attribute are reported at the offending token, with what to write instead,
/// all at once; the function itself is still emitted unchanged, so its callers compile.
#[proc_macro_attribute]
pub fn mutex(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::mutex(args.into(), item.into()).into()
}
