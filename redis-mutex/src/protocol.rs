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
//! * Waiters queue in Redis, first come first served, at the companion `queue` (order of
//!   arrival), each with an entry `waiter:<token>` (its fencing flag, claim window, latest
//!   attempt and inbox channel) that lapses unless the waiter keeps attempting. A release
//!   hands the lock straight to the live head of the queue and tells only that waiter's
//!   process, on its inbox channel (`g:<token>:<fence>:<attempt>`), so the lock changes hands
//!   in one round trip, in arrival order, across processes (see [`WAIT`] for when a waiter may
//!   act on such a message). A free lock with no live waiter is announced on the release
//!   channel as `1`.

use std::sync::{LazyLock, OnceLock};
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
pub(crate) fn hash_tag(key: &str) -> Option<&str> {
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

/// The Redis names one lock uses, computed once per [`Mutex`](crate::Mutex). Every list has
/// one entry per name, in name order. The companions (queue, entries, fence, channel) are built
/// on first use: an uncontended lock needs only its keys.
#[derive(Debug)]
pub(crate) struct KeySet {
    /// The lock keys.
    pub(crate) keys: Vec<String>,
    companions: OnceLock<Companions>,
}

/// The companion names of a lock's keys (see [`companion`]).
#[derive(Debug)]
struct Companions {
    queues: Vec<String>,
    entries: Vec<String>,
    fences: Vec<String>,
    channels: Vec<String>,
    voids: Vec<String>,
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
        Ok(KeySet::of_keys(keys))
    }

    /// The names of the lock on the (checked) lock keys `keys`.
    pub(crate) fn of_keys(keys: Vec<String>) -> Self {
        KeySet {
            keys,
            companions: OnceLock::new(),
        }
    }

    fn companions(&self) -> &Companions {
        self.companions.get_or_init(|| {
            let each = |part: &str| self.keys.iter().map(|key| companion(key, part)).collect();
            Companions {
                queues: each("queue"),
                entries: self
                    .keys
                    .iter()
                    .map(|key| companion(key, "waiter") + ":")
                    .collect(),
                fences: each("fence"),
                channels: each("released"),
                voids: each("void"),
            }
        })
    }

    /// The waiter queues (see [`WAIT`]).
    pub(crate) fn queues(&self) -> &[String] {
        &self.companions().queues
    }

    /// The prefixes of the waiters' queue entries (`<prefix><token>`).
    pub(crate) fn entries(&self) -> &[String] {
        &self.companions().entries
    }

    /// The fencing counters.
    pub(crate) fn fences(&self) -> &[String] {
        &self.companions().fences
    }

    /// The release channels.
    pub(crate) fn channels(&self) -> &[String] {
        &self.companions().channels
    }

    /// The void marks of Redlock's releases (see `backend/redlock/scripts.rs`).
    pub(crate) fn voids(&self) -> &[String] {
        &self.companions().voids
    }

    /// `KEYS` of the queue scripts ([`WAIT`], [`RELEASE`]), in their order.
    pub(crate) fn queue_script_keys(&self) -> impl Iterator<Item = &String> {
        [&self.keys[..], self.queues(), self.fences()]
            .into_iter()
            .flatten()
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

/// Lua shared by the queue scripts, after [`FENCE_LIB`].
///
/// The scripts take `KEYS` = the lock keys, then the queues and the fencing counters, `n` of
/// each (one per name, in name order), and `ARGV` = token, `n`, the `n` release channels, the
/// `n` waiter-entry prefixes, then their own arguments. `queue(i)` binds name `i`'s names.
///
/// A name's queue is a sorted set of waiter tokens by arrival (server time in µs), and each
/// waiter has an entry key (`<prefix><token>`) holding `multi:fencing:claim:attempt:inbox`
/// (whether it wants several names, whether it asked for fencing, its claim window in ms, its
/// latest attempt number, its process' inbox channel), which lives as long as the waiter keeps
/// attempting: a waiter whose entry is gone has lapsed, and is dropped when it reaches the head
/// of the queue.
const QUEUE_LIB: &str = r"
local token, n = ARGV[1], tonumber(ARGV[2])
local time
local function clock()
  if not time then time = redis.call('TIME') end
  return time
end
local function queue(i)
  return {key = KEYS[i], queue = KEYS[n + i], fence = KEYS[2 * n + i],
          channel = ARGV[2 + i], entries = ARGV[2 + n + i]}
end
-- Whether lock value `v` is `who`'s: its token, marked (someone queues behind) or not.
local function held_by(v, who)
  return v == who or v == who .. '+'
end
-- Whether lock value `v` is one of this crate's tokens (32 hex digits), marked or not.
local function crate_token(v)
  return type(v) == 'string' and string.find(v, '^' .. string.rep('[0-9a-f]', 32) .. '%+?$') ~= nil
end
-- Marks lock value `v` of `q` as having waiters, if it is one of this crate's, unmarked: its
-- holder's release then takes the queue's path instead of a plain delete.
local function mark(q, v)
  if #v == 32 and crate_token(v) then
    redis.call('APPEND', q.key, '+')
  end
end
-- Gives `q`'s lock to `who` for `ms`, marked when someone else stands in line (`others`).
local function hold(q, who, ms, others)
  if others then who = who .. '+' end
  redis.call('SET', q.key, who, 'PX', ms)
end
-- Takes `who` out of `q`'s queue.
local function leave(q, who)
  if redis.call('ZREM', q.queue, who) == 1 then
    redis.call('DEL', q.entries .. who)
  end
end
-- The live head of `q`'s queue (lapsed entries before it are dropped), its parsed entry, and
-- whether anyone stands behind it; nil when nobody lives in line.
local function head_of(q)
  while true do
    local line = redis.call('ZRANGE', q.queue, 0, 1)
    local head = line[1]
    if not head then return nil end
    local multi, fencing, claim, attempt, inbox =
      string.match(redis.call('GET', q.entries .. head) or '', '^(%d):(%d):(%d+):(%d+):(.*)$')
    if multi then
      if inbox == '' then inbox = q.channel end
      return head, {multi = multi, fencing = fencing, claim = claim, attempt = attempt,
                    inbox = inbox}, line[2] ~= nil
    end
    redis.call('ZREM', q.queue, head)
  end
end
-- Hands the free lock of `q` to `head` (see `head_of`): a single-name waiter gets it with a
-- lease of its claim window, leaves the queue and is told on its inbox (g:token:fence:attempt);
-- a multi-name waiter gets the name reserved (its token, for its claim window), stays first in
-- line, and is woken (w:token) to try for all its names. The value is marked when another
-- waiter stands behind. Returns `head`.
local function grant(q, head, entry, others)
  if not head then return nil end
  if entry.multi == '1' then
    hold(q, head, entry.claim, others)
    redis.pcall('PUBLISH', entry.inbox, 'w:' .. head)
    return head
  end
  redis.call('ZREM', q.queue, head)
  hold(q, head, entry.claim, others)
  local f = ''
  if entry.fencing == '1' then f = string.format('%d', fence_after(q.fence, clock())) end
  redis.pcall('PUBLISH', entry.inbox, 'g:' .. head .. ':' .. f .. ':' .. entry.attempt)
  return head
end
";

/// The prelude of every queue script.
fn queue_lib() -> String {
    format!("{}{QUEUE_LIB}", fence_lib())
}

/// A waiting attempt: takes every name of the lock if each is free (or reserved or handed to
/// us) and nobody is ahead of us in its queue; otherwise joins (or stays in) the queue of every
/// name, in one step, so that any two waiters stand in the same order in every queue they share.
///
/// `ARGV` after the waiter-entry prefixes: ttl ms, fencing flag, queue entry lifetime ms, inbox
/// channel (where a hand-over to this waiter is announced; one per subscriber connection, so
/// other processes are not woken), claim window ms, attempt number.
///
/// A release hands a single-name lock to the head of the queue with a lease of only the claim
/// window (so a waiter that died in the queue holds the lock up for that long, not for a whole
/// TTL), and announces `g:<token>:<fence>:<attempt>`, `attempt` being the number of the
/// waiter's latest attempt recorded here before the hand-over. The waiter acts on that
/// announcement only if `attempt` is its latest attempt: the hand-over then happened after that
/// attempt ran, so its lease lasts at least the claim window from when that attempt was sent.
/// Any older announcement is stale (the hand-over may have lapsed and the lock changed hands
/// since) and only prompts another attempt, which claims the lock if it is still ours.
///
/// A waiter for several names is first in line for some and not yet for others: each name
/// released while it is first in line is reserved for it (held with its token for the claim
/// window, renewed by each of its attempts while it stays first), and it takes all at once
/// when the last one comes free. It never holds a reservation where someone is ahead of it
/// (such a reservation goes back), and since all waiters stand in the same order in every queue
/// they share, no two waiters can each hold a reservation the other needs: no deadlock.
///
/// Queueing behind one of this crate's holders marks its value (see [`RELEASE`]).
///
/// Replies: `{1[, fence...]}` acquired, with a lease of `ttl` from this call (also when
/// claiming a hand-over); `{0, i[, pttl]}` waiting, name `i` taken (for `pttl` more, when its
/// holder is not of this crate); `{-1, i}` wrong type.
pub(crate) static WAIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{}",
        queue_lib(),
        r"
local base = 2 + 2 * n
local ttl, fencing, window = ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
local inbox, claim, attempt = ARGV[base + 4], ARGV[base + 5], ARGV[base + 6]
local qs, blocker, reserved, values = {}, nil, {}, {}
for i = 1, n do
  local q = queue(i)
  qs[i] = q
  local value = redis.pcall('GET', q.key)
  if type(value) == 'table' and value.err then return {-1, i} end
  local mine = held_by(value, token)
  if mine and n > 1 then
    -- Reserved for us once, but someone is ahead of us now (our place lapsed): it goes back.
    -- (A single name holding our token was handed over to us, which took us out of the
    -- queue: it is ours whoever stands in line.)
    local head = head_of(q)
    if head and head ~= token then
      redis.call('DEL', q.key)
      value, mine = false, false
    end
  end
  if not value then
    local head, entry, others = head_of(q)
    if head and head ~= token then
      grant(q, head, entry, others)
      value = redis.call('GET', q.key)
    else
      mine = true
    end
  end
  values[i] = value
  reserved[i] = mine and value
  if not mine and not blocker then blocker = i end
end
if not blocker then
  local out = {1}
  for i, q in ipairs(qs) do
    leave(q, token)
    hold(q, token, ttl, redis.call('ZCARD', q.queue) > 0)
    if fencing == '1' then out[i + 1] = fence_after(q.fence, clock()) end
  end
  return out
end
local now = clock()
local score = tonumber(now[1]) * 1000000 + tonumber(now[2])
local multi = '0'
if n > 1 then multi = '1' end
local entry = multi .. ':' .. fencing .. ':' .. claim .. ':' .. attempt .. ':' .. inbox
for i, q in ipairs(qs) do
  redis.call('ZADD', q.queue, 'NX', score, token)
  redis.call('SET', q.entries .. token, entry, 'PX', window)
  redis.call('PEXPIRE', q.queue, window * 2)
  if reserved[i] then
    -- Names reserved for us stay reserved while we are first in line for them.
    redis.call('PEXPIRE', q.key, claim)
  else
    -- A name someone else holds: its holder's release must hand it on.
    if values[i] then mark(q, values[i]) end
  end
end
-- A holder that is not of this crate never announces its release: the waiter looks again when
-- its lease ends. (One of this crate's holders announces, or crashed: the waiter's polling
-- notices that.)
if not crate_token(values[blocker]) then
  return {0, blocker, redis.call('PTTL', qs[blocker].key)}
end
return {0, blocker}
"
    ))
});

