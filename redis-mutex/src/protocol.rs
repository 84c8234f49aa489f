//! The lock protocol: key layout, tokens, TTL rules and Lua scripts. No I/O lives here.
//!
//! # Layout
//!
//! * The lock key is `<prefix><name>` (default prefix `MUTEX_`, as in the Python original), a
//!   plain string holding the owner's token and carrying the lease as its TTL. A process running
//!   the original `SET MUTEX_<name> <id> NX EX 30` therefore excludes us and we exclude it.
//! * The crate's own keys and channels ("companions") live under `redis-mutex:`, a prefix no
//!   lock key may start with, so no lock name under any prefix can collide with them. Each
//!   carries the lock key's Cluster hash tag, so it hashes to the lock key's slot:
//!   `redis-mutex:{<key>}:<part>` for a key without a hash tag (`redis-mutex:{MUTEX_a}:fence`
//!   hashes `MUTEX_a`, as `MUTEX_a` does), `redis-mutex:{<tag>}:<part>:<key>` for a key with one.
//! * A release publishes on the companion channel `released` so waiters wake at once.
//! * Fencing counters live at the companion key `fence` (see `FENCE_LIB`).
//! * Waiters for a single-name lock queue in Redis, first come first served, at the companions
//!   `queue` (order), `queue-expiry` (when each entry lapses unless refreshed) and `queue-info`
//!   (each waiter's fencing flag, claim window, latest attempt and inbox channel). A release
//!   hands the lock straight to the live head of the queue and tells only that waiter's
//!   process, on its inbox channel (`g:<token>:<fence>:<attempt>`), so the lock changes hands
//!   in one round trip, in arrival order, across processes (see [`WAIT`] for when a waiter may
//!   act on such a message). A free lock with no live waiter is announced on the release
//!   channel as `1`.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::error::{Error, Result};

/// The key prefix of the Python original.
pub(crate) const DEFAULT_PREFIX: &str = "MUTEX_";

/// The lease of the Python original.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// The largest TTL accepted. Redis rejects an expiry past `i64::MAX` milliseconds since the epoch;
/// half of that leaves ample room for any clock.
pub(crate) const MAX_TTL: Duration = Duration::from_millis(i64::MAX as u64 / 2);

/// The shortest lease accepted. A lease is renewed every third of its TTL and believed over a
/// drift margin (1 % + 2 ms) early; below this, a few milliseconds of scheduling delay, a round
/// trip or a hand-over's claim use the whole lease up, and a guard would be lost as soon as it
/// is returned (the `#[mutex]` macro checks the same bound at compile time).
pub const MIN_TTL: Duration = Duration::from_millis(100);

/// Checks that `ttl` is a lease the crate can keep and Redis can take as a `PX` argument.
pub(crate) fn validate_ttl(ttl: Duration) -> Result<Duration> {
    if ttl < MIN_TTL {
        return Err(Error::InvalidTtl {
            ttl,
            reason: format!(
                "a lease must last at least {} ms (redis_mutex::MIN_TTL), or it runs out before \
                 it can be renewed; use e.g. Duration::from_secs(30), and keep it well above the \
                 longest pause you expect",
                MIN_TTL.as_millis()
            ),
        });
    }
    if ttl > MAX_TTL {
        return Err(Error::InvalidTtl {
            ttl,
            reason: format!(
                "Redis accepts at most {} ms; a lock that should outlive its holder's crash \
                 needs a finite lease, keep renewal on instead of a huge TTL",
                MAX_TTL.as_millis()
            ),
        });
    }
    Ok(ttl)
}

/// `ttl` in whole milliseconds, as sent with `PX` (validated TTLs always fit).
pub(crate) fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
}

/// The margin by which a holder's local view of its lease is shortened, for clock drift between
/// this process and Redis (the Redlock paper's `ttl * 0.01 + 2 ms`).
pub(crate) fn drift(ttl: Duration) -> Duration {
    ttl / 100 + Duration::from_millis(2)
}

/// A fresh, unguessable owner token (UUID v4, 122 random bits).
pub(crate) fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The Redis key of lock name `name`.
pub(crate) fn lock_key(prefix: &str, name: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + name.len());
    key.push_str(prefix);
    key.push_str(name);
    key
}

