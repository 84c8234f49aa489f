//! The Lua scripts Redlock runs on each master: one master's part of an acquisition, release,
//! extension or read, atomic on that master.
//!
//! # Values: one token, numbered attempts
//!
//! A key taken by an attempt holds `<token>#<attempt>`: the owner's token, as on one server
//! (without the waiter mark of the single-server queue: Redlock has no queue), and the number
//! of the attempt that took it, from a counter that only grows in this process. An acquisition
//! may take several attempts with one token, and their calls may reach a master late and out of
//! order: a call whose reply was given up on (the per-master timeout), one left unanswered once
//! a quorum settled the operation, or one sent on another connection than the next. The
//! numbers make such a call harmless:
//!
//! * an attempt takes a key holding an earlier attempt of its token (that one's clean-up has not
//!   arrived yet), and leaves alone one holding a later attempt (this call is the late one);
//! * the clean-up of a failed attempt deletes only that attempt's value, never the key a later
//!   attempt took (and counted towards its quorum);
//! * the holder's release and extension apply to any attempt of the token.
//!
//! # Void marks
//!
//! A release that finds nothing of its own at a key leaves a void mark beside it (the key's
//! `void` companion, for [`VOID_TTL`] ms): `<token>#<n>`, attempts of `token` up to `n` (every
//! attempt, for the holder's release) are void there. An acquisition call that arrives after
//! the release that undid it (sent on another connection, or held up on a paused master) then
//! takes nothing, instead of leaving a key that would block others until its lease ran out. A
//! release that deletes its key leaves no mark, so the common case writes no extra key.
//!
//! `KEYS` are a lock's keys, one per name, followed by their void marks (not read).

use std::sync::LazyLock;

use redis::Script;

/// How long a void mark lasts, in ms: the longest a late acquisition call is guarded against.
pub(super) const VOID_TTL: u64 = 60_000;

/// The attempt number of the holder's release and extension: every attempt of a token.
pub(super) const EVERY_ATTEMPT: u64 = 1 << 53;

