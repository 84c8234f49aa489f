//! Reentrancy: an annotated function called while its lock is already held by the same thread
//! (plain `fn`) or the same future chain (`async fn`) runs without taking it again, instead of
//! deadlocking. Other threads and tasks still wait.

mod common;
mod support;

use std::sync::OnceLock;

use common::{lock_held as key_exists, shared_client as locks};
use redis_mutex::{Client, mutex};

// `wait = "2s"` everywhere: a reentrancy bug shows up as a `Timeout` error, not a hang.

#[mutex("{name}", client = locks(), wait = "2s", guard = lock)]
fn outer_sync(name: &str) -> Result<(bool, bool), redis_mutex::Error> {
    assert!(lock.is_some(), "the outer call takes the lock");
    let inner_guard = inner_sync(name)?;
    // Still held after the inner call returned: the inner call did not release it.
    Ok((inner_guard, key_exists(name)))
}

#[mutex("{name}", client = locks(), wait = "2s", guard = lock)]
fn inner_sync(name: &str) -> Result<bool, redis_mutex::Error> {
    Ok(lock.is_some())
}

#[test]
fn nested_sync_calls_on_one_thread_reenter() {
    let name = support::unique("reenter-sync");
    let (inner_had_guard, held_after_inner) = outer_sync(&name).expect("no deadlock");
    assert!(
        !inner_had_guard,
        "the inner call re-entered, it holds no guard of its own"
    );
    assert!(
        held_after_inner,
        "the inner call must not release the outer lock"
    );
    assert!(!key_exists(&name), "released when the outer call returns");
}

#[mutex("{name}", client = locks(), wait = "2s")]
fn recursive(name: &str, depth: u32) -> Result<u32, redis_mutex::Error> {
    if depth == 0 {
        return Ok(0);
    }
    Ok(recursive(name, depth - 1)? + 1)
}

#[test]
fn recursion_reenters() {
    let name = support::unique("reenter-recursive");
    assert_eq!(recursive(&name, 5).expect("no deadlock"), 5);
    assert!(!key_exists(&name));
}

#[mutex("{name}", client = locks(), wait = "200ms")]
fn try_from_elsewhere(name: &str) -> Result<(), redis_mutex::Error> {
    Ok(())
}

#[mutex("{name}", client = locks(), wait = "2s")]
fn holds_and_asks_another_thread(name: &str) -> Result<redis_mutex::Error, redis_mutex::Error> {
    let name = name.to_owned();
    let other = std::thread::spawn(move || try_from_elsewhere(&name));
    Ok(other
        .join()
        .expect("thread")
        .expect_err("another thread must not re-enter"))
}

#[test]
fn another_thread_does_not_reenter() {
    let name = support::unique("reenter-thread");
    let error = holds_and_asks_another_thread(&name).expect("outer lock");
    assert!(error.is_timeout(), "{error}");
}

#[mutex("{name}", client = locks(), wait = "2s", guard = lock)]
async fn outer_async(name: String) -> Result<(bool, bool, bool), redis_mutex::Error> {
    assert!(lock.is_some());
    let inner_async_guard = inner_async(name.clone()).await?;
    // A plain fn called from the async body sees the task's locks too.
    let inner_sync_guard = inner_sync(&name)?;
    Ok((inner_async_guard, inner_sync_guard, key_exists(&name)))
}

#[mutex("{name}", client = locks(), wait = "2s", guard = lock)]
async fn inner_async(name: String) -> Result<bool, redis_mutex::Error> {
    tokio::task::yield_now().await;
    Ok(lock.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_async_calls_reenter_and_sync_calls_inside_see_the_task_locks() {
    let name = support::unique("reenter-async");
    let (inner_async, inner_sync, held) = outer_async(name.clone()).await.expect("no deadlock");
    assert!(!inner_async, "the nested async call re-entered");
    assert!(
        !inner_sync,
        "the sync call inside the async body re-entered"
    );
    assert!(held, "still held after the nested calls");
    assert!(!key_exists(&name));
}

#[mutex("{name}", client = locks(), wait = "200ms")]
async fn try_async(name: String) -> Result<(), redis_mutex::Error> {
    Ok(())
}

#[mutex("{name}", client = locks(), wait = "2s")]
async fn holds_and_spawns(name: String) -> Result<redis_mutex::Error, redis_mutex::Error> {
    let spawned = tokio::spawn(try_async(name.clone()));
    Ok(spawned
        .await
        .expect("task")
        .expect_err("a spawned task must not re-enter"))
}

#[tokio::test]
async fn spawned_tasks_do_not_reenter() {
    let name = support::unique("reenter-spawn");
    let error = holds_and_spawns(name).await.expect("outer lock");
    assert!(error.is_timeout(), "{error}");
}

#[mutex(["{a}", "{b}"], client = locks(), wait = "2s", guard = lock)]
fn outer_pair(a: &str, b: &str, c: &str) -> Result<(bool, bool), redis_mutex::Error> {
    assert!(lock.is_some());
    // Two of these are held here, one is new: only the new one is taken.
    let inner_guard = inner_triple(a, b, c)?;
    Ok((inner_guard, key_exists(c)))
}

#[mutex(["{a}", "{b}", "{c}"], client = locks(), wait = "2s", guard = lock)]
fn inner_triple(a: &str, b: &str, c: &str) -> Result<bool, redis_mutex::Error> {
    assert!(key_exists(c), "the new lock is taken");
    Ok(lock.is_some_and(|guard| guard.names().as_slice() == [c.to_owned()]))
}

#[test]
fn a_list_with_some_held_names_takes_only_the_others() {
    let (a, b, c) = (
        support::unique("reenter-a"),
        support::unique("reenter-b"),
        support::unique("reenter-c"),
    );
    let (inner_guard_is_c, c_after_inner) = outer_pair(&a, &b, &c).expect("no deadlock");
    assert!(
        inner_guard_is_c,
        "the inner call's guard covers just the new name"
    );
    assert!(!c_after_inner, "the inner call released what it took");
    assert!(!key_exists(&a) && !key_exists(&b));
}

/// Reentrancy is keyed by server and prefixed key: the same name under another prefix is a
/// different lock.
fn other_prefix() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        Client::builder(support::shared().url())
            .prefix("OTHER_")
            .build()
            .expect("open client")
    })
}

