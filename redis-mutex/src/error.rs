//! The crate's one error type.

use std::time::Duration;

use crate::names::LockNames;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while taking, keeping or releasing a lock.
///
/// The variants keep apart what callers act on differently:
///
/// | variant | what happened | usual reaction |
/// |---|---|---|
/// | [`Busy`](Error::Busy) | a single attempt found the lock taken | do something else, retry later |
/// | [`Timeout`](Error::Timeout) | a bounded wait ran out | back off, report overload |
/// | [`Lost`](Error::Lost) | the lease expired or another owner holds the key now | the protected work may have overlapped another holder: compensate |
/// | [`Unreachable`](Error::Unreachable) | no answer from Redis (connect, I/O, response timeout) | retry with back-off, check the network |
/// | [`Refused`](Error::Refused) | Redis answered with an error (authentication, ACL, read-only replica, OOM …) | fix credentials or configuration |
/// | [`Protocol`](Error::Protocol) | Redis answered in a form this crate does not understand | check the server version, or the proxy in between |
/// | [`NotReplicated`](Error::NotReplicated) | too few replicas acknowledged an acquisition in time ([`replica_acks`](crate::ClientBuilder::replica_acks)); it was released | retry later, check the replicas |
/// | [`WrongType`](Error::WrongType) | the lock's key holds a non-string Redis value | pick another name or prefix |
/// | [`InvalidUrl`](Error::InvalidUrl), [`InvalidName`](Error::InvalidName), [`InvalidTtl`](Error::InvalidTtl), [`InvalidConfig`](Error::InvalidConfig) | bad input | fix the call |
/// | [`Runtime`](Error::Runtime) | the crate's runtime thread could not be started | check the process' thread limits |
/// | [`Forked`](Error::Forked) | used in a child forked after the parent had used the crate | use the crate in the child only after `exec` |
///
/// Errors with a cause ([`Unreachable`](Error::Unreachable), [`Refused`](Error::Refused),
/// [`Runtime`](Error::Runtime)) return it from [`source`](std::error::Error::source) and do not
/// repeat it in their message, so error reporters (`anyhow`'s `{:#}`, `tracing`'s error
/// chains) show it once.
///
/// Messages never contain a password taken from a URL.
///
/// # Examples
///
/// ```
/// use redis_mutex::Client;
///
/// let err = Client::open("redis://user:hunter2@[::1").unwrap_err();
/// assert!(err.to_string().contains("invalid Redis URL"));
/// assert!(!err.to_string().contains("hunter2"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A single attempt ([`try_lock`](crate::Mutex::try_lock)) found the lock held by someone else.
    #[error(
        "lock {names} is held by another owner; wait for it with `lock()` or `try_lock_for()`, or try again later"
    )]
    Busy {
        /// The names of the lock that was asked for.
        names: LockNames,
    },

    /// The wait for the lock ran out before it was acquired.
    #[error(
        "timed out after {waited:?} waiting for lock {names}; its holder may be slow or stuck (a crashed holder's lock frees itself when its TTL runs out), wait longer or retry later"
    )]
    Timeout {
        /// The names of the lock that was asked for.
        names: LockNames,
        /// How long the caller waited.
        waited: Duration,
    },

    /// The lock is no longer held by this guard: its lease ran out, or its key was deleted or
    /// taken over by another owner.
    #[error(
        "lock {names} is no longer held by this owner: its lease ran out, or its key was deleted or taken by another owner; work done under it may have overlapped another holder (keep renewal on, stop work when `lost()` fires, or use fencing tokens)"
    )]
    Lost {
        /// The names of the lock that was lost.
        names: LockNames,
    },

    /// Redis could not be reached, or did not answer in time; also a `rediss://` server whose
    /// TLS certificate was not accepted (the message then says so, and how to trust its CA).
    /// The cause is the error's [`source`](std::error::Error::source).
    #[error("could not reach Redis at {server}: {hint}", hint = unreachable_hint(source))]
    Unreachable {
        /// The server address, password redacted.
        server: String,
        /// The cause reported by the Redis client (a `redis::RedisError` today; not part of
        /// this crate's API, so that a major release of redis-rs is not one of this crate).
        #[source]
        source: BoxError,
    },

    /// Redis answered with an error: failed authentication, missing ACL permission, a read-only
    /// replica, out of memory, …
    #[error(
        "Redis at {server} refused the request (the cause says why); check credentials, ACL permissions and that the server is a writable primary"
    )]
    Refused {
        /// The server address, password redacted.
        server: String,
        /// The error Redis answered with (a `redis::RedisError` today; not part of this crate's
        /// API).
        #[source]
        source: BoxError,
    },

    /// Redis answered, but not in a form this crate understands: a server too old or not
    /// really Redis, or a proxy that rewrites replies.
    #[error(
        "Redis at {server} sent a reply redis-mutex does not understand ({detail}); redis-mutex needs Redis 5 or newer, reached directly or through a proxy that passes scripts through"
    )]
    Protocol {
        /// The server address, password redacted.
        server: String,
        /// What was received.
        detail: String,
    },

    /// The lock was acquired on the master, but fewer replicas than
    /// [`ClientBuilder::replica_acks`](crate::ClientBuilder::replica_acks) asks for acknowledged
    /// it in time, so a failover could have lost it: it was released again, and is not held.
    #[error(
        "lock key `{key}` was acquired on Redis at {server}, but only {acknowledged} of the {required} replicas required acknowledged it within {timeout:?}, so it was released (a failover could have lost it); check that the replicas are up and keep up with the master, or lower `replica_acks`"
    )]
    NotReplicated {
        /// The Redis key (the lock's first, for a multi-name lock).
        key: String,
        /// The master's address, password redacted.
        server: String,
        /// How many replicas acknowledged the acquisition.
        acknowledged: u32,
        /// How many were required.
        required: u32,
        /// How long they had.
        timeout: Duration,
    },

    /// The lock's key exists and holds a value of another Redis type, so it is not a lock.
    #[error(
        "key `{key}` on Redis at {server} holds a non-string value, so it cannot be a lock; choose another lock name or key prefix"
    )]
    WrongType {
        /// The Redis key.
        key: String,
        /// The server address, password redacted.
        server: String,
    },

    /// A Redis URL could not be used.
    #[error(
        "invalid Redis URL `{url}`: {reason}; expected e.g. `redis://[user:password@]host[:port][/db]`, `rediss://…`, `redis+unix:///path/to/socket`, `redis+sentinel://host:port[,host:port…]/<master-name>[/<db>]` or `redis+cluster://host:port[,host:port…]`"
    )]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A lock name is not usable.
    #[error("invalid lock name {name:?}: {reason}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A lease time to live is not usable.
    #[error("invalid lock TTL {ttl:?}: {reason}")]
    InvalidTtl {
        /// The offending TTL.
        ttl: Duration,
        /// What is wrong with it.
        reason: String,
    },

    /// A client option is not usable.
    #[error("invalid client option `{option}`: {reason}")]
    InvalidConfig {
        /// The option, as named on [`ClientBuilder`](crate::ClientBuilder).
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The crate's background runtime thread could not be started (the cause says why).
    #[error("could not start the redis-mutex runtime thread")]
    Runtime {
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// This process is a child forked from one that had already used redis-mutex: the
    /// runtime thread and the connections belong to the parent and do not exist here.
    #[error(
        "redis-mutex was used in process {parent} before this process was forked from it; a forked child cannot use the parent's runtime thread or connections: take locks in the child only after `exec`, or in a process that had not used redis-mutex before forking"
    )]
    Forked {
        /// The process id of the parent that started the runtime.
        parent: u32,
    },
}