/// Shared by the scripts: `n`, the number of names; `mine`, the prefix of the token's values
/// (`ARGV[1]` followed by `#`); `attempt_of(v)`, the attempt number of one of the token's values
/// (`nil` for any other value); `void(i, upto, digits)`, voids the token's attempts up to `upto`
/// (written `digits`) at key `i`.
const LIB: &str = r"
local n = #KEYS / 2
local mine = ARGV[1] .. '#'
local function attempt_of(v)
  if type(v) ~= 'string' or string.sub(v, 1, #mine) ~= mine then return nil end
  return tonumber(string.sub(v, #mine + 1)) or 0
end
local function void(i, upto, digits)
  local marked = attempt_of(redis.pcall('GET', KEYS[n + i]))
  if marked == nil or marked < upto then
    redis.pcall('SET', KEYS[n + i], mine .. digits, 'PX', VOID_TTL)
  end
end
";

/// A script, with its code (to load it ahead of its first call).
pub(super) struct Lua {
    script: Script,
    code: String,
}

impl Lua {
    fn new(code: String) -> Self {
        Lua {
            script: Script::new(&code),
            code,
        }
    }
}

impl std::ops::Deref for Lua {
    type Target = Script;

    fn deref(&self) -> &Script {
        &self.script
    }
}

/// One of the scripts that use [`LIB`].
fn script(body: &str) -> Lua {
    Lua::new(format!(
        "{}{body}",
        LIB.replace("VOID_TTL", &VOID_TTL.to_string())
    ))
}

/// Attempt `ARGV[3]` of token `ARGV[1]`: takes every key with a lease of `ARGV[2]` ms, or none.
/// A key holding another token's value leaves them all alone; so does one holding a later
/// attempt of this token, or a void mark covering this attempt.
///
/// Replies `{1}` when taken, `{0, i, pttl}` when key `i` is held, `{-1, i}` when key `i` holds
/// a non-string value, `{2, i}` when this attempt is void at key `i` (superseded or released).
pub(super) static ACQUIRE: LazyLock<Lua> = LazyLock::new(|| {
    script(
        r"
local this = tonumber(ARGV[3])
for i = 1, n do
  local v = redis.pcall('GET', KEYS[i])
  if type(v) == 'table' and v.err then return {-1, i} end
  local marked = attempt_of(redis.pcall('GET', KEYS[n + i]))
  if marked ~= nil and marked >= this then return {2, i} end
  if v then
    local attempt = attempt_of(v)
    if attempt == nil then return {0, i, redis.call('PTTL', KEYS[i])} end
    if attempt > this then return {2, i} end
  end
end
for i = 1, n do
  redis.call('SET', KEYS[i], mine .. ARGV[3], 'PX', ARGV[2])
end
return {1}
",
    )
});

/// Deletes each key holding attempt `ARGV[3]` of token `ARGV[1]` (any attempt when `ARGV[3]`
/// is [`EVERY_ATTEMPT`]), and void-marks each key where there was none; with
/// `ARGV[2] == '1'`, announces each freed key on its release channel (`ARGV[3 + i]`). Replies
/// one flag per key: 1 if it was deleted.
pub(super) static RELEASE: LazyLock<Lua> = LazyLock::new(|| {
    script(
        r"
local this = tonumber(ARGV[3])
local out = {}
for i = 1, n do
  out[i] = 0
  local attempt = attempt_of(redis.pcall('GET', KEYS[i]))
  if attempt ~= nil and (attempt == this or this == EVERY_ATTEMPT) then
    redis.call('DEL', KEYS[i])
    out[i] = 1
    if ARGV[2] == '1' then redis.pcall('PUBLISH', ARGV[3 + i], '1') end
  else
    void(i, this, ARGV[3])
  end
end
return out
"
        .replace("EVERY_ATTEMPT", &EVERY_ATTEMPT.to_string())
        .as_str(),
    )
});

/// Resets to `ARGV[2]` ms the lease of each key holding any attempt of token `ARGV[1]`. Replies
/// one flag per key: 1 if extended.
pub(super) static EXTEND: LazyLock<Lua> = LazyLock::new(|| {
    script(
        r"
local out = {}
for i = 1, n do
  out[i] = 0
  if attempt_of(redis.pcall('GET', KEYS[i])) ~= nil then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    out[i] = 1
  end
end
return out
",
    )
});

/// Reads each key (`KEYS` are the lock keys only): `{kind, pttl, value}` per key, kind 1 for a
/// string, 0 for none, -1 for another type (`value` is then nil).
pub(super) static READ: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
local out = {}
for i = 1, #KEYS do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind == 'string' then
    out[i] = {1, redis.call('PTTL', KEYS[i]), redis.call('GET', KEYS[i])}
  elseif kind == 'none' then
    out[i] = {0, -2, false}
  else
    out[i] = {-1, -2, false}
  end
end
return out
"
        .to_owned(),
    )
});

/// Loads every script on `conn`, a new connection: a master that lacks a script answers its
/// first call with `NOSCRIPT`, and the call then takes a second round trip (loading it), which
/// a call left behind once a quorum settled its operation may never make. Best effort: a
/// script that could not be loaded here is loaded on its first call.
pub(super) async fn load(conn: &mut impl redis::aio::ConnectionLike) {
    let mut pipe = redis::pipe();
    for script in [&*ACQUIRE, &*RELEASE, &*EXTEND, &*READ] {
        pipe.cmd("SCRIPT").arg("LOAD").arg(&script.code).ignore();
    }
    if let Err(error) = pipe.exec_async(conn).await {
        tracing::debug!(%error, "could not load the Redlock scripts on a new connection");
    }
}

