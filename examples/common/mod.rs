//! What every example shares: a Redis server to talk to.
//!
//! `REDIS_MUTEX_URL`, else `REDIS_URL`, else a throwaway `redis-server` started here (from
//! `PATH`, or `REDIS_SERVER_BIN`) and stopped when the returned [`Server`] is dropped. Real code
//! needs none of this: it calls `Client::from_env()`, which reads the same variables.

#[path = "../../tests/support/mod.rs"]
mod support;

/// The server an example runs against; keep it alive until the end of `main`.
#[derive(Debug)]
pub(crate) struct Server {
    /// Its URL.
    pub(crate) url: String,
    _throwaway: Option<support::RedisServer>,
}

/// The configured server, or a throwaway one; says which on stdout.
pub(crate) fn server() -> Server {
    for var in ["REDIS_MUTEX_URL", "REDIS_URL"] {
        if let Some(url) = std::env::var(var).ok().filter(|url| !url.is_empty()) {
            println!("redis: the server in {var}");
            return Server {
                url,
                _throwaway: None,
            };
        }
    }
    let server = support::RedisServer::start();
    println!("redis: a throwaway redis-server at {}", server.url());
    Server {
        url: server.url(),
        _throwaway: Some(server),
    }
}