/// Takes `name` through `client`; returns whether it took a guard of its own (`false`: it
/// re-entered a caller's lock).
#[mutex("{name}", client = client, wait = "1s", guard = lock)]
fn takes_its_own(name: &str, client: &Client) -> Result<bool, redis_mutex::Error> {
    Ok(lock.is_some())
}

/// Holds `name` on the shared server, as `redis://127.0.0.1:PORT/`, and calls
/// [`takes_its_own`] with `client`.
#[mutex("{name}", client = locks(), wait = "2s")]
fn holds_then_takes(name: &str, client: &Client) -> Result<bool, redis_mutex::Error> {
    takes_its_own(name, client)
}

#[test]
fn same_name_under_another_prefix_is_another_lock() {
    let name = support::unique("reenter-prefix");
    let took_its_own = holds_then_takes(&name, other_prefix()).expect("no deadlock");
    assert!(took_its_own, "a different key: taken, not re-entered");
}

// ---------------------------------------------------------------------------------------------
// A server is identified by what it is, not by how its URL is spelled

/// The shared server spelled `redis://localhost:PORT{path}`, opened once into `cell`.
fn by_host_name(cell: &'static OnceLock<Client>, path: &str) -> &'static Client {
    cell.get_or_init(|| {
        let port = support::shared().port();
        Client::open(&format!("redis://localhost:{port}{path}")).expect("open client")
    })
}

fn localhost() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    by_host_name(&CLIENT, "")
}

#[test]
fn two_spellings_of_one_server_reenter_sync() {
    let name = support::unique("reenter-spelling-sync");
    let took_its_own =
        holds_then_takes(&name, localhost()).expect("re-entered, did not wait for itself");
    assert!(!took_its_own, "the inner call re-entered the outer lock");
    assert!(!key_exists(&name));
}

#[mutex("{name}", client = locks(), wait = "2s")]
async fn holds_then_takes_async(name: String) -> Result<bool, redis_mutex::Error> {
    takes_its_own_async(name, localhost()).await
}

#[mutex("{name}", client = client, wait = "1s", guard = lock)]
async fn takes_its_own_async(name: String, client: &Client) -> Result<bool, redis_mutex::Error> {
    Ok(lock.is_some())
}

#[tokio::test]
async fn two_spellings_of_one_server_reenter_async() {
    let name = support::unique("reenter-spelling-async");
    let took_its_own = holds_then_takes_async(name.clone())
        .await
        .expect("re-entered, did not wait for itself");
    assert!(!took_its_own, "the inner call re-entered the outer lock");
    assert!(!key_exists(&name));
}

#[test]
fn another_database_is_another_lock() {
    static DB1: OnceLock<Client> = OnceLock::new();
    let name = support::unique("reenter-db");
    let took_its_own = holds_then_takes(&name, by_host_name(&DB1, "/1")).expect("no deadlock");
    assert!(took_its_own, "db 1 is not db 0: taken, not re-entered");
}

// ---------------------------------------------------------------------------------------------
// A runtime driven inside a plain fn

#[mutex("{name}", client = locks(), wait = "300ms")]
fn unrelated_plain(name: &str) -> Result<(), redis_mutex::Error> {
    Ok(())
}

/// Holds the lock and drives a current-thread runtime on this thread: the `block_on` future
/// itself is part of the call (it re-enters), a task spawned there is not (it waits).
#[mutex("{name}", client = locks(), wait = "2s")]
fn holds_and_drives_a_runtime(
    name: &str,
) -> Result<(Result<bool, redis_mutex::Error>, redis_mutex::Result<()>), redis_mutex::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (same_call, spawned) = runtime.block_on(async {
        let same_call = inner_sync(name);
        let owned = name.to_owned();
        let spawned = tokio::spawn(async move { unrelated_plain(&owned) });
        (same_call, spawned.await.expect("task"))
    });
    Ok((same_call, spawned))
}

#[test]
fn a_task_polled_inside_a_plain_fn_does_not_reenter() {
    let name = support::unique("reenter-block-on");
    let (same_call, spawned) = holds_and_drives_a_runtime(&name).expect("outer lock");
    let inner_had_guard = same_call.expect("the block_on future re-enters");
    assert!(!inner_had_guard, "the block_on future is part of the call");
    let error = spawned.expect_err("an unrelated task must wait for the lock");
    assert!(error.is_timeout(), "{error}");
}
