//! Exit codes (sysexits(3) where one fits, shell conventions for commands that cannot run) and
//! the one-line failure messages that go with them.

use std::fmt;
use std::process::ExitCode;

/// Bad command line: unknown option, missing `--` or command, bad duration or URL (EX_USAGE).
pub(crate) const USAGE: u8 = 64;
/// A lock's key holds a non-string Redis value, so it is not a lock (EX_DATAERR).
pub(crate) const DATA: u8 = 65;
/// Redis could not be reached, or refused the request (EX_UNAVAILABLE).
pub(crate) const UNAVAILABLE: u8 = 69;
/// Something that should not happen (EX_SOFTWARE).
pub(crate) const SOFTWARE: u8 = 70;
/// The operating system refused something redis-mutex needs, e.g. signal handlers (EX_OSERR).
pub(crate) const OS: u8 = 71;
/// The lock is held by someone else (`--no-wait`), or `--wait` ran out (EX_TEMPFAIL).
pub(crate) const BUSY: u8 = 75;
/// The lock was lost while the command ran; the command was terminated.
pub(crate) const LOST: u8 = 79;
/// The command was found but could not be executed (as shells report it).
pub(crate) const CANNOT_EXECUTE: u8 = 126;
/// The command was not found (as shells report it).
pub(crate) const NOT_FOUND: u8 = 127;

/// The exit code table, as `--help` shows it (the README has the same table).
pub(crate) const CODES: &str = "\
Exit status:
  0-255  exec: COMMAND's own exit status
  128+N  exec: COMMAND was killed by signal N, or redis-mutex was stopped by signal N while
         waiting for the lock (nothing is left held)
  64     usage error: unknown option, missing `--` or COMMAND, bad duration or URL
  65     a lock's key holds a non-string Redis value
  69     Redis unreachable, or it refused the request (authentication, ACL, ...)
  70     internal error
  71     operating system error (e.g. installing signal handlers)
  75     lock busy (--no-wait) or not acquired within --wait
  79     lock lost while COMMAND ran; COMMAND was sent SIGTERM, SIGKILL after --kill-grace
  126    COMMAND found but not executable
  127    COMMAND not found";

/// Why redis-mutex stops without a status of its own command to pass on.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The exit code.
    pub(crate) code: u8,
    /// The one-line message for stderr; `None` to stay silent (`--quiet`).
    pub(crate) message: Option<String>,
}

impl Failure {
    /// A failure with exit code `code` and `message`.
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: Some(message.into()),
        }
    }

    /// A usage error (exit code 64).
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure::new(USAGE, message)
    }

    /// The same failure without a message.
    pub(crate) fn silenced(self) -> Failure {
        Failure {
            message: None,
            ..self
        }
    }

    /// Prints the message (if any) and turns into the process's exit code.
    pub(crate) fn report(self) -> ExitCode {
        if let Some(message) = &self.message {
            eprintln!("redis-mutex: {message}");
        }
        ExitCode::from(self.code)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (exit {})",
            self.message.as_deref().unwrap_or(""),
            self.code
        )
    }
}

impl From<redis_mutex::Error> for Failure {
    fn from(error: redis_mutex::Error) -> Failure {
        let code = if error.is_contention() {
            BUSY
        } else if error.is_lost() {
            LOST
        } else if error.is_connection() {
            UNAVAILABLE
        } else if error.is_invalid_input() {
            USAGE
        } else if matches!(error, redis_mutex::Error::WrongType { .. }) {
            DATA
        } else {
            SOFTWARE
        };
        Failure::new(code, with_causes(&error))
    }
}

/// `error`'s message followed by its causes, on one line: the library's messages leave the
/// cause (e.g. "Connection refused") to `source()`.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut causes = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        // A wrapper often repeats what it wraps (a Redis I/O error and the OS error inside).
        let text = cause.to_string();
        if causes
            .last()
            .is_none_or(|last: &String| !last.contains(&text))
        {
            causes.push(text);
        }
        source = cause.source();
    }
    match causes.is_empty() {
        true => error.to_string(),
        false => format!("{error} (cause: {})", causes.join(": ")),
    }
}

/// The exit code that reports a command killed by signal `signal`, as shells do.
pub(crate) fn signalled(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_map_to_distinct_codes() {
        let url = redis_mutex::Client::open("nonsense").unwrap_err();
        assert_eq!(Failure::from(url).code, USAGE);
        let name = redis_mutex::LockNames::new([""]).unwrap_err();
        assert_eq!(Failure::from(name).code, USAGE);
    }

    #[test]
    fn signals_add_128() {
        assert_eq!(signalled(libc::SIGTERM), 143);
        assert_eq!(signalled(libc::SIGKILL), 137);
    }

    #[test]
    fn the_help_table_lists_every_code() {
        for code in [
            USAGE,
            DATA,
            UNAVAILABLE,
            SOFTWARE,
            OS,
            BUSY,
            LOST,
            CANNOT_EXECUTE,
            NOT_FOUND,
        ] {
            assert!(CODES.contains(&format!("\n  {code}  ")), "{code} missing");
        }
    }
}
