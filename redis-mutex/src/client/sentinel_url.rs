//! `redis+sentinel://[user:password@]host:port[,host:port…]/<master-name>[/<db>]`: the sentinels
//! to ask, the name of the master they watch, and how to talk to that master.

/// The default port of a sentinel, used for a host given without one.
pub(crate) const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// A parsed Sentinel URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SentinelUrl {
    /// `rediss+sentinel://`: TLS to the sentinels and to the master.
    pub(crate) tls: bool,
    /// The user info of the URL, as written (percent-encoded): the master's credentials.
    pub(crate) userinfo: Option<String>,
    /// The sentinels, `host:port` (an IPv6 host in brackets), in the URL's order.
    pub(crate) sentinels: Vec<String>,
    /// The name the sentinels know the master by.
    pub(crate) master_name: String,
    /// The database on the master.
    pub(crate) db: Option<u32>,
}

/// Whether `url` has a Sentinel scheme (`redis+sentinel://`, `rediss+sentinel://`).
pub(crate) fn is_sentinel_url(url: &str) -> bool {
    url.split_once("://").is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("redis+sentinel")
            || scheme.eq_ignore_ascii_case("rediss+sentinel")
    })
}

impl SentinelUrl {
    /// Parses a Sentinel URL; the error says what is wrong (never the password).
    pub(crate) fn parse(url: &str) -> Result<SentinelUrl, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| "no scheme".to_owned())?;
        let tls = scheme.eq_ignore_ascii_case("rediss+sentinel");
        if !tls && !scheme.eq_ignore_ascii_case("redis+sentinel") {
            return Err(format!("`{scheme}://` is not a Sentinel scheme"));
        }
        if rest.contains(['?', '#']) {
            return Err(
                "a Sentinel URL takes no query or fragment; set other options on \
                        `ClientBuilder` (e.g. `sentinel_password`)"
                    .into(),
            );
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo.to_owned()), hosts),
            None => (None, authority),
        };
        if hosts.is_empty() {
            return Err("no sentinel address: list them as `host:port[,host:port…]`".into());
        }
        let sentinels = hosts
            .split(',')
            .map(parse_host_port)
            .collect::<Result<Vec<_>, _>>()?;
        let mut segments = path.split('/');
        let master_name = segments.next().unwrap_or_default();
        if master_name.is_empty() {
            return Err(
                "no master name: add `/<master-name>` after the sentinels, as in \
                        `redis+sentinel://127.0.0.1:26379/mymaster`"
                    .into(),
            );
        }
        let db = match segments.next() {
            None | Some("") => None,
            Some(db) => Some(db.parse::<u32>().map_err(|_| {
                format!("the database `{db}` after the master name is not a number")
            })?),
        };
        if segments.any(|segment| !segment.is_empty()) {
            return Err("too many path segments: expected `/<master-name>[/<db>]`".into());
        }
        Ok(SentinelUrl {
            tls,
            userinfo,
            sentinels,
            master_name: master_name.to_owned(),
            db,
        })
    }

    /// The plain scheme of the servers behind: `redis` or `rediss`.
    pub(crate) fn server_scheme(&self) -> &'static str {
        if self.tls { "rediss" } else { "redis" }
    }

    /// The URL of the master at `host:port`, with the URL's credentials and database.
    pub(crate) fn master_url(&self, host: &str, port: u16) -> String {
        let userinfo = self
            .userinfo
            .as_ref()
            .map(|userinfo| format!("{userinfo}@"))
            .unwrap_or_default();
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let db = self.db.unwrap_or(0);
        format!("{}://{userinfo}{host}:{port}/{db}", self.server_scheme())
    }

    /// The URL of the sentinel at `address` (`host:port`), without credentials.
    pub(crate) fn sentinel_url(&self, address: &str) -> String {
        format!("{}://{address}/", self.server_scheme())
    }
}

/// `host[:port]` (an IPv6 host in brackets) as `host:port`, with the default sentinel port.
fn parse_host_port(address: &str) -> Result<String, String> {
    let address = address.trim();
    // `bracketed`: an IPv6 address, which has colons of its own.
    let (host, port, bracketed) = if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("sentinel address `{address}`: unclosed `[`"))?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| {
                format!("sentinel address `{address}`: expected `:port` after `]`")
            })?),
        };
        (host, port, true)
    } else {
        match address.rsplit_once(':') {
            Some((host, port)) => (host, Some(port), false),
            None => (address, None, false),
        }
    };
    if host.is_empty() {
        return Err(format!(
            "sentinel address `{address}` has no host: list them as `host:port[,host:port…]`"
        ));
    }
    if host.contains(['[', ']', ' ', '/', '@']) || (!bracketed && host.contains(':')) {
        return Err(format!("sentinel address `{address}` is malformed"));
    }
    let port = match port {
        None => DEFAULT_SENTINEL_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|&port| port != 0)
            .ok_or_else(|| {
                format!("sentinel address `{address}`: the port `{port}` is not in 1-65535")
            })?,
    };
    Ok(if bracketed {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_urls() {
        let url =
            SentinelUrl::parse("redis+sentinel://u:p%40w@h1:26380,[::1]:1,h3/mymaster/2").unwrap();
        assert_eq!(
            url,
            SentinelUrl {
                tls: false,
                userinfo: Some("u:p%40w".into()),
                sentinels: vec!["h1:26380".into(), "[::1]:1".into(), "h3:26379".into()],
                master_name: "mymaster".into(),
                db: Some(2),
            }
        );
        assert_eq!(url.master_url("::1", 7), "redis://u:p%40w@[::1]:7/2");
        assert_eq!(url.sentinel_url("h1:26380"), "redis://h1:26380/");
        let tls = SentinelUrl::parse("REDISS+SENTINEL://h:1/m/").unwrap();
        assert!(tls.tls);
        assert_eq!(tls.db, None);
        assert_eq!(tls.master_url("h", 2), "rediss://h:2/0");
    }

    #[test]
    fn malformed_urls_say_what_is_wrong() {
        for (url, expected) in [
            ("redis+sentinel://h:26379", "no master name"),
            ("redis+sentinel://h:26379/", "no master name"),
            ("redis+sentinel:///m", "no sentinel address"),
            ("redis+sentinel://pw@/m", "no sentinel address"),
            ("redis+sentinel://h:0/m", "not in 1-65535"),
            ("redis+sentinel://h:99999/m", "not in 1-65535"),
            ("redis+sentinel://h:x/m", "not in 1-65535"),
            ("redis+sentinel://h:1,,h:2/m", "has no host"),
            ("redis+sentinel://:1/m", "has no host"),
            ("redis+sentinel://[::1/m", "unclosed"),
            ("redis+sentinel://[]:1/m", "has no host"),
            ("redis+sentinel://a:b:1/m", "malformed"),
            ("redis+sentinel://[::1]x/m", "`:port`"),
            ("redis+sentinel://h:1/m/db", "not a number"),
            ("redis+sentinel://h:1/m/1/x", "too many"),
            ("redis+sentinel://h:1/m?db=1", "no query"),
            ("redis://h:1/m", "not a Sentinel scheme"),
        ] {
            let error = SentinelUrl::parse(url).unwrap_err();
            assert!(error.contains(expected), "{url}: {error}");
        }
    }

    #[test]
    fn scheme_detection() {
        assert!(is_sentinel_url("redis+sentinel://h/m"));
        assert!(is_sentinel_url("Rediss+Sentinel://h/m"));
        assert!(!is_sentinel_url("redis://h/"));
        assert!(!is_sentinel_url("redis+sentinelx://h/m"));
    }
}
