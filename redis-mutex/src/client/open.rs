//! Which backend a URL opens, and the cache that lets clients of one URL and settings share
//! its connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::Duration;

#[cfg(feature = "tls")]
use super::tls;
use super::{NodeCredentials, Secret, SentinelOptions, Server, TlsRoots, redact, sentinel_url};
use crate::backend::Backend;
use crate::backend::cluster::{self, ClusterBackend};
use crate::backend::redlock::{self, Redlock};
use crate::backend::sentinel::{SentinelBackend, SentinelConfig};
use crate::backend::single::{ConnectionSettings, SingleServer};
use crate::error::{Error, Result};
use crate::queue::LocalQueues;

/// What makes two clients share one server's connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ServerKey {
    pub(super) url: String,
    pub(super) settings: ConnectionSettings,
    pub(super) tls_roots: Option<TlsRoots>,
    pub(super) sentinel: SentinelOptions,
    pub(super) node_timeout: Duration,
    pub(super) node_credentials: Vec<NodeCredentials>,
}

/// Refuses Sentinel options on a URL of another kind, and unusable ones.
pub(super) fn check_sentinel_options(url: &str, options: &SentinelOptions) -> Result<()> {
    let invalid = |option, reason: &str| {
        Err(Error::InvalidConfig {
            option,
            reason: reason.to_owned(),
        })
    };
    if !sentinel_url::is_sentinel_url(url) {
        let for_sentinel = "it applies to `redis+sentinel://` URLs only";
        if options.replica_acks.is_some() {
            return invalid("replica_acks", for_sentinel);
        }
        if options.password.is_some() {
            return invalid("sentinel_password", for_sentinel);
        }
        if options.username.is_some() {
            return invalid("sentinel_username", for_sentinel);
        }
    }
    match options.replica_acks {
        Some(acks) if acks.replicas == 0 => invalid(
            "replica_acks",
            "the number of replicas must be at least 1; to not wait for replicas, do not call \
             `replica_acks`",
        ),
        Some(acks) if acks.timeout.is_zero() => invalid(
            "replica_acks",
            "the timeout must be longer than zero (Redis' `WAIT` would wait forever); e.g. \
             `Duration::from_millis(100)`",
        ),
        _ => Ok(()),
    }
}

/// The cluster behind a `redis+cluster://` URL whose seed nodes are `seeds`.
fn open_cluster(
    key: &ServerKey,
    seeds: std::result::Result<Vec<String>, String>,
    display: String,
) -> Result<ClusterBackend> {
    let seeds = seeds.map_err(|reason| Error::InvalidUrl {
        url: display.clone(),
        reason,
    })?;
    let tls = key.url.to_ascii_lowercase().starts_with("rediss+");
    if !cfg!(feature = "tls") && tls {
        return Err(Error::InvalidUrl {
            url: display,
            reason: "`rediss+cluster://` (TLS) needs the `tls` feature of redis-mutex".into(),
        });
    }
    #[cfg(feature = "tls")]
    if tls {
        tls::ensure_crypto_provider();
    }
    let roots = key.tls_roots.as_ref().map(|roots| roots.0.as_slice());
    ClusterBackend::new(&seeds, display, key.settings, roots)
}

pub(super) fn cached_server(key: ServerKey) -> Result<Arc<Server>> {
    static CACHE: OnceLock<StdMutex<HashMap<ServerKey, Arc<Server>>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(server) = cache.get(&key) {
        return Ok(server.clone());
    }
    let display = redact(&key.url);
    let backend: Box<dyn Backend> = if let Some(seeds) = cluster::seeds(&key.url) {
        Box::new(open_cluster(&key, seeds, display)?)
    } else if redlock::url::is_redlock(&key.url) {
        Box::new(redlock_backend(&key, display)?)
    } else if sentinel_url::is_sentinel_url(&key.url) {
        Box::new(sentinel_backend(&key, display)?)
    } else {
        let client = redis_client(&key.url, &display, key.tls_roots.as_ref())?;
        Box::new(SingleServer::new(client, display, key.settings))
    };
    let server = Arc::new(Server {
        backend,
        queues: LocalQueues::default(),
    });
    cache.insert(key, server.clone());
    Ok(server)
}

/// The redis-rs client of one server's `url` (`display`: the URL to show in errors).
fn redis_client(url: &str, display: &str, tls_roots: Option<&TlsRoots>) -> Result<redis::Client> {
    let tls = url.starts_with("rediss://");
    if !cfg!(feature = "tls") && tls {
        return Err(Error::InvalidUrl {
            url: display.to_owned(),
            reason: "`rediss://` (TLS) needs the `tls` feature of redis-mutex".into(),
        });
    }
    let client = open_client(url, display)?;
    #[cfg(feature = "tls")]
    let client = match tls_roots {
        Some(roots) => tls::client_with_roots(url, display, roots)?,
        None => client,
    };
    #[cfg(not(feature = "tls"))]
    let _ = tls_roots;
    #[cfg(feature = "tls")]
    if tls {
        tls::refuse_insecure(&client, display)?;
        tls::ensure_crypto_provider();
    }
    // `TCP_NODELAY`, as most Redis clients set it (redis-rs leaves it off): with Nagle's
    // algorithm, a command written while an earlier one on the same multiplexed connection
    // awaits its acknowledgement can sit in the socket until the server's delayed ACK (40 ms
    // on Linux), a stall in the middle of a hand-over.
    let info = client.get_connection_info().clone();
    let tcp = info.tcp_settings().clone().set_nodelay(true);
    open_client(info.set_tcp_settings(tcp), display)
}

