//! Following an `ASK` redirection.
//!
//! While a slot migrates, its source node serves the keys it still has and answers
//! `-ASK <slot> <host:port>` for the others (moved already, or not created yet): the command
//! did not run, and the node named takes it, once, when `ASKING` comes first on the same
//! connection (it does not own the slot yet, so without `ASKING` it answers `MOVED` back).
//! [`Node`] is a cluster connection that sends each command either routed by its first key, as
//! usual, or, after an `ASK`, to the node named, as a pipeline of `ASKING` and the command on
//! redis-rs's connection to that node (one write, so nothing comes between them).
//!
//! The node taking the command over may still answer that it did not run it: `TRYAGAIN` when
//! it has some of the command's keys and not the others (a multi-key script in the middle of
//! the migration), `MOVED` when the migration was called off; the caller then retries as for
//! any reply of that kind.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::SingleNodeRoutingInfo;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, Value};

/// The node an `ASK` reply names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AskTarget {
    host: String,
    port: u16,
}

impl AskTarget {
    /// The node `error` asks to send the command to, when it is an `ASK` with a well-formed
    /// address (`host:port`, an IPv6 host with or without brackets).
    pub(super) fn of(error: &RedisError) -> Option<Self> {
        if error.code() != Some("ASK") {
            return None;
        }
        let (address, _slot) = error.redirect_node()?;
        Self::parse(address)
    }

    fn parse(address: &str) -> Option<Self> {
        let (host, port) = address.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().ok()?;
        (!host.is_empty() && port > 0).then(|| AskTarget {
            host: host.to_owned(),
            port,
        })
    }

    fn route(&self) -> SingleNodeRoutingInfo {
        SingleNodeRoutingInfo::ByAddress {
            host: self.host.clone(),
            port: self.port,
        }
    }
}

impl std::fmt::Display for AskTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// A cluster connection as one call goes through it: commands routed by the slot of their
/// first key, or, after an `ASK`, each sent with `ASKING` in front to the node that was named,
/// or straight to the slot's master on a connection of its own.
pub(super) struct Node {
    conn: ClusterConnection,
    route: Route,
}

/// Where a [`Node`]'s commands go.
enum Route {
    /// Routed by the cluster connection, by key.
    ByKey,
    /// To the node an `ASK` named, with `ASKING` first.
    Ask(AskTarget),
    /// On this connection to the master of the call's slot (as far as this process knows).
    Direct(MultiplexedConnection),
}

impl Node {
    /// `conn`, routing by key, or sending to `ask` with `ASKING` first.
    pub(super) fn new(conn: ClusterConnection, ask: Option<AskTarget>) -> Self {
        let route = match ask {
            Some(target) => Route::Ask(target),
            None => Route::ByKey,
        };
        Node { conn, route }
    }

    /// `direct`, a connection to the master of the call's slot, instead of `conn`'s routing.
    pub(super) fn direct(conn: ClusterConnection, direct: MultiplexedConnection) -> Self {
        Node {
            conn,
            route: Route::Direct(direct),
        }
    }

    /// Whether commands go on a direct connection.
    pub(super) fn is_direct(&self) -> bool {
        matches!(self.route, Route::Direct(_))
    }
}

/// Whether `error`, the reply to a command sent after an `ASK`, proves that the command was
/// never sent: redis-rs had no connection to the node named (it reconnects to the cluster).
pub(super) fn not_sent(error: &RedisError) -> bool {
    error.kind() == ErrorKind::ClusterConnectionNotFound
}

/// The error for a transaction (`MULTI`/`EXEC`) after an `ASK`: `ASKING` covers one command.
fn no_transactions() -> RedisError {
    RedisError::from((
        ErrorKind::Client,
        "a transaction cannot follow an ASK redirection",
    ))
}

fn missing_reply() -> RedisError {
    RedisError::from((
        ErrorKind::Client,
        "the node an ASK redirection named sent fewer replies than commands",
    ))
}

impl ConnectionLike for Node {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let Node { conn, route } = self;
        let target = match route {
            Route::Direct(direct) => return direct.req_packed_command(cmd),
            Route::ByKey => return conn.req_packed_command(cmd),
            Route::Ask(target) => target.route(),
        };
        let mut pipe = redis::pipe();
        pipe.cmd("ASKING").add_command(cmd.clone());
        Box::pin(async move {
            let replies = conn.route_pipeline(pipe, 1, 1, target).await?;
            replies.into_iter().next().ok_or_else(missing_reply)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let Node { conn, route } = self;
        let route = match route {
            Route::Direct(direct) => return direct.req_packed_commands(pipeline, offset, count),
            Route::ByKey => return conn.req_packed_commands(pipeline, offset, count),
            Route::Ask(target) => target.route(),
        };
        Box::pin(async move {
            if pipeline.is_transaction() || offset != 0 || count != pipeline.len() {
                return Err(no_transactions());
            }
            // ASKING holds for the next command only: one in front of each.
            let mut pipe = redis::pipe();
            for cmd in pipeline.cmd_iter() {
                pipe.cmd("ASKING").add_command(cmd.clone());
            }
            let replies = conn.route_pipeline(pipe, 0, 2 * count, route).await?;
            let replies: Vec<Value> = replies.into_iter().skip(1).step_by(2).collect();
            match replies.len() == count {
                true => Ok(replies),
                false => Err(missing_reply()),
            }
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

/// `ASK` replies as a node sends them, parsed into the node to ask.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ask_targets_are_parsed() {
        let ask = |detail: &str| {
            AskTarget::of(&RedisError::from((
                ErrorKind::Server(redis::ServerErrorKind::Ask),
                "An error was signalled by the server",
                detail.to_owned(),
            )))
        };
        let target = ask("3999 127.0.0.1:6381").unwrap();
        assert_eq!(target.to_string(), "127.0.0.1:6381");
        assert_eq!(ask("3999 ::1:6381").unwrap().to_string(), "::1:6381");
        assert_eq!(ask("3999 [::1]:6381").unwrap().to_string(), "::1:6381");
        for bad in [
            "3999",
            "3999 127.0.0.1",
            "3999 :6381",
            "3999 h:0",
            "3999 h:x",
            "x h:1",
        ] {
            assert_eq!(ask(bad), None, "{bad}");
        }
        let moved = RedisError::from((
            ErrorKind::Server(redis::ServerErrorKind::Moved),
            "An error was signalled by the server",
            "3999 127.0.0.1:6381".to_owned(),
        ));
        assert_eq!(AskTarget::of(&moved), None);
    }
}
