//! Property tests of everything the run-time API parses or checks: lock names, server URLs and
//! durations. Whatever the input, the answer is `Ok` or a typed error, never a panic; a URL's
//! password never shows in a message, a `Debug` output or `Client::server()`.
//!
//! Bounded to CI-sized runs: a few hundred cases where nothing connects, a few dozen where a
//! lock is taken on the binary's shared `redis-server`.

mod support;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use redis_mutex::{Client, Error, LockNames};

use redis_mutex::MIN_TTL;

/// The largest TTL Redis can take (`i64::MAX / 2` milliseconds, as documented on the builder).
const MAX_TTL: Duration = Duration::from_millis(i64::MAX as u64 / 2);

/// Cases for properties that connect to Redis.
const SERVER_CASES: u32 = 24;

/// Durations at and around every boundary (zero, under a millisecond, the largest TTL,
/// `Duration::MAX`) and anywhere in between.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        prop::sample::select(vec![
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_micros(999),
            Duration::from_millis(1),
            MIN_TTL - Duration::from_nanos(1),
            MIN_TTL,
            MAX_TTL,
            MAX_TTL + Duration::from_millis(1),
            Duration::from_secs(u64::MAX / 3),
            Duration::MAX,
        ]),
        any::<u64>().prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_millis),
        (any::<u64>(), 0..1_000_000_000u32).prop_map(|(secs, nanos)| Duration::new(secs, nanos)),
    ]
}

/// Durations a test can afford to wait out: up to 50 ms, and beyond every bound.
fn short_or_endless() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0..50u64).prop_map(Duration::from_millis),
        prop::sample::select(vec![
            MAX_TTL,
            Duration::from_secs(u64::MAX / 3),
            Duration::MAX
        ]),
    ]
}

fn client() -> Client {
    Client::open("redis://127.0.0.1:1/").unwrap()
}

fn is_valid_ttl(ttl: Duration) -> bool {
    ttl >= MIN_TTL && ttl <= MAX_TTL
}

// ---------------------------------------------------------------------------------------------
// Lock names

/// Whether `name` must be accepted under the default prefix: not empty and without hash-tag
/// braces (whose rules these properties leave to the library's own tests).
fn plainly_valid(name: &str) -> bool {
    !name.is_empty() && !name.contains(['{', '}'])
}

