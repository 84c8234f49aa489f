//! The signals redis-mutex catches (SIGINT, SIGTERM, SIGHUP) and passes on to its child.
//!
//! The child stays in redis-mutex's process group, so a signal the terminal sends to the
//! foreground group (Ctrl-C, a hang-up) reaches it directly. Only signals that another process
//! sent to redis-mutex itself (kill(2): `si_code <= 0`) are forwarded, so the child does not get
//! a terminal's Ctrl-C twice (as sudo(8) does it).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::exit::{self, Failure};

/// The caught signals.
const CAUGHT: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Per caught signal, how many deliveries another process sent since the last [`Signals::recv`].
static FROM_PROCESSES: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

/// One caught signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caught {
    /// The signal number.
    pub(crate) number: i32,
    /// Whether a process sent it to redis-mutex (rather than the terminal to the whole
    /// foreground process group, child included).
    pub(crate) from_process: bool,
}

/// The caught signals, installed before the lock is requested so that none is missed.
#[derive(Debug)]
pub(crate) struct Signals {
    streams: [Signal; 3],
}

impl Signals {
    /// Installs the handlers.
    ///
    /// # Errors
    ///
    /// An OS failure (exit code 71) when a handler cannot be installed.
    pub(crate) fn install() -> Result<Signals, Failure> {
        let failed = |number: i32, error: std::io::Error| {
            Failure::new(exit::OS, format!("cannot handle signal {number}: {error}"))
        };
        let mut streams = Vec::with_capacity(CAUGHT.len());
        for (index, number) in CAUGHT.into_iter().enumerate() {
            // SAFETY: the action only increments an atomic, which is async-signal-safe.
            unsafe {
                signal_hook_registry::register_sigaction(number, move |info| {
                    if info.si_code <= 0 {
                        FROM_PROCESSES[index].fetch_add(1, Ordering::SeqCst);
                    }
                })
            }
            .map_err(|error| failed(number, error))?;
            streams.push(signal(SignalKind::from_raw(number)).map_err(|e| failed(number, e))?);
        }
        let streams = streams.try_into().expect("one stream per caught signal");
        Ok(Signals { streams })
    }

    /// The next caught signal. Cancel safe.
    pub(crate) async fn recv(&mut self) -> Caught {
        let [int, term, hup] = &mut self.streams;
        let index = tokio::select! {
            Some(()) = int.recv() => 0,
            Some(()) = term.recv() => 1,
            Some(()) = hup.recv() => 2,
            else => std::future::pending().await,
        };
        Caught {
            number: CAUGHT[index],
            from_process: FROM_PROCESSES[index].swap(0, Ordering::SeqCst) > 0,
        }
    }
}

/// Sends `signal` to process `pid`; a process that is already gone is not an error.
pub(crate) fn send(pid: u32, signal: i32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our own child's id, which
    // stays reserved (a zombie) until we reap it, so it cannot name another process.
    unsafe {
        libc::kill(pid, signal);
    }
}
