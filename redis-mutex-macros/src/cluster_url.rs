//! The compile-time check of a `server = "redis+cluster://…"` URL.
//!
//! The runtime parses the same form (redis-mutex's `backend/cluster/url.rs`, which also builds
//! the node URLs, with unit tests of each mistake); this rejects what it would reject, so that a
//! malformed cluster URL is a compile error at the literal rather than a panic or an `Err` at
//! the first call (redis-mutex-ui/tests/ui/fail/server-bad-cluster-url.rs).

/// What is wrong with `url` when it is a malformed cluster URL; `None` for a well-formed one and
/// for any URL of another scheme.
pub(crate) fn problem(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(
        scheme.to_ascii_lowercase().as_str(),
        "redis+cluster" | "rediss+cluster"
    ) {
        return None;
    }
    let hosts = rest.rsplit_once('@').map_or(rest, |(_, hosts)| hosts);
    let hosts = hosts.strip_suffix('/').unwrap_or(hosts);
    let form = "write `redis+cluster://[user:password@]host:port[,host:port…]`";
    if hosts.contains(['/', '?']) {
        return Some(format!(
            "a Redis Cluster URL takes no database, path or options after its nodes: {form}"
        ));
    }
    if hosts.is_empty() {
        return Some(format!("no seed node: {form}"));
    }
    hosts.split(',').find_map(|node| {
        let port = match node.strip_prefix('[') {
            Some(v6) => v6.split_once("]:"),
            None => node.rsplit_once(':'),
        };
        match port {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
                None
            }
            _ => Some(format!(
                "seed node `{node}` is not `host:port` (each node of a cluster URL needs its \
                 port, as in `10.0.0.5:6379`): {form}"
            )),
        }
    })
}
