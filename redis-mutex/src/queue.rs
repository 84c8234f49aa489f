//! In-process FIFO queues: waiters of one process for the same lock line up locally, so only the
//! head of the line contends in Redis. Fewer commands, no thundering herd, fair order inside a
//! process (tokio's `Mutex` hands itself over first come, first served).

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex, Weak};

/// One line of waiters. Holding its guard means "I am the one contending in Redis".
pub(crate) type Line = tokio::sync::Mutex<()>;

/// The map is swept of dead lines no sooner than at this size.
const MIN_SWEEP: usize = 64;

/// The lines of one server, by key set.
#[derive(Debug, Default)]
pub(crate) struct LocalQueues {
    lines: StdMutex<Lines>,
}

#[derive(Debug, Default)]
struct Lines {
    by_keys: HashMap<Vec<String>, Weak<Line>>,
    /// The size at which the map is next swept: twice what the last sweep left (at least
    /// [`MIN_SWEEP`]).
    sweep_at: usize,
    /// Sweeps so far, for the tests.
    #[cfg(test)]
    sweeps: usize,
}

impl LocalQueues {
    /// The line for `keys`, shared by every [`Mutex`](crate::Mutex) over the same keys.
    pub(crate) fn line(&self, keys: &[String]) -> Arc<Line> {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(line) = lines.by_keys.get(keys).and_then(Weak::upgrade) {
            return line;
        }
        // Forget lines nobody holds any more once the map has doubled since the last sweep: it
        // stays under twice its live size (or `MIN_SWEEP`), and a sweep, which visits the whole
        // map, comes after at least as many insertions as it left entries (amortised O(1) each,
        // even when the live size sits just under a sweep size).
        if lines.by_keys.len() >= lines.sweep_at.max(MIN_SWEEP) {
            lines.by_keys.retain(|_, line| line.strong_count() > 0);
            lines.sweep_at = lines.by_keys.len() * 2;
            #[cfg(test)]
            {
                lines.sweeps += 1;
            }
        }
        let line = Arc::new(Line::new(()));
        lines.by_keys.insert(keys.to_vec(), Arc::downgrade(&line));
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_keys_share_a_line_while_alive() {
        let queues = LocalQueues::default();
        let keys = vec!["MUTEX_a".to_owned()];
        let a = queues.line(&keys);
        let b = queues.line(&keys);
        assert!(Arc::ptr_eq(&a, &b));
        let other = queues.line(&["MUTEX_b".to_owned()]);
        assert!(!Arc::ptr_eq(&a, &other));
    }

    #[test]
    fn dead_lines_are_pruned() {
        let queues = LocalQueues::default();
        for i in 0..1000 {
            drop(queues.line(&[format!("k{i}")]));
        }
        assert!(queues.lines.lock().unwrap().by_keys.len() < 130);
    }

    /// Lines created one after another while a fixed number stay alive (lock names used once
    /// each, some at a time): the map stays under twice the live count plus `MIN_SWEEP`, and it
    /// is swept at most once per (live count) insertions, not on every insertion when the live
    /// count sits just under a sweep size (1,023 live lines once meant a full sweep of a
    /// 1,024-entry map per new line).
    #[test]
    fn the_map_stays_bounded_and_sweeps_are_rare() {
        for live in [10, 63, 64, 1_000, 1_023, 1_024, 1_025] {
            let queues = LocalQueues::default();
            let mut alive = std::collections::VecDeque::new();
            for i in 0..20_000 {
                alive.push_back(queues.line(&[format!("k{i}")]));
                if alive.len() > live {
                    alive.pop_front();
                }
                let len = queues.lines.lock().unwrap().by_keys.len();
                assert!(
                    len <= 2 * live + MIN_SWEEP,
                    "{live} live lines, map of {len}"
                );
            }
            // One sweep per `live` insertions (32 at the least), plus a few while the map fills
            // (at 64, 128, ... entries).
            let sweeps = queues.lines.lock().unwrap().sweeps;
            assert!(
                sweeps <= 20_000 / live.max(MIN_SWEEP / 2) + 8,
                "{live} live lines: {sweeps} sweeps in 20,000 insertions"
            );
        }
    }
}
