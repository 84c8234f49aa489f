//! In-process FIFO queues: waiters of one process for the same lock line up locally, so only the
//! head of the line contends in Redis. Fewer commands, no thundering herd, fair order inside a
//! process (tokio's `Mutex` hands itself over first come, first served).

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex, Weak};

/// One line of waiters. Holding its guard means "I am the one contending in Redis".
pub(crate) type Line = tokio::sync::Mutex<()>;

/// The lines of one server, by key set.
#[derive(Debug, Default)]
pub(crate) struct LocalQueues {
    lines: StdMutex<HashMap<Vec<String>, Weak<Line>>>,
}

impl LocalQueues {
    /// The line for `keys`, shared by every [`Mutex`](crate::Mutex) over the same keys.
    pub(crate) fn line(&self, keys: &[String]) -> Arc<Line> {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(line) = lines.get(keys).and_then(Weak::upgrade) {
            return line;
        }
        // Forget lines nobody holds any more before the map grows past twice its live size.
        if lines.len() >= 64 && lines.len().is_power_of_two() {
            lines.retain(|_, line| line.strong_count() > 0);
        }
        let line = Arc::new(Line::new(()));
        lines.insert(keys.to_vec(), Arc::downgrade(&line));
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
        assert!(queues.lines.lock().unwrap().len() < 130);
    }
}