/// Where the crate's own keys and channels live: no lock key may start with it.
pub(crate) const COMPANION_PREFIX: &str = "redis-mutex:";

/// The hash tag Redis Cluster hashes for `key`, if it has one.
fn hash_tag(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let close = key[open + 1..].find('}')?;
    (close > 0).then(|| &key[open + 1..open + 1 + close])
}

/// Checks that `key` can be a lock key: outside the companions' namespace, and with companion
/// names that land in its Cluster slot. Returns what is wrong otherwise.
pub(crate) fn check_lock_key(key: &str) -> std::result::Result<(), String> {
    if key.starts_with(COMPANION_PREFIX) {
        return Err(format!(
            "its key `{key}` starts with `{COMPANION_PREFIX}`, which redis-mutex reserves for \
             its own keys (waiter queues, fencing counters); choose another name or key prefix"
        ));
    }
    if hash_tag(key).is_none() && key.contains('}') {
        return Err(format!(
            "its key `{key}` contains `}}` outside a `{{hash tag}}`, so redis-mutex could not \
             keep its queue and fencing counter in the same Redis Cluster slot; remove the `}}` \
             or use a complete tag such as `{{user}}:42`"
        ));
    }
    Ok(())
}

/// A key or channel name of the crate's own, for lock key `key` (checked by
/// [`check_lock_key`]): in the reserved namespace, so no lock key can be one, and in the lock
/// key's Cluster slot.
///
/// * `key` without a hash tag: `redis-mutex:{<key>}:<suffix>` (hashes `key`, as `key` does);
/// * `key` with hash tag `t`: `redis-mutex:{t}:<suffix>:<key>` (hashes `t`, as `key` does).
///
/// Distinct `(key, suffix)` pairs give distinct names: the first `}` ends the tag (a key
/// without a tag has no `}`), and suffixes have no `:`.
fn companion(key: &str, suffix: &str) -> String {
    match hash_tag(key) {
        Some(tag) => format!("{COMPANION_PREFIX}{{{tag}}}:{suffix}:{key}"),
        None => format!("{COMPANION_PREFIX}{{{key}}}:{suffix}"),
    }
}

/// The fencing counter of lock key `key`.
pub(crate) fn fence_key(key: &str) -> String {
    companion(key, "fence")
}

/// The channel a release of lock key `key` is announced on.
pub(crate) fn release_channel(key: &str) -> String {
    companion(key, "released")
}

/// The Redis names one lock uses, computed once per [`Mutex`](crate::Mutex).
#[derive(Debug)]
pub(crate) struct KeySet {
    /// The lock keys, in name order.
    pub(crate) keys: Vec<String>,
    /// The fencing counters, one per key.
    pub(crate) fences: Vec<String>,
    /// The release channels, one per key.
    pub(crate) channels: Vec<String>,
    /// For a single-name lock, the waiter queue: `[order, expiry, info]` (see [`WAIT`]).
    pub(crate) queue: Option<[String; 3]>,
}

impl KeySet {
    /// The names of the lock on `names` (sorted, deduplicated) under `prefix`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] when a name's key fails [`check_lock_key`].
    pub(crate) fn new(prefix: &str, names: &[String]) -> Result<Self> {
        let keys: Vec<String> = names.iter().map(|name| lock_key(prefix, name)).collect();
        for (name, key) in names.iter().zip(&keys) {
            check_lock_key(key).map_err(|reason| Error::InvalidName {
                name: name.clone(),
                reason,
            })?;
        }
        let queue = match keys.as_slice() {
            [key] => Some(["queue", "queue-expiry", "queue-info"].map(|part| companion(key, part))),
            _ => None,
        };
        Ok(KeySet {
            fences: keys.iter().map(|key| fence_key(key)).collect(),
            channels: keys.iter().map(|key| release_channel(key)).collect(),
            keys,
            queue,
        })
    }
}

/// Acquires every key in `KEYS[1..=n]` or none.
///
/// `ARGV`: token, ttl in ms, n, fencing flag (`"1"`). With fencing, `KEYS[n+1..=2n]` are the
/// fencing counters. Returns `{1, fence...}` when acquired, `{0, i, pttl}` when key `i` is held
/// (`pttl` as `PTTL` reports it), `{-1, i}` when key `i` holds a non-string value.
pub(crate) static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{}",
        fence_lib(),
        r"
