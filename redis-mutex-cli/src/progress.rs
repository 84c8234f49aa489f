//! The status line shown on a terminal while `exec` waits for its lock.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use tokio::time::Instant;

/// How long a wait lasts before the line appears (quick acquisitions show nothing).
const DELAY: Duration = Duration::from_millis(300);

/// How often the line is redrawn.
const TICK: Duration = Duration::from_secs(1);

/// One updating line on stderr: which lock, on which server, how long waited.
#[derive(Debug)]
pub(crate) struct StatusLine {
    what: String,
    started: Instant,
    shown: bool,
}

impl StatusLine {
    /// A line about waiting for `what`, or `None` when stderr is not a terminal or `quiet`.
    pub(crate) fn new(what: String, quiet: bool) -> Option<StatusLine> {
        (!quiet && std::io::stderr().is_terminal()).then(|| StatusLine {
            what,
            started: Instant::now(),
            shown: false,
        })
    }

    /// Redraws the line forever; meant to be raced against the wait in `select!`.
    pub(crate) async fn run(&mut self) {
        tokio::time::sleep_until(self.started + DELAY).await;
        let mut tick = tokio::time::interval(TICK);
        loop {
            tick.tick().await;
            let waited = Duration::from_secs(self.started.elapsed().as_secs());
            self.draw(&format!(
                "waiting for {} ({})",
                self.what,
                humantime::format_duration(waited)
            ));
            self.shown = true;
        }
    }

    /// Erases the line, if it was drawn.
    pub(crate) fn clear(&mut self) {
        if std::mem::take(&mut self.shown) {
            self.draw("");
        }
    }

    fn draw(&self, text: &str) {
        // Carriage return, the text, erase to the end of the line.
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r{text}\x1b[K");
        let _ = stderr.flush();
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        self.clear();
    }
}
