//! `redis-mutex exec`: take the lock, run the command under it, release.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use redis_mutex::{Client, Guard, Mutex};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::args::{ExecArgs, Patience};
use crate::exit::{self, Failure};
use crate::progress::StatusLine;
use crate::signals::{self, Signals};

/// The environment variable holding the lock names, one per line.
const NAMES_VAR: &str = "REDIS_MUTEX_NAMES";
/// The environment variable holding the fencing tokens, one per line (with `--fence`).
const FENCE_VAR: &str = "REDIS_MUTEX_FENCE";

/// Runs `exec` and returns the exit code to leave with.
///
/// # Errors
///
/// Every way of ending without the command's own status: see [`exit`].
pub(crate) async fn run(client: &Client, args: &ExecArgs) -> Result<u8, Failure> {
    let (program, program_args) = args.program()?;
    let mut mutex = client
        .mutex(args.names.as_slice())?
        .with_fencing(args.fence);
    if let Some(ttl) = args.ttl {
        mutex = mutex.with_ttl(ttl)?;
    }
    let mut signals = Signals::install()?;

    // An abandoned wait is cleaned up in the background; the library flushes that at exit.
    let guard = match acquire(&mutex, args, &mut signals).await? {
        Waited::Acquired(guard) => guard,
        Waited::Interrupted(signal) => return Ok(exit::signalled(signal)),
    };

    let child = match spawn(&guard, program, program_args) {
        Ok(child) => child,
        Err(failure) => {
            if let Err(error) = guard.release().await {
                eprintln!("redis-mutex: {}", exit::with_causes(&error));
            }
            return Err(failure);
        }
    };
    let ended = supervise(child, &guard, &mut signals, args.kill_grace).await;
    let names = guard.names().clone();
    let released = guard.release().await;
    let status = ended.status.map_err(|error| {
        Failure::new(
            exit::SOFTWARE,
            format!("lost track of the command: {error}"),
        )
    })?;
    match released {
        _ if ended.lost => Err(Failure::new(
            exit::LOST,
            format!(
                "lock {names} was lost while the command ran; it was told to stop, and {}",
                describe(status)
            ),
        )),
        Err(error) if error.is_lost() => Err(Failure::new(
            exit::LOST,
            format!(
                "lock {names} was lost before the command finished ({}); its work may have \
                 overlapped another holder's",
                describe(status)
            ),
        )),
        Err(error) => {
            eprintln!(
                "redis-mutex: the command finished, but releasing failed: {}",
                exit::with_causes(&error)
            );
            Ok(code_of(status))
        }
        Ok(()) => Ok(code_of(status)),
    }
}

/// How the wait for the lock ended, unless it failed.
enum Waited {
    Acquired(Guard),
    /// Stopped by this signal.
    Interrupted(i32),
}

/// Waits for the lock as `args` say, racing a status line and the caught signals.
async fn acquire(mutex: &Mutex, args: &ExecArgs, signals: &mut Signals) -> Result<Waited, Failure> {
    let names = mutex.names();
    let server = mutex.client().server();
    let attempt = async {
        match args.patience() {
            Patience::NoWait => mutex.try_lock().await,
            Patience::For(wait) => mutex.try_lock_for(wait).await,
            Patience::Forever => mutex.lock().await,
        }
    };
    let mut line = StatusLine::new(format!("lock {names} on {server}"), args.quiet);
    let result = tokio::select! {
        result = attempt => result,
        caught = signals.recv() => return Ok(Waited::Interrupted(caught.number)),
        () = async { match &mut line {
            Some(line) => line.run().await,
            None => std::future::pending().await,
        }} => unreachable!("the status line never ends"),
    };
    drop(line);
    result.map(Waited::Acquired).map_err(|error| {
        let failure = match &error {
            error if error.is_busy() => {
                Failure::new(exit::BUSY, format!("lock {names} on {server} is busy"))
            }
            error if error.is_timeout() => Failure::new(
                exit::BUSY,
                format!(
                    "lock {names} on {server} not acquired within {}",
                    humantime::format_duration(args.wait.unwrap_or_default())
                ),
            ),
            _ => return Failure::from(error),
        };
        if args.quiet {
            failure.silenced()
        } else {
            failure
        }
    })
}

/// Starts the command with the lock's names (and fencing tokens) in its environment.
fn spawn(guard: &Guard, program: &OsString, args: &[OsString]) -> Result<Child, Failure> {
    let mut command = Command::new(program);
    command
        .args(args)
        .env(NAMES_VAR, guard.names().as_slice().join("\n"))
        .env_remove(FENCE_VAR);
    let fences = guard.fencing_tokens();
    if !fences.is_empty() {
        let fences: Vec<String> = fences.iter().map(u64::to_string).collect();
        command.env(FENCE_VAR, fences.join("\n"));
    }
    die_with_parent(&mut command);
    command.spawn().map_err(|error| {
        let shown = program.to_string_lossy();
        match error.kind() {
            ErrorKind::NotFound => {
                Failure::new(exit::NOT_FOUND, format!("{shown}: command not found"))
            }
            _ => Failure::new(
                exit::CANNOT_EXECUTE,
                format!("{shown}: cannot execute: {error}"),
            ),
        }
    })
}

/// On Linux, has the kernel kill the command if redis-mutex dies without a chance to stop it
/// (SIGKILL): the lock frees itself at its TTL, and the command must not outlive it.
fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2), which
    // is async-signal-safe. The parent-death signal is tied to the thread that forks; this
    // binary runs a current-thread runtime, so that is the main thread, which lives as long as
    // the process.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

/// How the command ended.
#[derive(Debug)]
struct Ended {
    status: std::io::Result<ExitStatus>,
    /// The lock was lost while it ran, and it was told to stop.
    lost: bool,
}

/// Waits for the command, forwarding signals, and stops it if the lock is lost.
async fn supervise(
    mut child: Child,
    guard: &Guard,
    signals: &mut Signals,
    kill_grace: Duration,
) -> Ended {
    let Some(pid) = child.id() else {
        // Already reaped: it has exited.
        return Ended {
            status: child.wait().await,
            lost: false,
        };
    };
    let (mut lost, mut kill_at) = (false, None);
    loop {
        tokio::select! {
            status = child.wait() => return Ended { status, lost },
            // A signal from the terminal reached the whole process group, child included.
            caught = signals.recv() => if caught.from_process {
                signals::send(pid, caught.number);
            },
            () = guard.lost(), if !lost => {
                eprintln!(
                    "redis-mutex: lock {} lost; stopping the command (SIGTERM, SIGKILL in {})",
                    guard.names(),
                    humantime::format_duration(kill_grace)
                );
                signals::send(pid, libc::SIGTERM);
                (lost, kill_at) = (true, Some(Instant::now() + kill_grace));
            }
            () = sleep_until(kill_at) => {
                signals::send(pid, libc::SIGKILL);
                kill_at = None;
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The exit code that passes `status` on: its code, or 128+N for signal N.
fn code_of(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(u8::MAX),
        (None, Some(signal)) => exit::signalled(signal),
        (None, None) => exit::SOFTWARE,
    }
}

/// `status` for a message.
fn describe(status: ExitStatus) -> String {
    match status.signal() {
        Some(signal) => format!("the command was killed by signal {signal}"),
        None => format!("the command exited with {}", code_of(status)),
    }
}
