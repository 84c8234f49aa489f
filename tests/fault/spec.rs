//! What a fault worker does, as command-line arguments: built by the tests
//! ([`Spec::args`]), read back by the worker binary ([`Spec::parse`]).

#![allow(dead_code)]

use std::time::Duration;

/// Which API the worker locks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiKind {
    /// `redis_mutex::Mutex`, awaited on a current-thread tokio runtime.
    Async,
    /// `redis_mutex::blocking::Mutex`.
    Blocking,
}

/// A worker's job: lock `name` on `url` (once, a number of times, or until its stdin closes),
/// hold it for `hold` (ending early when the guard reports the lock lost), release, repeat.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) url: String,
    pub(crate) name: String,
    pub(crate) api: ApiKind,
    /// How many critical sections; `None`: until stdin closes.
    pub(crate) iterations: Option<u32>,
    pub(crate) ttl: Duration,
    pub(crate) hold: Duration,
    /// Pause between a release (or failure) and the next attempt.
    pub(crate) gap: Duration,
    /// `None`: `lock()` waits as long as it takes; `Some(w)`: `try_lock_for(w)`.
    pub(crate) wait: Option<Duration>,
    pub(crate) fencing: bool,
    pub(crate) renewal: bool,
    /// `false`: skip the lock and only pretend to hold it (to show the checker at work).
    pub(crate) lock: bool,
    /// A direct URL of the server (not through a proxy), to read the lock key on acquisition.
    pub(crate) check_url: Option<String>,
    pub(crate) max_poll: Option<Duration>,
    /// Connect and response timeout of the worker's client.
    pub(crate) timeout: Option<Duration>,
}

impl Spec {
    /// One `lock()` of `name` on `url` with the async API, a 1 s TTL with renewal, fencing
    /// on, held 100 ms.
    pub(crate) fn new(url: impl Into<String>, name: impl Into<String>) -> Self {
        Spec {
            url: url.into(),
            name: name.into(),
            api: ApiKind::Async,
            iterations: Some(1),
            ttl: Duration::from_secs(1),
            hold: Duration::from_millis(100),
            gap: Duration::ZERO,
            wait: None,
            fencing: true,
            renewal: true,
            lock: true,
            check_url: None,
            max_poll: None,
            timeout: None,
        }
    }

    pub(crate) fn api(mut self, api: ApiKind) -> Self {
        self.api = api;
        self
    }

    /// Lock `n` times (then exit).
    pub(crate) fn times(mut self, n: u32) -> Self {
        self.iterations = Some(n);
        self
    }

    /// Lock until stdin closes instead of a fixed number of times.
    pub(crate) fn forever(mut self) -> Self {
        self.iterations = None;
        self
    }

    pub(crate) fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub(crate) fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    pub(crate) fn gap(mut self, gap: Duration) -> Self {
        self.gap = gap;
        self
    }

    pub(crate) fn wait(mut self, wait: Option<Duration>) -> Self {
        self.wait = wait;
        self
    }

    pub(crate) fn without_lock(mut self) -> Self {
        self.lock = false;
        self
    }

    /// Without fencing tokens (which Redlock refuses).
    pub(crate) fn without_fencing(mut self) -> Self {
        self.fencing = false;
        self
    }

    pub(crate) fn check_key_on(mut self, direct_url: impl Into<String>) -> Self {
        self.check_url = Some(direct_url.into());
        self
    }

    pub(crate) fn max_poll(mut self, interval: Duration) -> Self {
        self.max_poll = Some(interval);
        self
    }

    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The worker's command line.
    pub(crate) fn args(&self) -> Vec<String> {
        let ms = |d: Duration| d.as_millis().to_string();
        let mut args = vec![
            ("--url", self.url.clone()),
            ("--name", self.name.clone()),
            ("--api", format!("{:?}", self.api).to_lowercase()),
            ("--ttl-ms", ms(self.ttl)),
            ("--hold-ms", ms(self.hold)),
            ("--gap-ms", ms(self.gap)),
            ("--fencing", self.fencing.to_string()),
            ("--renewal", self.renewal.to_string()),
            ("--lock", self.lock.to_string()),
        ];
        let optional = [
            ("--iterations", self.iterations.map(|n| n.to_string())),
            ("--wait-ms", self.wait.map(ms)),
            ("--check-url", self.check_url.clone()),
            ("--max-poll-ms", self.max_poll.map(ms)),
            ("--timeout-ms", self.timeout.map(ms)),
        ];
        args.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
        args.into_iter()
            .flat_map(|(k, v)| [k.to_owned(), v])
            .collect()
    }

    /// Reads back what [`args`](Spec::args) wrote.
    pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut spec = Spec::new("", "");
        spec.iterations = None;
        let mut args = args.into_iter();
        let ms = |v: &str| {
            v.parse()
                .map(Duration::from_millis)
                .map_err(|e| format!("{v}: {e}"))
        };
        let flag = |v: &str| v.parse::<bool>().map_err(|e| format!("{v}: {e}"));
        while let Some(key) = args.next() {
            let value = args.next().ok_or_else(|| format!("{key} needs a value"))?;
            match key.as_str() {
                "--url" => spec.url = value,
                "--name" => spec.name = value,
                "--api" => {
                    spec.api = match value.as_str() {
                        "async" => ApiKind::Async,
                        "blocking" => ApiKind::Blocking,
                        _ => return Err(format!("unknown API {value}")),
                    }
                }
                "--iterations" => {
                    spec.iterations = Some(value.parse().map_err(|e| format!("{e}"))?)
                }
                "--ttl-ms" => spec.ttl = ms(&value)?,
                "--hold-ms" => spec.hold = ms(&value)?,
                "--gap-ms" => spec.gap = ms(&value)?,
                "--wait-ms" => spec.wait = Some(ms(&value)?),
                "--fencing" => spec.fencing = flag(&value)?,
                "--renewal" => spec.renewal = flag(&value)?,
                "--lock" => spec.lock = flag(&value)?,
                "--check-url" => spec.check_url = Some(value),
                "--max-poll-ms" => spec.max_poll = Some(ms(&value)?),
                "--timeout-ms" => spec.timeout = Some(ms(&value)?),
                _ => return Err(format!("unknown argument {key}")),
            }
        }
        if spec.url.is_empty() || spec.name.is_empty() {
            return Err("--url and --name are required".into());
        }
        Ok(spec)
    }
}