/// What a lock over `names` must answer: keys for every name (sorted, without duplicates), or
/// `InvalidName`, which a list with an empty or no name always gets and a list of plainly
/// valid names never does.
fn check_names(
    names: &[String],
    result: redis_mutex::Result<redis_mutex::Mutex>,
) -> Result<(), TestCaseError> {
    let mut expected: Vec<String> = names.iter().map(|name| format!("MUTEX_{name}")).collect();
    expected.sort();
    expected.dedup();
    match result {
        Ok(m) => {
            prop_assert!(!names.is_empty() && names.iter().all(|name| !name.is_empty()));
            prop_assert_eq!(m.keys(), expected.as_slice());
        }
        Err(err) => {
            prop_assert!(
                names.is_empty() || !names.iter().all(|name| plainly_valid(name)),
                "{:?} refused: {:?}",
                names,
                err
            );
            prop_assert!(matches!(err, Error::InvalidName { .. }), "{:?}", err);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_string_is_a_lock_name_or_invalid_name(name in any::<String>()) {
        let client = client();
        let names = [name.clone()];
        check_names(&names, client.mutex(name.as_str()))?;
        check_names(&names, client.blocking().mutex(name.clone()).map(|m| m.as_async().clone()))?;
        prop_assert_eq!(LockNames::new(&name).is_ok(), !name.is_empty());
    }

    #[test]
    fn lists_of_names_are_sorted_and_deduplicated(
        names in prop::collection::vec(
            prop_oneof![
                Just(String::new()),
                "[ab]{1,2}",
                "[a{}:]{1,6}",
                Just("redis-mutex:x".to_owned()),
                any::<String>(),
            ],
            0..6,
        ),
    ) {
        let client = client();
        check_names(&names, client.mutex(names.as_slice()))?;
        check_names(&names, client.mutex(names.clone()))?;
        check_names(
            &names,
            LockNames::new(names.as_slice()).and_then(|names| client.mutex(names)),
        )?;
    }
}

// ---------------------------------------------------------------------------------------------
// URLs

/// `password` with every byte percent-encoded.
fn encoded(password: &str) -> String {
    password.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Valid URLs carrying `password` (as userinfo, percent-encoded, or a `pass` query value).
fn url_with_password(password: &str) -> Vec<String> {
    let encoded = encoded(password);
    vec![
        format!("redis://user:{password}@127.0.0.1:6379/0"),
        format!("redis://:{password}@localhost/"),
        format!("rediss://u:{password}@[::1]:6380/2"),
        format!("redis://{password}@h:1"),
        format!("redis://u:{encoded}@127.0.0.1/"),
        format!("redis+unix:///tmp/redis.sock?db=1&pass={password}"),
        format!("redis+unix:///tmp/r.sock?password={password}&db=2"),
        format!("redis+unix:///tmp/r.sock?db=0&p%61ss={password}"),
    ]
}

/// One edit of a URL: insert, replace or delete a character.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, char),
    Replace(usize, char),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let c = prop_oneof![
        3 => prop::sample::select(vec!['@', ':', '/', '?', '#', '%', '[', ']', '=', '&', ' ', '.', '\t', '\n', '+']),
        1 => any::<char>(),
    ];
    prop_oneof![
        (any::<usize>(), c.clone()).prop_map(|(at, c)| Edit::Insert(at, c)),
        (any::<usize>(), c).prop_map(|(at, c)| Edit::Replace(at, c)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(url: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = url.chars().collect();
    for edit in edits {
        match *edit {
            Edit::Insert(at, c) => chars.insert(at % (chars.len() + 1), c),
            Edit::Replace(_, _) | Edit::Delete(_) if chars.is_empty() => {}
            Edit::Replace(at, c) => {
                let len = chars.len();
                chars[at % len] = c;
            }
            Edit::Delete(at) => {
                let len = chars.len();
                chars.remove(at % len);
            }
        }
    }
    chars.into_iter().collect()
}

/// Whether `url` still carries `password` as a password: where the `url` crate (the parser
/// behind redis-rs) finds one, or in userinfo (before the last `@` of the part before any `?`,
/// after the user name), or as a `pass`/`password` query value.
fn carries(url: &str, password: &str) -> bool {
    if let Ok(parsed) = url::Url::parse(url) {
        let in_query = parsed
            .query_pairs()
            .any(|(key, value)| matches!(&*key, "pass" | "password") && value.contains(password));
        if in_query || parsed.password().is_some_and(|p| p.contains(password)) {
            return true;
        }
    }
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    // The password is what follows the user name's `:`, or a lone userinfo (`redis://pw@h`).
    let in_userinfo = before_query.rfind('@').is_some_and(|at| {
        let userinfo = &before_query[..at];
        userinfo
            .split_once(':')
            .map_or(userinfo, |(_user, password)| password)
            .contains(password)
    });
    let in_query = query.split('&').any(|param| {
        param.split_once('=').is_some_and(|(key, value)| {
            matches!(key, "pass" | "password") && value.contains(password)
        })
    });
    in_userinfo || in_query
}

/// Builds a client of `url` every way there is, and checks each answer: a client, or a typed
/// input error; the password nowhere in what can be shown.
fn check_url(url: &str, password: &str) -> Result<(), TestCaseError> {
    let encoded = encoded(password);
    let secret = carries(url, password) || carries(url, &encoded);
    let results = [
        Client::open(url),
        Client::builder(url).prefix("p:").build(),
        redis_mutex::blocking::Client::open(url).map(|client| client.as_async().clone()),
    ];
    for result in results {
        let shown = match &result {
            Ok(client) => vec![client.server().to_owned(), format!("{client:?}")],
            Err(err) => {
                prop_assert!(
                    matches!(err, Error::InvalidUrl { .. }),
                    "not InvalidUrl for {:?}: {:?}",
                    url,
                    err
                );
                vec![err.to_string(), format!("{err:?}")]
            }
        };
        if secret {
            for text in shown {
                prop_assert!(
                    !text.contains(password) && !text.contains(&encoded),
                    "password of {:?} shown: {}",
                    url,
                    text
                );
            }
        }
    }
    Ok(())
}

/// The check is not vacuous: every unedited URL carries its password.
#[test]
fn every_url_template_carries_its_password() {
    for url in url_with_password("PWsecret1") {
        assert!(
            carries(&url, "PWsecret1") || carries(&url, &encoded("PWsecret1")),
            "{url}"
        );
        check_url(&url, "PWsecret1").unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_string_as_a_url_is_a_client_or_invalid_url(url in any::<String>()) {
        check_url(&url, "\u{0}never-in-any-url")?;
    }

    #[test]
    fn edited_urls_never_show_their_password(
        password in "PW[A-Za-z0-9]{6,10}",
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 0..4),
    ) {
        let urls = url_with_password(&password);
        let url = apply(which.get(&urls).as_str(), &edits);
        check_url(&url, &password)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Durations

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_duration_given_to_the_builder_is_accepted_or_a_typed_error(
        ttl in duration(),
        wait in prop::option::of(duration()),
        connect in duration(),
        response in duration(),
        poll in duration(),
    ) {
        let built = Client::builder("redis://127.0.0.1:1/")
            .ttl(ttl)
            .wait(wait)
            .connect_timeout(connect)
            .response_timeout(response)
            .max_poll_interval(poll)
            .build();
        match built {
            Ok(client) => {
                prop_assert!(is_valid_ttl(ttl));
                prop_assert_eq!(client.ttl(), ttl);
            }
            Err(Error::InvalidTtl { ttl: bad, .. }) => {
                prop_assert!(!is_valid_ttl(ttl));
                prop_assert_eq!(bad, ttl);
            }
            Err(Error::InvalidConfig { option, .. }) => {
                prop_assert!(is_valid_ttl(ttl));
                prop_assert!(
                    ["connect_timeout", "response_timeout", "max_poll_interval"].contains(&option),
                    "{}",
                    option
                );
            }
            Err(err) => prop_assert!(false, "unexpected error {:?}", err),
        }
    }

    #[test]
    fn any_ttl_given_to_a_lock_is_accepted_or_invalid_ttl(ttl in duration()) {
        let m = client().mutex("fuzz").unwrap();
        match m.clone().with_ttl(ttl) {
            Ok(m) => {
                prop_assert!(is_valid_ttl(ttl));
                prop_assert_eq!(m.ttl(), ttl);
            }
            Err(err) => {
                prop_assert!(!is_valid_ttl(ttl));
                prop_assert!(matches!(err, Error::InvalidTtl { .. }), "{err:?}");
            }
        }
        let blocking = client().blocking().mutex("fuzz").unwrap();
        prop_assert_eq!(blocking.with_ttl(ttl).is_ok(), is_valid_ttl(ttl));
    }
}

/// Valid client settings with timeouts and poll intervals anywhere from a nanosecond to
/// `Duration::MAX`: building gives a client or a typed error.
fn client_with(connect: Duration, response: Duration, poll: Duration) -> Option<Client> {
    match Client::builder(support::shared().url())
        .connect_timeout(connect)
        .response_timeout(response)
        .max_poll_interval(poll)
        .build()
    {
        Ok(client) => Some(client),
        Err(err) => {
            assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
            None
        }
    }
}

/// How an operation on a real server may end with odd durations: done, out of time, or (with a
/// timeout of a few nanoseconds) without an answer from Redis.
fn acceptable(err: &Error) -> bool {
    err.is_timeout() || err.is_busy() || matches!(err, Error::Unreachable { .. })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(SERVER_CASES))]

    #[test]
    fn any_wait_and_timeout_on_a_real_server_never_panics(
        wait in short_or_endless(),
        connect in prop_oneof![Just(Duration::from_secs(2)), duration()],
        response in prop_oneof![Just(Duration::from_secs(2)), duration()],
        poll in prop_oneof![(1..20u64).prop_map(Duration::from_millis), duration()],
    ) {
        let Some(client) = client_with(connect, response, poll) else { return Ok(()) };
        let name = support::unique("fuzz-wait");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            // Free: every way of waiting takes it at once. A short lease, so that a release
            // that a nanosecond response timeout failed frees the lock soon anyway.
            let m = client.mutex(name.as_str()).unwrap().with_ttl(Duration::from_millis(300)).unwrap();
            for bounded in [false, true] {
                let attempt = if bounded {
                    m.try_lock_for(wait).await
                } else {
                    m.clone().with_wait(Some(wait)).lock().await
                };
                match attempt {
                    Ok(guard) => { let _ = guard.release().await; }
                    Err(err) => prop_assert!(acceptable(&err), "{:?}", err),
                }
            }
            // Held for 60 ms: waiting gets it or runs out of time.
            let Ok(holder) = m.try_lock().await else { return Ok(()) };
            let release = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(60)).await;
                let _ = holder.release().await;
            });
            match m.try_lock_for(wait).await {
                Ok(guard) => { let _ = guard.release().await; }
                Err(err) => prop_assert!(acceptable(&err), "{:?}", err),
            }
            release.await.unwrap();
            // Waiting for background releases, however long it may take, returns.
            redis_mutex::flush(wait).await;
            Ok(())
        })?;
    }

    #[test]
    fn any_duration_given_to_a_held_lock_never_panics(
        extend in duration(),
        wait_lost in short_or_endless(),
    ) {
        let client = client_with(Duration::from_secs(2), Duration::from_secs(2), Duration::from_millis(20))
            .unwrap()
            .blocking();
        // The shortest lease, without renewal: lost soon, so waiting for the loss ends.
        let m = client
            .mutex(support::unique("fuzz-held"))
            .unwrap()
            .with_ttl(MIN_TTL)
            .unwrap()
            .with_renewal(false);
        let guard = m.try_lock().unwrap();
        match guard.extend(extend) {
            Ok(()) => prop_assert!(is_valid_ttl(extend)),
            Err(err) => prop_assert!(
                matches!(err, Error::InvalidTtl { .. }) || err.is_lost(),
                "{:?}",
                err
            ),
        }
        let _ = guard.extend(MIN_TTL);
        let start = Instant::now();
        let lost = guard.lost_timeout(wait_lost);
        prop_assert!(lost || start.elapsed() >= wait_lost);
        let _ = guard.release();
    }
}

