//! The Lua scripts Redlock runs on each master: one master's part of an acquisition, release,
//! extension or read, atomic on that master. `KEYS` are a lock's keys, one per name.
//!
//! Lock values are the owner's token, as on one server (without the waiter mark of the
//! single-server queue: Redlock has no queue).

use std::sync::LazyLock;

use redis::Script;

/// Takes every key for token `ARGV[1]` with a lease of `ARGV[2]` ms, or none: a key holding
/// another value leaves them all alone. A key already holding the token (an earlier attempt of
/// the same acquisition got through after its reply was given up on) counts as free.
///
/// Replies `{1}` when taken, `{0, i, pttl}` when key `i` is held, `{-1, i}` when key `i` holds
/// a non-string value.
pub(super) static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for i = 1, #KEYS do
  local v = redis.pcall('GET', KEYS[i])
  if type(v) == 'table' and v.err then return {-1, i} end
  if v and v ~= ARGV[1] then return {0, i, redis.call('PTTL', KEYS[i])} end
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
return {1}
",
    )
});

/// Deletes each key still holding token `ARGV[1]`; with `ARGV[2] == '1'`, announces each
/// freed key on its release channel (`ARGV[2 + i]`). Replies one flag per key: 1 if it was the
/// token's.
pub(super) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
for i = 1, #KEYS do
  out[i] = 0
  if redis.pcall('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    out[i] = 1
    if ARGV[2] == '1' then redis.pcall('PUBLISH', ARGV[2 + i], '1') end
  end
end
return out
",
    )
});

/// Resets to `ARGV[2]` ms the lease of each key still holding token `ARGV[1]`. Replies one
/// flag per key: 1 if extended.
pub(super) static EXTEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
for i = 1, #KEYS do
  out[i] = 0
  if redis.pcall('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    out[i] = 1
  end
end
return out
",
    )
});

/// Reads each key: `{kind, pttl, value}` per key, kind 1 for a string, 0 for none, -1 for
/// another type (`value` is then nil).
pub(super) static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
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
",
    )
});
