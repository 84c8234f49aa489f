//! `redis+redlock://` URLs: the independent masters of a Redlock deployment.
//!
//! `redis+redlock://[user:password@]host[:port][,host[:port]…][/db]` (`rediss+redlock://` for
//! TLS): at least three masters, each `host` or `host:port` (port 6379 when left out; IPv6 in
//! brackets, `[::1]:6379`), one user, password and database for all of them. An even number of
//! masters is accepted, with a warning: four masters need three for a quorum, so they survive
//! one failure, as three do.

/// The fewest masters a Redlock deployment may have.
pub(crate) const MIN_MASTERS: usize = 3;

/// A parsed Redlock URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedlockUrl {
    /// `rediss+redlock://`: every master is reached over TLS.
    pub(crate) tls: bool,
    /// Each master's own URL (`redis://…` or `rediss://…`), credentials and database included.
    pub(crate) masters: Vec<String>,
    /// Each master's `host:port`, for messages.
    pub(crate) addrs: Vec<String>,
}

/// Whether `url` has a Redlock scheme (`redis+redlock://`, `rediss+redlock://`).
pub(crate) fn is_redlock(url: &str) -> bool {
    scheme(url).is_some()
}

/// The TLS flag of a Redlock scheme, `None` for any other URL.
fn scheme(url: &str) -> Option<bool> {
    let scheme = url.split_once("://")?.0.to_ascii_lowercase();
    match scheme.as_str() {
        "redis+redlock" => Some(false),
        "rediss+redlock" => Some(true),
        _ => None,
    }
}

/// Parses a Redlock URL; the error says what to fix.
pub(crate) fn parse(url: &str) -> Result<RedlockUrl, String> {
    let tls = scheme(url).ok_or_else(|| {
        "a Redlock URL starts with `redis+redlock://` (or `rediss+redlock://` for TLS)".to_owned()
    })?;
    let rest = &url[url.find("://").map_or(0, |i| i + 3)..];
    if rest.contains('?') || rest.contains('#') {
        return Err("a Redlock URL takes no query or fragment: write \
                    `redis+redlock://host1:6379,host2:6379,host3:6379[/db]`"
            .into());
    }
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash + 1..]),
        None => (rest, ""),
    };
    let db = match path {
        "" => 0,
        db => db.parse::<u32>().map_err(|_| {
            format!("the path `/{db}` is not a database number: write e.g. `/2`, or leave it out")
        })?,
    };
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let mut addrs: Vec<String> = Vec::new();
    for host in hosts.split(',') {
        let addr = master_addr(host.trim())?;
        if addrs.contains(&addr) {
            return Err(format!(
                "the master `{addr}` is listed twice; each Redlock master must be a \
                 different, independent server"
            ));
        }
        addrs.push(addr);
    }
    if addrs.len() < MIN_MASTERS {
        return Err(format!(
            "Redlock needs at least {MIN_MASTERS} independent masters, and {} {} listed: write \
             `redis+redlock://host1:6379,host2:6379,host3:6379` (an odd number is best), or use \
             `redis://host:port` for a single server",
            addrs.len(),
            if addrs.len() == 1 { "is" } else { "are" },
        ));
    }
    let base = if tls { "rediss" } else { "redis" };
    let masters = addrs
        .iter()
        .map(|addr| format!("{base}://{userinfo}{addr}/{db}"))
        .collect();
    Ok(RedlockUrl {
        tls,
        masters,
        addrs,
    })
}

/// `host:port` of one master as listed (`host`, `host:port`, `[v6]`, `[v6]:port`).
pub(crate) fn master_addr(host: &str) -> Result<String, String> {
    let listing = "list the masters as `redis+redlock://host1:6379,host2:6379,host3:6379`";
    if host.is_empty() {
        return Err(format!("a master's address is empty; {listing}"));
    }
    let (name, port) = match host.strip_prefix('[') {
        Some(v6) => {
            let close = v6
                .find(']')
                .ok_or_else(|| format!("`{host}` opens `[` without closing it; {listing}"))?;
            let port = &v6[close + 1..];
            let port = match port.strip_prefix(':') {
                Some(port) => Some(port),
                None if port.is_empty() => None,
                None => return Err(format!("`{host}` has text after `]`; {listing}")),
            };
            (&host[..close + 2], port)
        }
        None => match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    if name.is_empty() || (name.contains(['@', ' ', '/', ':']) && !name.starts_with('[')) {
        return Err(format!("`{host}` is not a host name or address; {listing}"));
    }
    let port = match port {
        None => 6379,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|port| *port > 0)
            .ok_or_else(|| format!("`{host}` has no valid port (1-65535); {listing}"))?,
    };
    Ok(format!("{name}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_share_credentials_and_database() {
        let url = parse("redis+redlock://app:pw@a:7000,b,[::1]:7002/3").unwrap();
        assert!(!url.tls);
        assert_eq!(url.addrs, ["a:7000", "b:6379", "[::1]:7002"]);
        assert_eq!(
            url.masters,
            [
                "redis://app:pw@a:7000/3",
                "redis://app:pw@b:6379/3",
                "redis://app:pw@[::1]:7002/3"
            ]
        );
        let tls = parse("REDISS+REDLOCK://a:1,b:2,c:3").unwrap();
        assert!(tls.tls);
        assert_eq!(tls.masters[0], "rediss://a:1/0");
        assert!(is_redlock("redis+redlock://x"));
        assert!(!is_redlock("redis://x"));
    }

    #[test]
    fn malformed_urls_say_what_to_fix() {
        for (url, says) in [
            ("redis+redlock://a:1,b:2", "at least 3"),
            ("redis+redlock://a:1", "1 is listed"),
            ("redis+redlock://a:1,a:1,b:1", "listed twice"),
            ("redis+redlock://a:1,,b:1", "empty"),
            ("redis+redlock://a:x,b:1,c:1", "valid port"),
            ("redis+redlock://a:0,b:1,c:1", "valid port"),
            ("redis+redlock://a:1,b:1,c:1/x", "database number"),
            ("redis+redlock://a:1,b:1,c:1?timeout=1", "no query"),
            ("redis+redlock://[::1,b:1,c:1", "without closing"),
            ("redis+redlock://a b:1,b:1,c:1", "not a host"),
            ("redis://a:1,b:1,c:1", "starts with"),
        ] {
            let error = parse(url).unwrap_err();
            assert!(error.contains(says), "{url}: {error}");
        }
    }
}