/// Releases the lock of `token` (and takes `token` out of the queues, so it also cleans up
/// after an abandoned wait, reservations included): each name still holding `token` goes to the
/// live head of its queue (see [`WAIT`]), or is announced free on its channel.
///
/// A waiter that queues behind one of this crate's holders marks the holder's value (`+` after
/// the token, see `mark`), and so does a hand-over to a waiter with others behind it. A single
/// name whose value is the bare token has nobody queued behind its holder, and its release is
/// a plain compare-and-delete (`GET`, `DEL`), as cheap as the simplest Redis lock: no
/// announcement is needed then, since every waiter of this crate queues (and marks) before it
/// waits, one that has not queued yet finds the name free at its next attempt, and other
/// clients poll.
///
/// Returns how many names were `token`'s.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{}{}",
        r"
local first = false
if ARGV[2] == '1' then
  first = redis.pcall('GET', KEYS[1])
  if first == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 1
  end
end
",
        queue_lib(),
        r"
local released = 0
for i = 1, n do
  local q = queue(i)
  local value = first
  if n > 1 then value = redis.pcall('GET', q.key) end
  local ours = held_by(value, token)
  -- A single name holding our token was taken or handed over, which took us out of its queue;
  -- otherwise (an abandoned wait, a multi-name reservation) we may still stand in line.
  if not ours or n > 1 then leave(q, token) end
  if ours then
    -- Handing over overwrites the key; only a name nobody waits for is deleted.
    if not grant(q, head_of(q)) then
      redis.call('DEL', q.key)
      redis.pcall('PUBLISH', q.channel, '1')
    end
    released = released + 1
  end
