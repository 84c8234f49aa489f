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
///
/// Reads the URL as the URL parser behind redis-rs does where that could hide a password: tabs
/// and line breaks are dropped (the parser ignores them, so `?\tpass=` is a `pass`), and query
/// keys are percent-decoded (`p%61ss` is `pass`).
pub(crate) fn redact(url: &str) -> String {
    let url: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let url = url.as_str();
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
                Some((name, _)) if is_password_key(name) => format!("{name}=***"),
                _ => param.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

/// Whether a query key names a password, percent-decoded and in any case.
fn is_password_key(key: &str) -> bool {
    let mut decoded = Vec::with_capacity(key.len());
    let mut rest = key.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        let escaped = match tail {
            [high, low, ..] if byte == b'%' => hex(*high).zip(hex(*low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                decoded.push(high << 4 | low);
                rest = &tail[2..];
            }
            None => {
                decoded.push(byte);
                rest = tail;
            }
        }
    }
    decoded.eq_ignore_ascii_case(b"pass") || decoded.eq_ignore_ascii_case(b"password")
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|value| value as u8)
}

#[cfg(test)]
mod tests {
    use super::{is_password_key, redact};

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

    /// Found by fuzzing (tests/fuzz_inputs.rs): the URL parser drops tabs and line breaks and
    /// decodes query keys, so these still carry a password that redis-rs sends.
    #[test]
    fn passwords_hidden_the_way_the_url_parser_reads_them() {
        for (url, shown) in [
            ("redis+unix:///s?\tpass=secret", "redis+unix:///s?pass=***"),
            (
                "redis+unix:///s?pa\nss=secret&db=1",
                "redis+unix:///s?pass=***&db=1",
            ),
            (
                "redis+unix:///s?p%61ss=secret",
                "redis+unix:///s?p%61ss=***",
            ),
            (
                "redis+unix:///s?PASSWORD=secret",
                "redis+unix:///s?PASSWORD=***",
            ),
            ("redis://u:sec\tret@h/", "redis://u:***@h/"),
        ] {
            assert_eq!(redact(url), shown);
        }
        assert!(!is_password_key("p%6"));
        assert!(!is_password_key("%"));
        assert!(is_password_key("%70%41%73%53"));
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