/// The type-erased cause of [`Error::Unreachable`] and [`Error::Refused`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What to check when Redis cannot be reached: the certificate when the TLS handshake
/// refused it, else the server and the network.
fn unreachable_hint(source: &BoxError) -> &'static str {
    if source.to_string().contains("certificate") {
        "the server's TLS certificate was not accepted: trust the CA that signed it with \
         `ClientBuilder::tls_root_certificates` (otherwise only the system's roots are trusted), \
         and check that the certificate names the host of the URL"
    } else {
        "check that the server is running and reachable"
    }
}

/// For functions that return `std::io::Result`: the lock error becomes the source of an
/// `io::Error` of the closest kind (`WouldBlock` for [`Busy`](Error::Busy), `TimedOut` for
/// [`Timeout`](Error::Timeout) and [`NotReplicated`](Error::NotReplicated), `InvalidInput` for bad input, `ConnectionRefused` /
/// `NotConnected` for connection problems, `Other` otherwise).
///
/// # Examples
///
/// ```
/// use std::io;
/// let err = redis_mutex::Client::open("not a url").unwrap_err();
/// let io: io::Error = err.into();
/// assert_eq!(io.kind(), io::ErrorKind::InvalidInput);
/// ```
impl From<Error> for std::io::Error {
    fn from(error: Error) -> Self {
        use std::io::ErrorKind;
        let kind = match &error {
            Error::Busy { .. } => ErrorKind::WouldBlock,
            Error::Timeout { .. } => ErrorKind::TimedOut,
            Error::Unreachable { .. } => ErrorKind::NotConnected,
            Error::Refused { .. } => ErrorKind::ConnectionRefused,
            Error::InvalidUrl { .. }
            | Error::InvalidName { .. }
            | Error::InvalidTtl { .. }
            | Error::InvalidConfig { .. } => ErrorKind::InvalidInput,
            Error::Protocol { .. } => ErrorKind::InvalidData,
            Error::NotReplicated { .. } => ErrorKind::TimedOut,
            Error::Lost { .. }
            | Error::WrongType { .. }
            | Error::Runtime { .. }
            | Error::Forked { .. } => ErrorKind::Other,
        };
        std::io::Error::new(kind, error)
    }
}

