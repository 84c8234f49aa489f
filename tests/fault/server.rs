//! Server-side faults on a test redis-server ([`RedisServer`] from tests/support, which
//! already stops, restarts, pauses and resumes its process): servers that keep their data
//! across a restart, and the `CLIENT PAUSE`, `DEBUG SLEEP` and `CLIENT KILL` commands.

#![allow(dead_code)]

use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::support::{RedisServer, RedisServerBuilder};

/// A server that accepts `DEBUG` commands (off by default since Redis 7).
pub(crate) fn debuggable() -> RedisServerBuilder {
    RedisServer::builder()
        .arg("--enable-debug-command")
        .arg("yes")
}

/// A server whose data survives [`RedisServer::restart`] (which kills it with `SIGKILL`):
/// an append-only file synced on every write. Accepts `DEBUG` too.
pub(crate) fn persistent() -> RedisServerBuilder {
    debuggable()
        .arg("--appendonly")
        .arg("yes")
        .arg("--appendfsync")
        .arg("always")
}

/// Which clients `CLIENT KILL` drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clients {
    /// Command connections.
    Normal,
    /// Subscriber connections.
    PubSub,
}

/// `CLIENT KILL TYPE ... SKIPME yes`: drops those clients' connections; returns how many.
pub(crate) fn client_kill(server: &RedisServer, which: Clients) -> i64 {
    let kind = match which {
        Clients::Normal => "normal",
        Clients::PubSub => "pubsub",
    };
    redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg(kind)
        .arg("SKIPME")
        .arg("yes")
        .query(&mut server.raw())
        .unwrap_or_else(|err| panic!("CLIENT KILL TYPE {kind}: {err}"))
}

/// `CLIENT PAUSE <for> ALL`: the server answers no client (and expires no key) for `for_`;
/// returns at once.
pub(crate) fn client_pause(server: &RedisServer, for_: Duration) {
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(u64::try_from(for_.as_millis()).expect("a short pause"))
        .arg("ALL")
        .exec(&mut server.raw())
        .unwrap_or_else(|err| panic!("CLIENT PAUSE: {err}"));
}

/// `DEBUG SLEEP`: the server's event loop blocks for `for_` (under the 5 s timeout of
/// [`RedisServer::raw`]); runs on a thread of its own, joined when the sleep is over.
pub(crate) fn debug_sleep(server: &RedisServer, for_: Duration) -> JoinHandle<()> {
    let mut con = server.raw();
    let seconds = format!("{:.3}", for_.as_secs_f64());
    thread::spawn(move || {
        redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg(&seconds)
            .exec(&mut con)
            .unwrap_or_else(|err| panic!("DEBUG SLEEP {seconds}: {err}"));
    })
}