local n = tonumber(ARGV[3])
for i = 1, n do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind == 'string' then
    return {0, i, redis.call('PTTL', KEYS[i])}
  elseif kind ~= 'none' then
    return {-1, i}
  end
end
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
local out = {1}
if ARGV[4] == '1' then
  local time = redis.call('TIME')
  for i = 1, n do
    out[i + 1] = fence_after(KEYS[n + i], time)
  end
end
return out
"
    ))
});

/// How long a fencing counter is kept after the last token it issued. Without it, tokens are
/// still issued above the last one as long as the server's clock has not stepped back by more
/// than this (see [`FENCE_LIB`]).
pub(crate) const FENCE_MEMORY: Duration = Duration::from_secs(3600);

/// Lua that issues fencing tokens: `fence_after(counter, time)` returns the next token of the
/// counter key `counter`, given the reply of `TIME`.
///
/// A token is the larger of the last token plus one and the server's clock in microseconds.
/// The counter key lives [`FENCE_MEMORY`] after its last token, so per-entity lock names do
/// not leave a key behind forever; and when the counter is gone (expired, evicted, or lost in
/// a restart without persistence) the next token still exceeds every earlier one, because
/// every earlier token was at most the clock reading when it was issued (plus the number of
/// tokens issued within the same microsecond). Tokens stay below 2^53, exact in Lua's doubles.
const FENCE_LIB: &str = r"
local function fence_after(counter, time)
  local clock = tonumber(time[1]) * 1000000 + tonumber(time[2])
  local last = tonumber(redis.call('GET', counter) or '0') or 0
  local token = math.max(last + 1, clock)
  redis.call('SET', counter, string.format('%d', token), 'PX', FENCE_MEMORY_MS)
  return token
end
";

/// The Lua prelude of every script that issues fencing tokens.
fn fence_lib() -> String {
    FENCE_LIB.replace("FENCE_MEMORY_MS", &FENCE_MEMORY.as_millis().to_string())
}

/// Lua shared by the queue scripts (after [`QUEUE_HEADER`] and [`QUEUE_PRELUDE`]): drops lapsed
/// waiters, and hands the free lock to the live head of the queue, telling it on its inbox.
const QUEUE_LIB: &str = r"
local function purge()
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', expiry, '-inf', now)) do
    redis.call('ZREM', queue, dead)
    redis.call('ZREM', expiry, dead)
    redis.call('HDEL', info, dead)
  end
end
local function leave(who)
  if redis.call('HDEL', info, who) == 1 then
    redis.call('ZREM', queue, who)
    redis.call('ZREM', expiry, who)
  end
end
local function grant_head()
  while true do
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    if not head then return nil end
    local meta = redis.call('HGET', info, head)
    redis.call('ZREM', queue, head)
    redis.call('ZREM', expiry, head)
    redis.call('HDEL', info, head)
    local fencing, claim, attempt, inbox = string.match(meta or '', '^(%d):(%d+):(%d+):(.*)$')
    if fencing then
      redis.call('SET', key, head, 'PX', claim)
      local f = ''
      if fencing == '1' then f = string.format('%d', fence_after(fence, time)) end
      if inbox == '' then inbox = channel end
      redis.pcall('PUBLISH', inbox, 'g:' .. head .. ':' .. f .. ':' .. attempt)
      return head
    end
  end
end
";

/// Binds the locals every queue script starts with.
const QUEUE_HEADER: &str = r"
local key, queue = KEYS[1], KEYS[2]
local token, channel = ARGV[1], ARGV[2]
";

/// Binds the rest of the queue's keys, and reads Redis' clock in ms.
const QUEUE_PRELUDE: &str = r"
local expiry, info, fence = KEYS[3], KEYS[4], KEYS[5]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
";

