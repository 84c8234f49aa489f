//! The signals redis-mutex catches (SIGINT, SIGTERM, SIGHUP) and passes on to its child.

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::exit::{self, Failure};

/// The caught signals, installed before the lock is requested so that none is missed.
#[derive(Debug)]
pub(crate) struct Signals {
    streams: [(i32, Signal); 3],
}

impl Signals {
    /// Installs the handlers.
    ///
    /// # Errors
    ///
    /// An OS failure (exit code 71) when a handler cannot be installed.
    pub(crate) fn install() -> Result<Signals, Failure> {
        let catch = |number: i32| {
            signal(SignalKind::from_raw(number))
                .map(|stream| (number, stream))
                .map_err(|error| {
                    Failure::new(exit::OS, format!("cannot handle signal {number}: {error}"))
                })
        };
        Ok(Signals {
            streams: [
                catch(libc::SIGINT)?,
                catch(libc::SIGTERM)?,
                catch(libc::SIGHUP)?,
            ],
        })
    }

    /// The next caught signal's number. Cancel safe.
    pub(crate) async fn recv(&mut self) -> i32 {
        let [(int, sigint), (term, sigterm), (hup, sighup)] = &mut self.streams;
        tokio::select! {
            Some(()) = sigint.recv() => *int,
            Some(()) = sigterm.recv() => *term,
            Some(()) = sighup.recv() => *hup,
            else => std::future::pending().await,
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
