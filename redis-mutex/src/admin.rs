//! Operator tools: what Redis holds for a lock name, and forced release.
//!
//! These are for administrators and tooling (the `redis-mutex status` and
//! `redis-mutex release --force` commands are built on them), not for the code that takes
//! locks: a program that holds a lock releases it through its [`Guard`](crate::Guard).

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::backend::Via;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::names::{IntoLockNames, LockNames};
use crate::protocol::{self, KeySet};
use crate::runtime;

/// What Redis holds for one lock name, read in one atomic step.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> redis_mutex::Result<()> {
/// let client = redis_mutex::Client::from_env()?;
/// for status in client.status(["orders", "reports"]).await? {
///     match status.remaining {
///         _ if !status.is_held() => println!("{} is free", status.name),
///         Some(left) => println!("{} is held for {left:?} more", status.name),
///         None => println!("{} is held without expiry", status.name),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockStatus {
    /// The lock name.
    pub name: String,
    /// Its Redis key (prefix + name).
    pub key: String,
    /// The holder's owner token (the value at the key), `None` when the lock is free.
    pub holder: Option<String>,
    /// What is left of the holder's lease as Redis sees it; `None` when the lock is free or its
    /// key has no expiry (set by hand, without a TTL).
    pub remaining: Option<Duration>,
    /// The last fencing token handed out for this name; `None` when none was in the last hour
    /// (a fencing counter is forgotten an hour after its last token).
    pub fencing_counter: Option<u64>,
    /// How many live waiters stand in the name's queue in Redis, waiters for locks over several
    /// names included. Clients that poll (such as the Python original) do not queue, so they
    /// are not counted.
    pub waiters: usize,
}

impl LockStatus {
    /// Whether someone holds the lock.
    pub fn is_held(&self) -> bool {
        self.holder.is_some()
    }
}

/// What [`Client::force_release`] did to one lock name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForcedRelease {
    /// The lock name.
    pub name: String,
    /// Its Redis key (prefix + name).
    pub key: String,
    /// The owner token whose lock was removed; `None` when nothing was removed (the lock was
    /// free, or changed hands between the read and the removal).
    pub removed_holder: Option<String>,
    /// What was left of the removed holder's lease (`None`: nothing removed, or no expiry).
    pub remaining: Option<Duration>,
}

impl Client {
    /// Reads what Redis holds for each of `names` (sorted, without duplicates): holder, lease
    /// left, fencing counter, queued waiters. Sends nothing but reads (one script per name;
    /// under Redis ACLs it needs `EXISTS` besides the commands a locking user needs).
    ///
    /// A runnable tour: `cargo run --example admin`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for no name or an empty one; [`Error::WrongType`] when a lock key
    /// holds a non-string value; [`Error::Unreachable`] or [`Error::Refused`] from Redis.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> redis_mutex::Result<()> {
    /// let client = redis_mutex::Client::from_env()?;
    /// let orders = client.mutex("orders")?.with_fencing(true);
    /// let guard = orders.lock().await?;
    /// let [status] = &client.status("orders").await?[..] else { unreachable!() };
    /// assert_eq!(status.holder.as_deref(), Some(guard.token()));
    /// assert_eq!(status.fencing_counter, guard.fencing_token());
    /// # Ok(()) }
    /// ```
    pub async fn status(&self, names: impl IntoLockNames) -> Result<Vec<LockStatus>> {
        let (client, names) = (self.clone(), LockNames::new(names)?);
        runtime::run(async move {
            let mut statuses = Vec::with_capacity(names.len());
            for name in names.as_slice() {
                statuses.push(client.status_of(name).await?);
            }
            Ok(statuses)
        })
        .await
    }

    /// Removes the lock on each of `names` (sorted, without duplicates) whoever holds it, as its
    /// holder's release would: the next waiter in the name's queue gets the lock, or the release
    /// is announced. Fencing counters are kept, so tokens keep increasing. The holder is not
    /// told; its next renewal finds the lock lost.
    ///
    /// This is the administrator's way out of a lock held by a stuck process, and it breaks
    /// mutual exclusion with that process if it is still working: stop it first.
    ///
    /// # Errors
    ///
    /// As [`status`](Client::status); names before the failing one may have been released.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> redis_mutex::Result<()> {
    /// let client = redis_mutex::Client::from_env()?;
    /// for released in client.force_release("orders").await? {
    ///     if let Some(holder) = released.removed_holder {
    ///         println!("removed {}'s lock on {}", holder, released.name);
    ///     }
    /// }
    /// assert!(!client.status("orders").await?[0].is_held());
    /// # Ok(()) }
    /// ```
    pub async fn force_release(&self, names: impl IntoLockNames) -> Result<Vec<ForcedRelease>> {
        let (client, names) = (self.clone(), LockNames::new(names)?);
        runtime::run(async move {
            let mut released = Vec::with_capacity(names.len());
            for name in names.as_slice() {
                released.push(client.force_release_one(name).await?);
            }
            Ok(released)
        })
        .await
    }

