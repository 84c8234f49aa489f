//! Who held the lock when, and the check that no two holders overlapped.
//!
//! A [`History`] collects critical sections (start and end on the machine-wide clock of
//! [`event::now`](super::event::now), token, fencing token, whether the holder was told it
//! lost the lock), plus when each holder was frozen (`SIGSTOP` .. `SIGCONT`) or killed. Workers
//! feed it their events ([`History::record`]); the test feeds it its own sections and the
//! signals it sends.
//!
//! [`History::check`] pairs every two overlapping sections. An overlap is excused only when the
//! holder that started first was frozen at the moment the second one started (so its lease
//! could run out without it), was told afterwards that it lost the lock, and has the lower
//! fencing token (so storage that checks tokens refuses it): what a lease-based lock promises,
//! and no more. Everything else is a [`Violation`].
//!
//! Sections are half-open, `[start, end)`. A worker starts its section when its lock call
//! returns, and ends it before it sends the release, or when its guard's lease ran out as far
//! as the guard could tell, whichever comes first (see `hold` in tests/fault/worker.rs): a
//! holder frozen past its lease has stopped holding at its lease's end. With a correct lock,
//! workers' sections therefore never overlap at all, and the excuse above only matters for
//! sections a test records by hand ([`History::begin`], [`History::end`]).

#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::event::{Event, between};

/// One critical section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    pub(crate) holder: String,
    pub(crate) token: String,
    pub(crate) fence: Option<u64>,
    pub(crate) start: u64,
    /// `None` while still open.
    pub(crate) end: Option<u64>,
    /// The holder learned that it lost the lock (its guard said so, or its release).
    pub(crate) told_lost: bool,
    /// The holder was killed inside the section (which ends at the kill, or at the start of
    /// the freeze it was killed in).
    pub(crate) killed: bool,
    /// The holder reported the section's end and was releasing (a kill then ends nothing).
    pub(crate) releasing: bool,
    /// What the lock key held right after the holder acquired it, when the holder looked.
    pub(crate) key: Option<String>,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (token {}, fence {:?}",
            self.holder, self.token, self.fence
        )?;
        match &self.key {
            Some(key) if *key != self.token => write!(f, ", but the key held {key}")?,
            _ => {}
        }
        f.write_str(")")
    }
}

/// Two sections that overlapped without excuse.
#[derive(Debug, Clone)]
pub(crate) struct Violation {
    pub(crate) first: Section,
    pub(crate) second: Section,
    /// Which part of the excuse is missing.
    pub(crate) why: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b) = (&self.first, &self.second);
        let overlap = match a.end {
            Some(end) => format!("{:?}", between(b.start, end.min(b.end.unwrap_or(end)))),
            None => "open-ended".to_owned(),
        };
        write!(
            f,
            "{a} and {b} held the lock together for {overlap}, {:?} after the first started: {}",
            between(a.start, b.start),
            self.why
        )
    }
}

#[derive(Debug, Default)]
struct Inner {
    sections: Vec<Section>,
    /// Each holder's open section, by index.
    open: HashMap<String, usize>,
    /// Each holder's freezes: (from, until), `until` `None` while frozen.
    frozen: HashMap<String, Vec<(u64, Option<u64>)>>,
}

/// The record of one lock's holders; share it behind an `Arc`.
#[derive(Debug, Default)]
pub(crate) struct History {
    inner: Mutex<Inner>,
}

impl History {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `holder` entered its critical section at `at`.
    pub(crate) fn begin(&self, holder: &str, token: &str, fence: Option<u64>, at: u64) {
        let mut inner = self.inner();
        let index = inner.sections.len();
        inner.sections.push(Section {
            holder: holder.to_owned(),
            token: token.to_owned(),
            fence,
            start: at,
            end: None,
            told_lost: false,
            killed: false,
            releasing: false,
            key: None,
        });
        inner.open.insert(holder.to_owned(), index);
    }

    /// The lock key held `key` when `holder` had just acquired it.
    pub(crate) fn key_seen(&self, holder: &str, key: Option<String>) {
        let mut inner = self.inner();
        if let Some(&index) = inner.open.get(holder) {
            inner.sections[index].key = key;
        }
    }

    /// `holder` left its critical section at `at`.
    pub(crate) fn end(&self, holder: &str, at: u64, told_lost: bool) {
        let mut inner = self.inner();
        if let Some(index) = inner.open.remove(holder) {
            let section = &mut inner.sections[index];
            if !section.releasing {
                section.end = Some(at);
            }
            section.told_lost |= told_lost;
        }
    }

