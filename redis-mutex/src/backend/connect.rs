//! A connection opened on first use and shared: one connect attempt at a time, bounded, and
//! callers that waited for an attempt that failed share its failure instead of starting one
//! more. So a server that accepts connections and never answers fails every call within the
//! connect bound, however many calls are waiting.

use tokio::sync::OnceCell;

use crate::error::{Error, Result};

/// A connection of type `C`, made once (see the module docs).
#[derive(Debug)]
pub(crate) struct Shared<C> {
    conn: OnceCell<C>,
    /// Serialises connects; holds how many attempts failed, and the latest failure.
    connecting: tokio::sync::Mutex<(u64, Option<SharedFailure>)>,
}

impl<C: Clone> Shared<C> {
    pub(crate) fn new() -> Self {
        Shared {
            conn: OnceCell::new(),
            connecting: tokio::sync::Mutex::new((0, None)),
        }
    }

    /// The connection, if made.
    pub(crate) fn get(&self) -> Option<&C> {
        self.conn.get()
    }

    /// The connection, made first with `connect` if needed (errors name `server`).
    pub(crate) async fn get_or_connect<F>(
        &self,
        server: &str,
        connect: impl FnOnce() -> F,
    ) -> Result<C>
    where
        F: Future<Output = Result<C>>,
    {
        if let Some(conn) = self.conn.get() {
            return Ok(conn.clone());
        }
        let failures_before = self.connecting.try_lock().map(|state| state.0).ok();
        let mut state = self.connecting.lock().await;
        if let Some(conn) = self.conn.get() {
            return Ok(conn.clone());
        }
        if failures_before.is_none_or(|before| before != state.0)
            && let Some(failure) = &state.1
        {
            // Another caller's attempt, under way when this call came, just failed.
            return Err(failure.to_error(server));
        }
        match connect().await {
            Ok(conn) => {
                let _ = self.conn.set(conn.clone());
                Ok(conn)
            }
            Err(error) => {
                state.0 += 1;
                state.1 = Some(SharedFailure::of(&error));
                Err(error)
            }
        }
    }
}

/// A failed connect, as told to the callers that waited for it.
#[derive(Debug)]
struct SharedFailure {
    kind: FailureKind,
    message: String,
}

#[derive(Debug, Clone, Copy)]
enum FailureKind {
    Unreachable,
    Refused,
    Invalid,
}

impl SharedFailure {
    fn of(error: &Error) -> Self {
        let (kind, message) = match error {
            Error::Refused { source, .. } => (FailureKind::Refused, source.to_string()),
            Error::InvalidUrl { reason, .. } => (FailureKind::Invalid, reason.clone()),
            Error::Unreachable { source, .. } => (FailureKind::Unreachable, source.to_string()),
            other => (FailureKind::Unreachable, other.to_string()),
        };
        SharedFailure { kind, message }
    }

    fn to_error(&self, server: &str) -> Error {
        let server = server.to_owned();
        match self.kind {
            FailureKind::Refused => Error::Refused {
                server,
                source: self.message.clone().into(),
            },
            FailureKind::Invalid => Error::InvalidUrl {
                url: server,
                reason: self.message.clone(),
            },
            FailureKind::Unreachable => Error::Unreachable {
                server,
                source: self.message.clone().into(),
            },
        }
    }
}
