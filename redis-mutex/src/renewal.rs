//! When guards renew their leases: one timer on the crate runtime for every guard.
//!
//! A guard's renewal is due a third into its lease, so most guards are released before it is
//! due. Spawning a renewal task per acquisition would wake the crate's thread twice per lock
//! (spawn, abort) even then. Instead a guard files its renewal here, a lock-protected entry in
//! a timetable; the timetable's one task sleeps until the earliest entry is due, and only then
//! starts that renewal as a task of its own. Filing wakes the task only when the new entry is
//! due before the one it sleeps for, which, with one TTL per lock, is rare; cancelling a
//! renewal that has not started touches nothing but the table.
//!
//! Renewals run on the crate runtime whatever runtime the guard was taken on, so a caller that
//! blocks its own runtime (or drops it) does not stop its guards' renewals.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::{LazyLock, Mutex as StdMutex, MutexGuard};

use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::error::Result;
use crate::runtime;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The process's renewal timetable.
static TIMETABLE: LazyLock<Timetable> = LazyLock::new(|| Timetable {
    state: StdMutex::new(State::default()),
    changed: Notify::new(),
});

struct Timetable {
    state: StdMutex<State>,
    /// Tells the task an entry is due earlier than it sleeps for.
    changed: Notify,
}

#[derive(Default)]
struct State {
    /// Renewals not started yet, by when they are due.
    pending: BTreeMap<(Instant, u64), Job>,
    /// Renewals started, until they end or are cancelled.
    running: HashMap<u64, AbortHandle>,
    next_id: u64,
    /// Whether the timetable's task runs, and until when it sleeps (`None`: until told).
    task: Option<Option<Instant>>,
}

/// A filed renewal: cancels it when told to (not when dropped).
#[derive(Debug)]
pub(crate) struct Renewal {
    key: (Instant, u64),
}

impl Timetable {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Files `job` to start on the crate runtime at `due`.
///
/// # Errors
///
/// [`Error::Forked`](crate::Error::Forked) or [`Error::Runtime`](crate::Error::Runtime) when
/// the crate runtime is unavailable.
pub(crate) fn schedule(
    due: Instant,
    job: impl Future<Output = ()> + Send + 'static,
) -> Result<Renewal> {
    runtime::check()?;
    let mut state = TIMETABLE.state();
    let id = state.next_id;
    state.next_id += 1;
    let key = (due, id);
    state.pending.insert(key, Box::pin(job));
    match state.task {
        None => {
            state.task = Some(None);
            drop(state);
            if let Err(error) = runtime::spawn(run()) {
                TIMETABLE.state().task = None;
                return Err(error);
            }
        }
        Some(sleeping) => {
            if sleeping.is_none_or(|until| due < until) {
                TIMETABLE.changed.notify_one();
            }
        }
    }
    Ok(Renewal { key })
}

impl Renewal {
    /// Stops the renewal: unfiles it, or aborts it if it has started.
    pub(crate) fn cancel(&self) {
        let mut state = TIMETABLE.state();
        if state.pending.remove(&self.key).is_none()
            && let Some(task) = state.running.remove(&self.key.1)
        {
            task.abort();
        }
    }
}

/// The timetable's task: starts renewals as they fall due.
async fn run() {
    loop {
        let changed = TIMETABLE.changed.notified();
        let until = {
            let mut state = TIMETABLE.state();
            let now = Instant::now();
            while let Some(entry) = state.pending.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let ((_, id), job) = entry.remove_entry();
                let task = tokio::spawn(async move {
                    job.await;
                    TIMETABLE.state().running.remove(&id);
                });
                state.running.insert(id, task.abort_handle());
            }
            let until = state.pending.first_key_value().map(|(key, _)| key.0);
            state.task = Some(until);
            until
        };
        match until {
            Some(until) => {
                tokio::select! {
                    () = changed => {}
                    () = tokio::time::sleep_until(until) => {}
                }
            }
            None => changed.await,
        }
    }
}