    /// The keys of one name, as a single-name lock on it uses them.
    fn keys_of(&self, name: &str) -> Result<KeySet> {
        KeySet::new(self.prefix(), &[name.to_owned()])
    }

    async fn status_of(&self, name: &str) -> Result<LockStatus> {
        let keys = self.keys_of(name)?;
        let state = self.server.backend.inspect(&keys).await?;
        Ok(LockStatus {
            name: name.to_owned(),
            key: keys.keys[0].clone(),
            holder: state.holder,
            remaining: state.remaining,
            fencing_counter: state.fencing_counter,
            waiters: state.waiters,
        })
    }

    async fn force_release_one(&self, name: &str) -> Result<ForcedRelease> {
        let keys = self.keys_of(name)?;
        let backend = &self.server.backend;
        let state = backend.inspect(&keys).await?;
        let mut removed = None;
        if let Some(holder) = state.holder
            && backend.release(&keys, &holder, &Via::Shared).await? > 0
        {
            tracing::warn!(lock = name, "lock released by force");
            removed = Some(holder);
        }
        Ok(ForcedRelease {
            name: name.to_owned(),
            key: keys.keys[0].clone(),
            remaining: removed.as_ref().and(state.remaining),
            removed_holder: removed,
        })
    }
}

/// The raw state of one lock name, as [`INSPECT`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyState {
    pub(crate) holder: Option<String>,
    pub(crate) remaining: Option<Duration>,
    pub(crate) fencing_counter: Option<u64>,
    pub(crate) waiters: usize,
}

/// Reads one lock name: `KEYS`: lock, fence[, queue], `ARGV`: [the waiter-entry prefix]. Returns
/// `{kind, pttl, waiters, holder, fence}`: kind 1 held, 0 free, -1 not a string; `holder` and
/// `fence` are nil when absent. Waiters are the queue entries that have not lapsed.
pub(crate) static INSPECT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'string' and kind ~= 'none' then return {-1, 0, 0, false, false} end
local fence = redis.pcall('GET', KEYS[2])
if type(fence) ~= 'string' then fence = false end
local waiters = 0
if KEYS[3] then
  for _, waiter in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    waiters = waiters + redis.call('EXISTS', ARGV[1] .. waiter)
  end
end
if kind == 'none' then return {0, -2, waiters, false, fence} end
return {1, redis.call('PTTL', KEYS[1]), waiters, redis.call('GET', KEYS[1]), fence}
",
    )
});

/// The reply of [`INSPECT`], as redis-rs reads it.
pub(crate) type InspectReply = (i64, i64, i64, Option<String>, Option<String>);

/// Interprets a reply of [`INSPECT`]; `None` means the key holds a non-string value.
pub(crate) fn parse_inspect_reply(
    (kind, pttl, waiters, holder, fence): InspectReply,
) -> Option<KeyState> {
    (kind >= 0).then(|| KeyState {
        remaining: holder
            .as_ref()
            .and_then(|_| protocol::pttl_from_reply(pttl)),
        holder: holder.map(protocol::holder_token),
        fencing_counter: fence.and_then(|f| f.parse().ok()),
        waiters: usize::try_from(waiters).unwrap_or(0),
    })
}

/// The error for a lock key holding a non-string value.
pub(crate) fn wrong_type(keys: &KeySet, server: &str) -> Error {
    Error::WrongType {
        key: keys.keys[0].clone(),
        server: server.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_replies() {
        assert_eq!(parse_inspect_reply((-1, 0, 0, None, None)), None);
        assert_eq!(
            parse_inspect_reply((0, -2, 3, None, Some("7".into()))),
            Some(KeyState {
                holder: None,
                remaining: None,
                fencing_counter: Some(7),
                waiters: 3
            })
        );
        assert_eq!(
            parse_inspect_reply((1, 1500, 0, Some("t".into()), None)),
            Some(KeyState {
                holder: Some("t".into()),
                remaining: Some(Duration::from_millis(1500)),
                fencing_counter: None,
                waiters: 0
            })
        );
        // A held key without expiry.
        assert_eq!(
            parse_inspect_reply((1, -1, 0, Some("t".into()), None)).map(|s| s.remaining),
            Some(None)
        );
    }
}