// ---------------------------------------------------------------------------------------------
// Panics the properties above found, pinned down

/// `Instant::now() + wait` overflowed: `lock()` with `wait = Some(Duration::MAX)`,
/// `try_lock_for(Duration::MAX)` and the blocking `lost_timeout(Duration::MAX)` panicked. Such waits
/// are waits without end.
#[tokio::test]
async fn waits_of_duration_max_are_endless_not_a_panic() {
    let client = Client::open(&support::shared().url()).unwrap();
    let m = client.mutex(support::unique("max-wait")).unwrap();
    let guard = m
        .clone()
        .with_wait(Some(Duration::MAX))
        .lock()
        .await
        .unwrap();
    // Held: a waiter that would wait "forever" gets it once it is released.
    let waiter = tokio::spawn({
        let m = m.clone();
        async move { m.try_lock_for(Duration::MAX).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    guard.release().await.unwrap();
    let second = waiter.await.unwrap().unwrap();
    second.release().await.unwrap();

    let blocking = client
        .blocking()
        .mutex(support::unique("max-wait-lost"))
        .unwrap();
    tokio::task::spawn_blocking(move || {
        let m = blocking.with_ttl(MIN_TTL).unwrap().with_renewal(false);
        let guard = m.try_lock().unwrap();
        assert!(
            guard.lost_timeout(Duration::MAX),
            "the shortest lease runs out"
        );
    })
    .await
    .unwrap();
}

/// `max_poll_interval * 3` (a waiter's queue entry) overflowed on the runtime thread for
/// intervals near `Duration::MAX`; intervals over 24 h are now refused when building.
#[test]
fn poll_intervals_over_a_day_are_invalid_config() {
    let build = |poll| {
        Client::builder("redis://127.0.0.1:1/")
            .max_poll_interval(poll)
            .build()
    };
    assert!(build(Duration::from_secs(24 * 60 * 60)).is_ok());
    for poll in [Duration::from_secs(24 * 60 * 60 + 1), Duration::MAX] {
        let err = build(poll).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidConfig {
                    option: "max_poll_interval",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

/// The notification connection's bound, connect plus response timeout, overflowed on the
/// runtime thread when both were near `Duration::MAX`, and the waiters it should have woken
/// hung. Such timeouts are as good as none.
#[tokio::test]
async fn timeouts_of_duration_max_wait_and_wake_without_a_panic() {
    let client = Client::builder(support::shared().url())
        .connect_timeout(Duration::MAX)
        .response_timeout(Duration::MAX)
        .build()
        .unwrap();
    let m = client.mutex(support::unique("max-timeouts")).unwrap();
    let holder = m.try_lock().await.unwrap();
    let waiter = tokio::spawn({
        let m = m.clone();
        async move { m.try_lock_for(Duration::from_secs(10)).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let released = Instant::now();
    holder.release().await.unwrap();
    waiter.await.unwrap().unwrap().release().await.unwrap();
    // Woken by the release, not at the end of its wait.
    assert!(
        released.elapsed() < Duration::from_secs(3),
        "{:?}",
        released.elapsed()
    );
    assert!(redis_mutex::flush(Duration::MAX).await);
}