/// `redis::Client::open`, its error an [`Error::InvalidUrl`] naming `display`.
fn open_client(info: impl redis::IntoConnectionInfo, display: &str) -> Result<redis::Client> {
    redis::Client::open(info).map_err(|error| Error::InvalidUrl {
        url: display.to_owned(),
        reason: redact(&error.to_string()),
    })
}

/// The backend of a `redis+redlock://` URL: a client per master, with the credentials
/// [`ClientBuilder::node_credentials`](super::ClientBuilder::node_credentials) gives it, else
/// the URL's.
fn redlock_backend(key: &ServerKey, display: String) -> Result<Redlock> {
    let parsed = redlock::url::parse(&key.url).map_err(|reason| Error::InvalidUrl {
        url: display.clone(),
        reason,
    })?;
    let mut own: Vec<Option<&NodeCredentials>> = vec![None; parsed.addrs.len()];
    for credentials in &key.node_credentials {
        let addr = redlock::url::master_addr(&credentials.addr).map_err(|reason| {
            Error::InvalidConfig {
                option: "node_credentials",
                reason,
            }
        })?;
        let Some(index) = parsed.addrs.iter().position(|listed| *listed == addr) else {
            return Err(Error::InvalidConfig {
                option: "node_credentials",
                reason: format!(
                    "`{addr}` is not one of the URL's masters ({}); name a master as the URL \
                     lists it, `host:port`",
                    parsed.addrs.join(", ")
                ),
            });
        };
        if own[index].replace(credentials).is_some() {
            return Err(Error::InvalidConfig {
                option: "node_credentials",
                reason: format!("`{addr}` is given credentials twice; give each master one"),
            });
        }
    }
    let masters = parsed
        .masters
        .iter()
        .zip(parsed.addrs)
        .zip(own)
        .map(|((url, addr), own)| {
            let client = redis_client(url, &display, key.tls_roots.as_ref())?;
            let client = match own {
                Some(own) => with_auth(&client, Some(&own.username), Some(&own.password.0), &addr)?,
                None => client,
            };
            Ok((client, addr))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Redlock::new(
        masters,
        display,
        key.settings,
        key.node_timeout,
    ))
}

/// `client` with another user and password (`None`: keep the URL's); `display` names it in
/// errors.
fn with_auth(
    client: &redis::Client,
    username: Option<&str>,
    password: Option<&str>,
    display: &str,
) -> Result<redis::Client> {
    let info = client.get_connection_info().clone();
    let mut auth = info.redis_settings().clone();
    if let Some(username) = username {
        auth = auth.set_username(username);
    }
    if let Some(password) = password {
        auth = auth.set_password(password);
    }
    open_client(info.set_redis_settings(auth), display)
}

/// The backend of a `redis+sentinel://` URL: its sentinels' clients, and how to make the
/// master's.
fn sentinel_backend(key: &ServerKey, display: String) -> Result<SentinelBackend> {
    let url = sentinel_url::SentinelUrl::parse(&key.url).map_err(|reason| Error::InvalidUrl {
        url: display.clone(),
        reason: redact(&reason),
    })?;
    let sentinels = url
        .sentinels
        .iter()
        .map(|address| {
            let client = redis_client(&url.sentinel_url(address), address, key.tls_roots.as_ref())?;
            let username = key.sentinel.username.as_deref();
            let password = key
                .sentinel
                .password
                .as_ref()
                .map(|Secret(password)| password.as_str());
            let client = with_auth(&client, username, password, &display)?;
            Ok((address.clone(), client))
        })
        .collect::<Result<Vec<_>>>()?;
    // The master's URL is checked now, at a made-up address, so that bad credentials or a bad
    // database are an error of `build`, not of the first lock operation.
    redis_client(
        &url.master_url("127.0.0.1", 1),
        &display,
        key.tls_roots.as_ref(),
    )?;
    let tls_roots = key.tls_roots.clone();
    Ok(SentinelBackend::new(SentinelConfig {
        display,
        master_name: url.master_name.clone(),
        sentinels,
        open_master: Box::new(move |host, port, shown| {
            redis_client(&url.master_url(host, port), shown, tls_roots.as_ref())
        }),
        settings: key.settings,
        acks: key.sentinel.replica_acks,
    }))
}