end
return released
"
    ))
});

/// A holder's release of a single name nobody queues behind: deletes `KEYS[1]` if it holds
/// token `ARGV[1]` unmarked and returns 1; returns -1 when it holds the token marked (a waiter
/// queues: release with [`RELEASE`], which hands the lock on), 0 when it is not the token's.
/// [`RELEASE`] does the same in its first lines, but this script takes one key and one argument
/// instead of every companion, which is all the uncontended path needs.
pub(crate) static UNLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.pcall('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
if v == ARGV[1] .. '+' then return -1 end
return 0
",
    )
});

/// The value of each key in `KEYS` (`false`, read as nil, when absent); a key of another type
/// is a `WRONGTYPE` error naming it.
pub(crate) static HOLDERS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('GET', KEYS[i])
end
return out
",
    )
});

/// Sets the TTL of each key in `KEYS` that still holds token `ARGV[1]` (marked or not) to
/// `ARGV[2]` ms. Returns how many keys were extended.
pub(crate) static EXTEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local extended = 0
for i = 1, #KEYS do
  local v = redis.pcall('GET', KEYS[i])
  if v == ARGV[1] or v == ARGV[1] .. '+' then
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
    /// A name the waiter with this token waits for was reserved for it: it should try again.
    Wake {
        /// The waiter.
        token: &'a str,
    },
}

