//! `redis+cluster://[user:password@]host:port[,host:port…]`: the seed nodes of a Redis Cluster.

/// The seed nodes of a cluster URL, each as a `redis://` (or `rediss://`) URL of its own with
/// the cluster URL's credentials; `None` when `url` is not a cluster URL, `Some(Err(reason))`
/// when it is a malformed one (`reason` says what to fix).
pub(crate) fn seeds(url: &str) -> Option<Result<Vec<String>, String>> {
    let (scheme, rest) = url.split_once("://")?;
    let node_scheme = match scheme.to_ascii_lowercase().as_str() {
        "redis+cluster" => "redis",
        "rediss+cluster" => "rediss",
        _ => return None,
    };
    Some(parse(node_scheme, rest))
}

fn parse(node_scheme: &str, rest: &str) -> Result<Vec<String>, String> {
    const FORM: &str = "write `redis+cluster://[user:password@]host:port[,host:port…]`";
    if let Some((_, query)) = rest.split_once('?') {
        return Err(format!(
            "a cluster URL takes no options (`?{query}`); {FORM}, and set timeouts with \
             `ClientBuilder`"
        ));
    }
    let (userinfo, hosts) = match rest.rfind('@') {
        Some(at) => (&rest[..=at], &rest[at + 1..]),
        None => ("", rest),
    };
    let hosts = hosts.strip_suffix('/').unwrap_or(hosts);
    if let Some((_, path)) = hosts.split_once('/') {
        return Err(format!(
            "a Redis Cluster has only database 0, so the URL takes no path (`/{path}`); {FORM}"
        ));
    }
    if hosts.is_empty() {
        return Err(format!("no seed node; {FORM}"));
    }
    hosts
        .split(',')
        .map(|node| check_node(node).map(|()| format!("{node_scheme}://{userinfo}{node}/")))
        .collect()
}

/// Checks one `host:port` (`[v6]:port` for an IPv6 address).
fn check_node(node: &str) -> Result<(), String> {
    if node.is_empty() {
        return Err(
            "an empty seed node (two commas, or a comma at an end); list nodes as \
                    `host:port,host:port`"
                .into(),
        );
    }
    let (host, port) = match node.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, port)) => (host, port.strip_prefix(':')),
            None => {
                return Err(format!(
                    "seed node `{node}` lacks the `]` of its IPv6 address"
                ));
            }
        },
        None => match node.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (node, None),
        },
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!(
            "seed node `{node}` has no host name: write `host:port`"
        ));
    }
    match port.map(str::parse::<u16>) {
        Some(Ok(port)) if port > 0 => Ok(()),
        Some(_) => Err(format!(
            "seed node `{node}` has an invalid port (1 to 65535)"
        )),
        None => Err(format!(
            "seed node `{node}` has no port: cluster nodes are listed with theirs, as in \
             `{node}:6379`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_lists() {
        assert_eq!(seeds("redis://h:1/"), None);
        assert_eq!(
            seeds("redis+cluster://a:7000,b:7001").unwrap().unwrap(),
            ["redis://a:7000/", "redis://b:7001/"]
        );
        assert_eq!(
            seeds("REDISS+CLUSTER://u:p%40w@[::1]:7000/")
                .unwrap()
                .unwrap(),
            ["rediss://u:p%40w@[::1]:7000/"]
        );
        for (url, reason) in [
            ("redis+cluster://", "no seed node"),
            ("redis+cluster://a:7000,,b:7001", "empty seed node"),
            ("redis+cluster://a", "no port"),
            ("redis+cluster://a:0", "invalid port"),
            ("redis+cluster://a:x", "invalid port"),
            ("redis+cluster://:7000", "no host"),
            ("redis+cluster://a:7000/2", "only database 0"),
            ("redis+cluster://a:7000?timeout=1", "no options"),
            ("redis+cluster://[::1:7000", "IPv6"),
        ] {
            let error = seeds(url).unwrap().unwrap_err();
            assert!(error.contains(reason), "{url}: {error}");
        }
    }
}