/// A waiting attempt on a single-name lock: takes the lock if it is free and we are first in
/// line, claims it if a release handed it to us, otherwise joins (or stays in) the queue.
///
/// `KEYS`: lock, queue, queue-expiry, queue-info, fence. `ARGV`: token, channel, ttl ms,
/// fencing flag, queue entry lifetime ms, inbox channel (where a hand-over to this waiter is
/// announced; one per subscriber connection, so other processes are not woken), claim window
/// ms, attempt number.
///
/// A release hands the lock to the head of the queue with a lease of only the claim window
/// (so a waiter that died in the queue holds the lock up for that long, not for a whole TTL),
/// and announces `g:<token>:<fence>:<attempt>`, `attempt` being the number of the waiter's
/// latest attempt recorded here before the hand-over. The waiter acts on that announcement
/// only if `attempt` is its latest attempt: the hand-over then happened after that attempt
/// ran, so its lease lasts at least the claim window from when that attempt was sent. Any
/// older announcement is stale (the hand-over may have lapsed and the lock changed hands since)
/// and only prompts another attempt, which claims the lock if it is still ours.
///
/// Replies: `{1[, fence]}` acquired, with a lease of `ttl` from this call (also when claiming a
/// hand-over); `{0, 1, pttl}` waiting; `{-1, 1}` wrong type.
pub(crate) static WAIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{QUEUE_HEADER}{QUEUE_PRELUDE}{QUEUE_LIB}{}",
        fence_lib(),
        r"
local ttl, fencing, window, inbox, claim, attempt =
  ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8]
purge()
local kind = redis.call('TYPE', key).ok
if kind == 'string' then
  if redis.call('GET', key) == token then
    -- A release handed the lock to us: claim it, with a full lease from this call.
    leave(token)
    redis.call('PEXPIRE', key, ttl)
    if fencing == '1' then return {1, tonumber(redis.call('GET', fence) or '0')} end
    return {1}
  end
elseif kind == 'none' then
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  if head ~= nil and head ~= token then
    head = grant_head()
  end
  if head == nil or head == token then
    leave(token)
    redis.call('SET', key, token, 'PX', ttl)
    if fencing == '1' then return {1, fence_after(fence, time)} end
    return {1}
  end
else
  return {-1, 1}
end
redis.call('ZADD', queue, 'NX', tonumber(time[1]) * 1000000 + tonumber(time[2]), token)
redis.call('ZADD', expiry, now + window, token)
redis.call('HSET', info, token, fencing .. ':' .. claim .. ':' .. attempt .. ':' .. inbox)
for _, k in ipairs({queue, expiry, info}) do
  redis.call('PEXPIRE', k, window * 2)
end
return {0, 1, redis.call('PTTL', key)}
"
    ))
});

/// Releases a single-name lock held by `token` (and takes `token` out of the queue, so it also
/// cleans up after an abandoned wait), handing the lock to the live head of the queue (see
/// [`WAIT`]). Without a queue it is a plain compare-and-delete plus the announcement.
///
/// `KEYS`: lock, queue, queue-expiry, queue-info, fence. `ARGV`: token, channel.
/// Returns 1 when the lock was ours, else 0.
pub(crate) static RELEASE_QUEUED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{QUEUE_HEADER}{}{QUEUE_PRELUDE}{QUEUE_LIB}{}",
        fence_lib(),
        r"
if redis.call('EXISTS', queue) == 0 then
  if redis.pcall('GET', key) ~= token then return 0 end
  redis.call('DEL', key)
  redis.pcall('PUBLISH', channel, '1')
  return 1
end
",
        r"
leave(token)
if redis.pcall('GET', key) ~= token then return 0 end
redis.call('DEL', key)
purge()
if not grant_head() then redis.pcall('PUBLISH', channel, '1') end
return 1
"
    ))
});

/// Deletes each key in `KEYS` that still holds token `ARGV[1]`, and announces each deletion on
/// the channel named by the matching `ARGV[i + 1]`. Returns how many keys were deleted.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local released = 0
for i = 1, #KEYS do
  if redis.pcall('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    redis.pcall('PUBLISH', ARGV[i + 1], '1')
    released = released + 1
  end
end
return released
",
    )
});

/// Sets the TTL of each key in `KEYS` that still holds token `ARGV[1]` to `ARGV[2]` ms.
/// Returns how many keys were extended.
pub(crate) static EXTEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local extended = 0
for i = 1, #KEYS do
  if redis.pcall('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    extended = extended + 1
  end
end
return extended
",
    )
});

/// What one acquire attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// All keys are ours now; one fencing token per name when fencing was asked for.
    Acquired {
        /// Fencing tokens in name order (empty without fencing).
        fences: Vec<u64>,
    },
    /// A key is held by someone else, for `pttl` more (None: no expiry, or unknown).
    Busy {
        /// The held key's remaining time to live.
        pttl: Option<Duration>,
    },
}