    /// `holder`'s section ended at `at` and its release is on the way: a kill from now on does
    /// not extend the section (the release may already have handed the lock on).
    pub(crate) fn ending(&self, holder: &str, at: u64, told_lost: bool) {
        let mut inner = self.inner();
        if let Some(&index) = inner.open.get(holder) {
            let section = &mut inner.sections[index];
            section.end = Some(at);
            section.told_lost = told_lost;
            section.releasing = true;
        }
    }

    /// `holder` reported `event` (see [`Event`]): acquisitions and releases become sections.
    pub(crate) fn record(&self, holder: &str, event: &Event) {
        match event {
            Event::Acquired {
                at,
                token,
                fence,
                key,
                ..
            } => {
                self.begin(holder, token, *fence, *at);
                self.key_seen(holder, key.clone());
            }
            // The section ends before the release is sent; the release's outcome may still tell
            // the holder it had lost the lock.
            Event::Releasing { at, lost_seen } => self.ending(holder, *at, *lost_seen),
            Event::Released { at, .. } => self.end(holder, *at, event.told_lost()),
            _ => {}
        }
    }

    /// `holder` is frozen (`SIGSTOP` delivered) since `at`.
    pub(crate) fn frozen(&self, holder: &str, at: u64) {
        self.inner()
            .frozen
            .entry(holder.to_owned())
            .or_default()
            .push((at, None));
    }

    /// `holder` runs again (`SIGCONT` about to be sent) from `at`.
    pub(crate) fn thawed(&self, holder: &str, at: u64) {
        if let Some((_, until @ None)) = self
            .inner()
            .frozen
            .get_mut(holder)
            .and_then(|freezes| freezes.last_mut())
        {
            *until = Some(at);
        }
    }

    /// `holder` was killed (and reaped) at `at`: an open section ends then, or where the
    /// freeze it died in began.
    pub(crate) fn killed(&self, holder: &str, at: u64) {
        let mut inner = self.inner();
        let frozen_since = inner
            .frozen
            .get(holder)
            .and_then(|freezes| freezes.last())
            .and_then(|&(from, until)| until.is_none().then_some(from));
        if let Some(index) = inner.open.remove(holder) {
            let section = &mut inner.sections[index];
            if !section.releasing {
                section.end = Some(frozen_since.unwrap_or(at).max(section.start));
            }
            section.killed = true;
        }
    }

    /// Every section so far, in start order.
    pub(crate) fn sections(&self) -> Vec<Section> {
        let mut sections = self.inner().sections.clone();
        sections.sort_by_key(|s| s.start);
        sections
    }

    fn frozen_at(&self, holder: &str, at: u64) -> bool {
        self.inner().frozen.get(holder).is_some_and(|freezes| {
            freezes
                .iter()
                .any(|&(from, until)| from <= at && until.is_none_or(|until| at < until))
        })
    }

    /// Every unexcused overlap (see the module docs).
    pub(crate) fn check(&self) -> Vec<Violation> {
        let sections = self.sections();
        let mut violations = Vec::new();
        for (i, first) in sections.iter().enumerate() {
            for second in &sections[i + 1..] {
                // Sections are half-open, [start, end): an empty one holds nothing.
                let empty = |s: &Section| s.end.is_some_and(|end| end <= s.start);
                if first.end.is_some_and(|end| end <= second.start) || empty(first) || empty(second)
                {
                    continue;
                }
                let mut missing = Vec::new();
                if !self.frozen_at(&first.holder, second.start) {
                    missing.push("the first was not frozen when the second started");
                }
                if !first.told_lost {
                    missing.push("the first was never told it lost the lock");
                }
                if !matches!((first.fence, second.fence), (Some(a), Some(b)) if a < b) {
                    missing.push("the first's fencing token is not lower");
                }
                if !missing.is_empty() {
                    violations.push(Violation {
                        first: first.clone(),
                        second: second.clone(),
                        why: missing.join("; "),
                    });
                }
            }
        }
        violations
    }

    /// Panics listing the violations, if any; `what` names the run.
    #[track_caller]
    pub(crate) fn assert_exclusive(&self, what: &str) {
        let violations = self.check();
        assert!(
            violations.is_empty(),
            "{what}: {} unexcused overlaps in {} critical sections:\n{}",
            violations.len(),
            self.sections().len(),
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