/// The token of a value [`ACQUIRE`] wrote (`<token>#<attempt>`); any other value as it is.
pub(super) fn token_of(value: &str) -> &str {
    match value.rsplit_once('#') {
        Some((token, attempt)) if attempt.bytes().all(|b| b.is_ascii_digit()) => token,
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    //! The scripts against a real `redis-server` (started here, on a free loopback port, and
    //! killed when the test ends), calls arriving in the orders a late call can take.

    use super::*;

    /// A throwaway `redis-server`, killed on drop.
    struct Server(std::process::Child, u16);

    impl Server {
        fn start() -> Self {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server on the PATH");
            Server(child, port)
        }

        fn conn(&self) -> redis::Connection {
            let client = redis::Client::open(format!("redis://127.0.0.1:{}", self.1)).unwrap();
            for _ in 0..200 {
                if let Ok(conn) = client.get_connection() {
                    return conn;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            panic!("redis-server did not start");
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    const KEY: &str = "lock";
    const VOID: &str = "lock:void";

    fn acquire(conn: &mut redis::Connection, token: &str, attempt: u64) -> Vec<i64> {
        ACQUIRE
            .key(KEY)
            .key(VOID)
            .arg(token)
            .arg(30_000)
            .arg(attempt)
            .invoke(conn)
            .unwrap()
    }

    fn release(conn: &mut redis::Connection, token: &str, attempt: u64) -> Vec<i64> {
        RELEASE
            .key(KEY)
            .key(VOID)
            .arg(token)
            .arg("0")
            .arg(attempt)
            .arg("channel")
            .invoke(conn)
            .unwrap()
    }

    fn get(conn: &mut redis::Connection, key: &str) -> Option<String> {
        redis::cmd("GET").arg(key).query(conn).unwrap()
    }

    #[test]
    fn late_calls_never_undo_a_later_attempt_or_a_release() {
        let server = Server::start();
        let conn = &mut server.conn();

        // Attempt 5 took the key; attempt 3's clean-up and attempt 3 itself arrive late.
        assert_eq!(acquire(conn, "t", 5), [1]);
        assert_eq!(release(conn, "t", 3), [0], "not attempt 3's key");
        assert_eq!(
            get(conn, VOID).as_deref(),
            Some("t#3"),
            "attempt 3 is void here"
        );
        assert_eq!(get(conn, KEY).as_deref(), Some("t#5"));
        assert_eq!(acquire(conn, "t", 3), [2, 1], "a later attempt holds it");
        assert_eq!(get(conn, KEY).as_deref(), Some("t#5"));
        // A later attempt takes over an earlier one's key; the holder's release takes any.
        assert_eq!(acquire(conn, "t", 7), [1]);
        assert_eq!(get(conn, KEY).as_deref(), Some("t#7"));
        let extended: Vec<i64> = EXTEND
            .key(KEY)
            .key(VOID)
            .arg("t")
            .arg(60_000)
            .invoke(conn)
            .unwrap();
        assert_eq!(extended, [1]);
        assert_eq!(release(conn, "t", EVERY_ATTEMPT), [1]);
        assert_eq!(get(conn, KEY), None);

        // The holder's release arrives before its acquisition: the acquisition takes nothing,
        // whatever its attempt; others are not hindered by the mark.
        assert_eq!(release(conn, "u", EVERY_ATTEMPT), [0]);
        assert_eq!(acquire(conn, "u", 9), [2, 1]);
        assert_eq!(get(conn, KEY), None);
        assert_eq!(acquire(conn, "v", 1), [1]);
        assert_eq!(release(conn, "v", EVERY_ATTEMPT), [1]);
        let marked = format!("u#{EVERY_ATTEMPT}");
        assert_eq!(
            get(conn, VOID),
            Some(marked),
            "a release that deleted leaves no mark"
        );

        // A failed attempt's clean-up before the attempt: that attempt (and earlier) take
        // nothing, a later attempt of the token still can.
        assert_eq!(release(conn, "w", 4), [0]);
        assert_eq!(acquire(conn, "w", 4), [2, 1]);
        assert_eq!(acquire(conn, "w", 3), [2, 1]);
        assert_eq!(acquire(conn, "w", 5), [1]);
        assert_eq!(get(conn, KEY).as_deref(), Some("w#5"));

        // Another token's key: held, and neither released nor extended by "t".
        assert_eq!(acquire(conn, "t", 11)[..2], [0, 1]);
        assert_eq!(release(conn, "t", EVERY_ATTEMPT), [0]);
        assert_eq!(get(conn, KEY).as_deref(), Some("w#5"));
    }

    #[test]
    fn tokens_of_values() {
        assert_eq!(token_of("abc#12"), "abc");
        assert_eq!(token_of("abc"), "abc");
        assert_eq!(token_of("a#b"), "a#b");
    }
}