/// What a message on a release channel says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Announcement<'a> {
    /// The lock is free.
    Free,
    /// The lock was handed to the waiter with this token, with these fencing tokens.
    Granted {
        /// The new owner.
        token: &'a str,
        /// Its fencing token, if it asked for one.
        fence: Option<u64>,
        /// The number of the waiter's latest attempt before the hand-over (see [`WAIT`]).
        attempt: u64,
    },
}

/// Reads a release channel message.
pub(crate) fn parse_announcement(payload: &str) -> Option<Announcement<'_>> {
    if payload == "1" {
        return Some(Announcement::Free);
    }
    let mut parts = payload.strip_prefix("g:")?.split(':');
    let (token, fence, attempt) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(Announcement::Granted {
        token,
        fence: fence.parse().ok(),
        attempt: attempt.parse().ok()?,
    })
}

/// What `INFO memory` says about eviction, when it puts lock keys at risk: with `maxmemory`
/// set, every policy but `noeviction` may evict a lock key (the `volatile-*` ones pick among
/// keys with a TTL, which lock keys always have) and so let a second holder in.
pub(crate) fn eviction_risk(info: &str) -> Option<String> {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let maxmemory: u64 = field("maxmemory")?.parse().ok()?;
    let policy = field("maxmemory_policy")?;
    (maxmemory > 0 && policy != "noeviction").then(|| {
        format!(
            "maxmemory is {maxmemory} bytes with maxmemory-policy `{policy}`: under memory \
             pressure Redis may evict a held lock's key and let a second holder in, and may \
             evict fencing counters; set maxmemory-policy to `noeviction` (or keep locks on a \
             Redis without maxmemory)"
        )
    })
}

/// Interprets a `PTTL` reply: `-2` (gone) is zero, `-1` (no expiry) is `None`.
pub(crate) fn pttl_from_reply(reply: i64) -> Option<Duration> {
    match reply {
        -2 => Some(Duration::ZERO),
        ms if ms >= 0 => Some(Duration::from_millis(ms.unsigned_abs())),
        _ => None,
    }
}

