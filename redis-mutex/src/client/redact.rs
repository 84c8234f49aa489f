//! Removing secrets from Redis URLs before they reach a message, a log line or `Debug` output.
//!
//! Hand-written because redis-rs (1.8) has nothing that does the job for every URL we show:
//! `ConnectionAddr`'s `Display` prints only `host:port` or the socket path, the same for
//! `redis://` and `rediss://`, without user name or database (`redis://app@h:6379/2` and
//! `rediss://h:6379/0` both print `h:6379`); `ConnectionInfo` has no `Display`, and its `Debug`
//! (which does hide the password) dumps every connection setting. Both exist only for a URL
//! redis-rs could parse, while an [`Error::InvalidUrl`](crate::Error::InvalidUrl) must show the
//! URL it refused, and the text of redis-rs's own errors is passed through here as well.

/// Replaces the password of `url` (userinfo after the first `:`, a lone userinfo, and `pass` /
/// `password` query values) with `***`. Works on malformed URLs too.
pub(crate) fn redact(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let (rest, query) = match rest.find('?') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str("***"),
            }
            out.push_str(&rest[at..]);
        }
        None => out.push_str(rest),
    }
    if let Some(query) = query.strip_prefix('?') {
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if matches!(name, "pass" | "password") => format!("{name}=***"),
                _ => param.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("redis://user:secret@host:6379/2"),
            "redis://user:***@host:6379/2"
        );
        assert_eq!(redact("redis://:secret@host/"), "redis://:***@host/");
        assert_eq!(redact("redis://secret@host"), "redis://***@host");
        assert_eq!(
            redact("redis://u:p@ss/w@rd@host:1/0"),
            "redis://u:***@host:1/0"
        );
        assert_eq!(
            redact("redis+unix:///tmp/r.sock?db=1&pass=secret"),
            "redis+unix:///tmp/r.sock?db=1&pass=***"
        );
        assert_eq!(redact("user:secret@[::1"), "user:***@[::1");
    }

    /// Why `redact` is not redis-rs's `ConnectionAddr` display (see the module docs): it keeps
    /// the password out, but also the scheme, the user and the database.
    #[test]
    fn redis_rs_shows_less_than_the_url() {
        use redis::IntoConnectionInfo;
        for (url, shown) in [
            ("redis://app:secret@h:6379/2", "h:6379"),
            ("redis+unix:///tmp/r.sock?db=1&pass=secret", "/tmp/r.sock"),
        ] {
            let info = url.into_connection_info().expect("a valid URL");
            assert_eq!(info.addr().to_string(), shown);
        }
        assert!("redis://u:p@[::1".into_connection_info().is_err());
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        for url in [
            "redis://127.0.0.1:6379/",
            "rediss://h",
            "redis+unix:///s?db=3",
            "nonsense",
        ] {
            assert_eq!(redact(url), url);
        }
    }
}
