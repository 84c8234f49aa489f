//! The command line, as clap parses it, and the checks clap cannot express.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::exit::{self, Failure};

/// Run a command while holding named Redis locks; inspect and release locks.
#[derive(Debug, Parser)]
#[command(name = "redis-mutex", version, after_long_help = exit::CODES, after_help = exit::CODES)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Which server and which keys; valid before or after the subcommand.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Redis URL: redis://, rediss://, redis+unix://; redis+cluster://host:port,… (a Cluster);
    /// redis+sentinel://host:port,…/master (Sentinel); redis+redlock://host:port,… (Redlock)
    /// [default: $REDIS_MUTEX_URL, else $REDIS_URL, else redis://127.0.0.1:6379/]
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) server: Option<String>,
    /// Key prefix put before every lock name [default: MUTEX_, as the library]
    #[arg(long, global = true, value_name = "PREFIX")]
    pub(crate) prefix: Option<String>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Take every NAME (all or nothing), run COMMAND, release when it exits.
    ///
    /// The lease is renewed while COMMAND runs. COMMAND gets REDIS_MUTEX_NAMES (the lock
    /// names, sorted, one per line) and, with --fence, REDIS_MUTEX_FENCE (their fencing tokens,
    /// one per line, in the same order). SIGINT, SIGTERM and SIGHUP are forwarded to it. If
    /// the lock is lost while it runs, COMMAND gets SIGTERM, then SIGKILL after --kill-grace.
    #[command(after_help = exit::CODES, after_long_help = exit::CODES)]
    Exec(ExecArgs),
    /// Show whether each NAME is held, the lease left, its fencing counter and queued waiters.
    Status(StatusArgs),
    /// Remove the locks on NAMEs whoever holds them (the administrator's way out).
    Release(ReleaseArgs),
}

/// `redis-mutex exec`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Lease time to live, renewed every third of it while COMMAND runs; a crashed
    /// redis-mutex frees the lock this long after its last renewal [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) ttl: Option<Duration>,
    /// Give up when the lock is not acquired within DURATION [default: wait forever]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) wait: Option<Duration>,
    /// Give up at once when the lock is taken
    #[arg(long, conflicts_with = "wait")]
    pub(crate) no_wait: bool,
    /// Take fencing tokens and pass them to COMMAND in REDIS_MUTEX_FENCE
    #[arg(long)]
    pub(crate) fence: bool,
    /// No status line while waiting, no message when the lock is busy or the wait runs out
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// After a lost lock, how long COMMAND has between SIGTERM and SIGKILL
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub(crate) kill_grace: Duration,
    /// Lock names, taken all or nothing
    #[arg(value_name = "NAME", required = true)]
    pub(crate) names: Vec<String>,
    /// The command to run, after `--`
    #[arg(value_name = "COMMAND", last = true)]
    pub(crate) command: Vec<OsString>,
}

/// How long `exec` waits for the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Patience {
    /// One attempt.
    NoWait,
    /// At most this long.
    For(Duration),
    /// As long as it takes.
    Forever,
}

impl ExecArgs {
    /// How long to wait for the lock.
    pub(crate) fn patience(&self) -> Patience {
        match (self.no_wait, self.wait) {
            (true, _) => Patience::NoWait,
            (false, Some(wait)) => Patience::For(wait),
            (false, None) => Patience::Forever,
        }
    }

    /// The program to run and its arguments.
    ///
    /// # Errors
    ///
    /// A usage failure when no command follows `--`, or the command is an empty string.
    pub(crate) fn program(&self) -> Result<(&OsString, &[OsString]), Failure> {
        match self.command.split_first() {
            None => Err(Failure::usage(
                "missing command: put it after `--`, as in `redis-mutex exec NAME -- COMMAND [ARGS...]`",
            )),
            Some((program, _)) if program.is_empty() => Err(Failure::usage(
                "empty command: the word after `--` is an empty string",
            )),
            Some((program, args)) => Ok((program, args)),
        }
    }
}

/// `redis-mutex status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// One JSON object per name and line, instead of text
    #[arg(long)]
    pub(crate) json: bool,
    /// Lock names
    #[arg(value_name = "NAME", required = true)]
    pub(crate) names: Vec<String>,
}

/// `redis-mutex release`.
#[derive(Debug, Args)]
pub(crate) struct ReleaseArgs {
    /// Confirm: the holders are not asked, and may still be working
    #[arg(long)]
    pub(crate) force: bool,
    /// Lock names
    #[arg(value_name = "NAME", required = true)]
    pub(crate) names: Vec<String>,
}

/// A `humantime` duration: `30s`, `1m 30s`, `500ms`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("{error}; expected e.g. `30s`, `1m 30s` or `500ms`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(args: &[&str]) -> Result<ExecArgs, clap::Error> {
        let argv = ["redis-mutex", "exec"].iter().chain(args);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Exec(exec) => exec,
            other => panic!("parsed as {other:?}"),
        })
    }

    #[test]
    fn exec_takes_names_then_the_command_after_the_separator() {
        let args = exec(&["--wait", "2s", "a", "b", "--", "sh", "-c", "exit 3"]).unwrap();
        assert_eq!(args.names, ["a", "b"]);
        assert_eq!(args.command, ["sh", "-c", "exit 3"]);
        assert_eq!(args.patience(), Patience::For(Duration::from_secs(2)));
        assert_eq!(args.kill_grace, Duration::from_secs(5));
    }

    #[test]
    fn a_missing_separator_or_empty_command_is_a_usage_error() {
        let args = exec(&["a", "echo", "hi"]).unwrap();
        assert_eq!(args.names, ["a", "echo", "hi"]);
        assert_eq!(args.program().unwrap_err().code, exit::USAGE);
        assert_eq!(
            exec(&["a", "--", ""]).unwrap().program().unwrap_err().code,
            exit::USAGE
        );
    }

    #[test]
    fn wait_and_no_wait_exclude_each_other() {
        assert!(exec(&["--wait", "1s", "--no-wait", "a", "--", "true"]).is_err());
        assert_eq!(
            exec(&["--no-wait", "a", "--", "true"]).unwrap().patience(),
            Patience::NoWait
        );
    }

    #[test]
    fn durations_are_humantime() {
        assert!(exec(&["--ttl", "soon", "a", "--", "true"]).is_err());
        let args = exec(&["--ttl", "1m 30s", "a", "--", "true"]).unwrap();
        assert_eq!(args.ttl, Some(Duration::from_secs(90)));
    }

    #[test]
    fn server_options_go_before_or_after_the_subcommand() {
        let before = Cli::try_parse_from(["redis-mutex", "--prefix", "p:", "status", "a"]);
        let after = Cli::try_parse_from(["redis-mutex", "status", "a", "--prefix", "p:"]);
        assert_eq!(before.unwrap().server.prefix.as_deref(), Some("p:"));
        assert_eq!(after.unwrap().server.prefix.as_deref(), Some("p:"));
    }
}