/// Interprets the reply of [`ACQUIRE`] or [`WAIT`]. `Err(i)` means key `i` has the wrong type.
pub(crate) fn parse_acquire_reply(reply: &[i64]) -> Option<std::result::Result<Attempt, usize>> {
    let index = |i: i64| usize::try_from(i).ok()?.checked_sub(1);
    match reply {
        [1, fences @ ..] => Some(Ok(Attempt::Acquired {
            fences: fences.iter().map(|&f| f.unsigned_abs()).collect(),
        })),
        [0, i, pttl] => {
            index(*i)?;
            Some(Ok(Attempt::Busy {
                pttl: pttl_from_reply(*pttl),
            }))
        }
        [-1, i] => Some(Err(index(*i)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_seed_layout() {
        assert_eq!(lock_key(DEFAULT_PREFIX, "orders"), "MUTEX_orders");
    }

    #[test]
    fn companions_share_the_lock_keys_hash_tag() {
        assert_eq!(fence_key("MUTEX_a"), "redis-mutex:{MUTEX_a}:fence");
        assert_eq!(release_channel("MUTEX_a"), "redis-mutex:{MUTEX_a}:released");
        assert_eq!(hash_tag(&fence_key("MUTEX_a")), Some("MUTEX_a"));
        // A key with its own tag keeps it.
        assert_eq!(
            fence_key("MUTEX_{user}:1"),
            "redis-mutex:{user}:fence:MUTEX_{user}:1"
        );
        assert_eq!(hash_tag(&fence_key("MUTEX_{user}:1")), Some("user"));
        // `{}` is not a tag: the whole key is hashed.
        assert_eq!(hash_tag("a{}b"), None);
        assert_eq!(hash_tag(&fence_key("a{b")), Some("a{b"));
    }

    #[test]
    fn no_lock_key_is_a_companion() {
        // The findings: `{t}x` vs `{t}x:fence`, `{app}:job` vs `{app}:job:fence`.
        for (key, other) in [
            ("{t}x", "{t}x:fence"),
            ("{app}:job", "{app}:job:fence"),
            ("{t}y", "{t}y:queue"),
        ] {
            for part in ["fence", "released", "queue", "queue-expiry", "queue-info"] {
                assert_ne!(companion(key, part), other);
                assert_ne!(companion(key, part), companion(other, part));
                assert!(check_lock_key(&companion(key, part)).is_err());
            }
        }
        assert!(check_lock_key("redis-mutex:x").is_err());
        assert!(check_lock_key("a}b").is_err());
        assert!(check_lock_key("x{}y").is_err());
        assert!(check_lock_key("MUTEX_{user}:1").is_ok());
        assert!(check_lock_key("MUTEX_a{b").is_ok());
    }

    #[test]
    fn ttl_bounds() {
        assert!(validate_ttl(Duration::ZERO).is_err());
        assert!(validate_ttl(Duration::from_millis(3)).is_err());
        assert!(validate_ttl(MIN_TTL - Duration::from_nanos(1)).is_err());
        assert!(validate_ttl(MIN_TTL).is_ok());
        assert!(validate_ttl(MAX_TTL).is_ok());
        assert!(validate_ttl(MAX_TTL + Duration::from_millis(1)).is_err());
        assert!(validate_ttl(Duration::MAX).is_err());
    }

    #[test]
    fn tokens_are_unique_uuids() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn acquire_replies() {
        assert_eq!(
            parse_acquire_reply(&[1, 7, 9]),
            Some(Ok(Attempt::Acquired { fences: vec![7, 9] }))
        );
        assert_eq!(
            parse_acquire_reply(&[0, 2, -1]),
            Some(Ok(Attempt::Busy { pttl: None }))
        );
        assert_eq!(parse_acquire_reply(&[-1, 1]), Some(Err(0)));
        assert_eq!(parse_acquire_reply(&[0, 0, 5]), None);
        assert_eq!(parse_acquire_reply(&[]), None);
    }

    #[test]
    fn announcements() {
        assert_eq!(parse_announcement("1"), Some(Announcement::Free));
        assert_eq!(
            parse_announcement("g:abc:7:3"),
            Some(Announcement::Granted {
                token: "abc",
                fence: Some(7),
                attempt: 3
            })
        );
        assert_eq!(
            parse_announcement("g:abc::1"),
            Some(Announcement::Granted {
                token: "abc",
                fence: None,
                attempt: 1
            })
        );
        // A grant without an attempt number cannot be checked for freshness: not a grant.
        assert_eq!(parse_announcement("g:abc:7"), None);
        assert_eq!(parse_announcement("g:abc:7:x"), None);
        assert_eq!(parse_announcement("x"), None);
    }

    #[test]
    fn only_single_name_locks_queue_in_redis() {
        let one = KeySet::new("MUTEX_", &["a".to_owned()]).unwrap();
        assert_eq!(
            one.queue,
            Some([
                "redis-mutex:{MUTEX_a}:queue".to_owned(),
                "redis-mutex:{MUTEX_a}:queue-expiry".to_owned(),
                "redis-mutex:{MUTEX_a}:queue-info".to_owned()
            ])
        );
        let two = KeySet::new("MUTEX_", &["a".to_owned(), "b".to_owned()]).unwrap();
        assert!(two.queue.is_none());
        let reserved = KeySet::new("redis-mutex:", &["a".to_owned()]).unwrap_err();
        assert!(reserved.to_string().contains("reserves"), "{reserved}");
    }

    #[test]
    fn eviction_policies() {
        let info = |max: u64, policy: &str| {
            format!(
                "# Memory\r\nmaxmemory:{max}\r\nmaxmemory_human:0B\r\nmaxmemory_policy:{policy}\r\n"
            )
        };
        assert_eq!(eviction_risk(&info(0, "allkeys-lru")), None);
        assert_eq!(eviction_risk(&info(1 << 20, "noeviction")), None);
        for policy in [
            "allkeys-lru",
            "allkeys-random",
            "volatile-ttl",
            "volatile-lru",
        ] {
            let risk = eviction_risk(&info(1 << 20, policy)).expect(policy);
            assert!(
                risk.contains(policy) && risk.contains("noeviction"),
                "{risk}"
            );
        }
        assert_eq!(eviction_risk("garbage"), None);
    }

    #[test]
    fn drift_grows_with_ttl() {
        assert_eq!(drift(Duration::from_secs(30)), Duration::from_millis(302));
    }
}