impl Error {
    /// `true` when a single attempt found the lock taken ([`Error::Busy`]).
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Busy { .. })
    }

    /// `true` when a bounded wait ran out ([`Error::Timeout`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// `true` when someone else holds the lock: [`Error::Busy`] or [`Error::Timeout`].
    pub fn is_contention(&self) -> bool {
        self.is_busy() || self.is_timeout()
    }

    /// `true` when the lock is no longer ours ([`Error::Lost`]).
    pub fn is_lost(&self) -> bool {
        matches!(self, Error::Lost { .. })
    }

    /// `true` when Redis could not be reached or refused us ([`Error::Unreachable`],
    /// [`Error::Refused`]).
    pub fn is_connection(&self) -> bool {
        matches!(self, Error::Unreachable { .. } | Error::Refused { .. })
    }

    /// `true` when too few replicas acknowledged an acquisition in time
    /// ([`Error::NotReplicated`]); the lock is not held.
    pub fn is_not_replicated(&self) -> bool {
        matches!(self, Error::NotReplicated { .. })
    }

    /// `true` for bad input or configuration (URL, name, TTL, client options).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::InvalidUrl { .. }
                | Error::InvalidName { .. }
                | Error::InvalidTtl { .. }
                | Error::InvalidConfig { .. }
        )
    }

    /// The names of the lock this error is about, when it is about one.
    pub fn lock_names(&self) -> Option<&LockNames> {
        match self {
            Error::Busy { names } | Error::Timeout { names, .. } | Error::Lost { names } => {
                Some(names)
            }
            _ => None,
        }
    }

    /// Sorts a Redis client error into [`Unreachable`](Error::Unreachable),
    /// [`WrongType`](Error::WrongType) (when `key` is known) or [`Refused`](Error::Refused).
    pub(crate) fn from_redis(server: &str, key: Option<&str>, source: redis::RedisError) -> Self {
        let server = server.to_owned();
        if source.code() == Some("WRONGTYPE")
            && let Some(key) = key
        {
            return Error::WrongType {
                key: key.to_owned(),
                server,
            };
        }
        if matches!(
            source.kind(),
            redis::ErrorKind::UnexpectedReturnType | redis::ErrorKind::Parse
        ) {
            return Error::Protocol {
                server,
                detail: source.to_string(),
            };
        }
        if source.is_io_error()
            || source.is_timeout()
            || source.is_connection_dropped()
            || source.is_connection_refusal()
        {
            Error::Unreachable {
                server,
                source: Box::new(source),
            }
        } else {
            Error::Refused {
                server,
                source: Box::new(source),
            }
        }
    }

    /// Whether this is a broken connection (not a timeout, not a refusal): a command on a
    /// [`Local`](crate::backend::Local) connection then goes again on the shared one.
    pub(crate) fn is_broken_connection(&self) -> bool {
        match self {
            Error::Unreachable { source, .. } => source
                .downcast_ref::<redis::RedisError>()
                .is_some_and(|e| !e.is_timeout() && (e.is_connection_dropped() || e.is_io_error())),
            _ => false,
        }
    }

    /// An [`Unreachable`](Error::Unreachable) whose cause is `what` (of kind `kind`).
    pub(crate) fn unreachable(server: &str, kind: std::io::ErrorKind, what: &str) -> Self {
        Error::Unreachable {
            server: server.to_owned(),
            source: Box::new(std::io::Error::new(kind, what.to_owned())),
        }
    }
}