/// The owner token in lock value `value`: the value itself, without the mark a queued waiter
/// puts after one of this crate's tokens (see [`RELEASE`]).
pub(crate) fn holder_token(mut value: String) -> String {
    if value.len() == 33
        && value.ends_with('+')
        && value[..32]
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        value.pop();
    }
    value
}

/// Reads a release channel message.
pub(crate) fn parse_announcement(payload: &str) -> Option<Announcement<'_>> {
    if payload == "1" {
        return Some(Announcement::Free);
    }
    if let Some(token) = payload.strip_prefix("w:") {
        return Some(Announcement::Wake { token });
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

/// Whether `INFO cluster` says the server runs in cluster mode.
pub(crate) fn is_cluster_node(info: &str) -> bool {
    info.lines().any(|line| line.trim() == "cluster_enabled:1")
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
        [0, i] => {
            index(*i)?;
            Some(Ok(Attempt::Busy { pttl: None }))
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
        let fence_key = |key: &str| companion(key, "fence");
        assert_eq!(fence_key("MUTEX_a"), "redis-mutex:{MUTEX_a}:fence");
        assert_eq!(
            companion("MUTEX_a", "released"),
            "redis-mutex:{MUTEX_a}:released"
        );
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
            for part in ["fence", "released", "queue", "waiter"] {
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
        assert_eq!(
            parse_announcement("w:abc"),
            Some(Announcement::Wake { token: "abc" })
        );
    }

    #[test]
    fn every_name_has_its_queue() {
        let one = KeySet::new("MUTEX_", &["a".to_owned()]).unwrap();
        assert_eq!(one.queues(), ["redis-mutex:{MUTEX_a}:queue"]);
        assert_eq!(one.entries(), ["redis-mutex:{MUTEX_a}:waiter:"]);
        let two = KeySet::new("MUTEX_", &["a".to_owned(), "b".to_owned()]).unwrap();
        assert_eq!(two.queue_script_keys().count(), 6);
        assert_eq!(two.queues()[1], "redis-mutex:{MUTEX_b}:queue");
        let reserved = KeySet::new("redis-mutex:", &["a".to_owned()]).unwrap_err();
        assert!(reserved.to_string().contains("reserves"), "{reserved}");
    }

    #[test]
    fn cluster_mode() {
        assert!(is_cluster_node("# Cluster\r\ncluster_enabled:1\r\n"));
        assert!(!is_cluster_node("# Cluster\r\ncluster_enabled:0\r\n"));
        assert!(!is_cluster_node(""));
    }

    #[test]
    fn drift_grows_with_ttl() {
        assert_eq!(drift(Duration::from_secs(30)), Duration::from_millis(302));
    }
}
