//! Which connection a command may use.
//!
//! A shared, multiplexed connection carries commands that are answered at once and leave
//! nothing behind. Blocking commands go to a dedicated connection (they would hold up every
//! caller behind them); commands that change per-connection state are refused (they would
//! change it for every caller); commands that change how replies are sent are refused on any
//! multiplexed connection (they would desync it).

use std::time::Duration;

use bytes::Bytes;

use crate::cmd::{blocking_timeout, Cmd, Usage};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;

/// Where a single command goes on a shared client.
pub(crate) enum Route {
    /// The shared connection, with the command's bytes.
    Shared(Bytes),
    /// A dedicated connection. Boxed: the route lives in every request's future, and this is
    /// the rare case.
    Dedicated(Box<Blocking>),
}

/// A command for a dedicated connection.
pub(crate) struct Blocking {
    pub(crate) cmd: Cmd,
    /// `WAIT`/`WAITAOF`, which needs its marker.
    pub(crate) wait: bool,
    /// How long it may block (see [`blocking_timeout`]).
    pub(crate) blocks_for: Option<Option<Duration>>,
}

/// Routes one command of a shared client.
pub(crate) fn route(cmd: Cmd) -> Result<Route> {
    match cmd.usage() {
        Usage::Shared => Ok(Route::Shared(encode(cmd))),
        u @ (Usage::Blocking | Usage::Wait) => {
            let blocks_for = blocking_timeout(cmd.name().as_bytes(), cmd.args().skip(1));
            Ok(Route::Dedicated(Box::new(Blocking {
                cmd,
                wait: u == Usage::Wait,
                blocks_for,
            })))
        }
        Usage::ConnectionState => Err(state_refused(cmd.name())),
        Usage::ReplyMode => Err(reply_mode_refused(cmd.name())),
    }
}

/// The bytes of a command for a connection that is not shared with other callers (a
/// [`Connection`](crate::Connection) handle, a pooled or dedicated connection): anything goes
/// except what would desync the connection.
pub(crate) fn dedicated(cmd: Cmd) -> Result<Bytes> {
    if cmd.usage() == Usage::ReplyMode {
        return Err(reply_mode_refused(cmd.name()));
    }
    Ok(encode(cmd))
}

fn encode(cmd: Cmd) -> Bytes {
    tracing::debug!(target: "rediscover::cmd", cmd = cmd.name(), args = cmd.arg_count(), "request");
    cmd.into_bytes()
}

/// How a pipeline runs on a shared client.
#[derive(Debug, Default)]
pub(crate) struct PipelinePlan {
    /// It has a blocking command outside `MULTI`/`EXEC`: it needs a dedicated connection.
    pub(crate) dedicated: bool,
    /// It has a `WAIT` outside `MULTI`/`EXEC`.
    pub(crate) wait: bool,
    /// How long its blocking commands may block, together.
    pub(crate) blocks_for: Option<Option<Duration>>,
}

/// Checks a pipeline for a shared client and says where it runs. `MULTI` ... `EXEC` (or
/// `DISCARD`) inside one pipeline is fine, since the pipeline is written as one unit; other
/// connection-state commands are refused, and so is a `MULTI` left open.
pub(crate) fn plan_pipeline(pipeline: &Pipeline) -> Result<PipelinePlan> {
    let mut plan = PipelinePlan::default();
    if !(pipeline.uses(Usage::Blocking)
        || pipeline.uses(Usage::Wait)
        || pipeline.uses(Usage::ConnectionState)
        || pipeline.uses(Usage::ReplyMode))
    {
        return Ok(plan);
    }
    let mut in_multi = false;
    let mut total = Some(Duration::ZERO);
    for cmd in pipeline.commands() {
        let name = cmd.name();
        let text = || String::from_utf8_lossy(name);
        match cmd.usage() {
            Usage::Shared => {}
            Usage::ReplyMode => return Err(reply_mode_refused(&text())),
            Usage::ConnectionState => {
                if name.eq_ignore_ascii_case(b"MULTI") && !in_multi {
                    in_multi = true;
                } else if (name.eq_ignore_ascii_case(b"EXEC")
                    || name.eq_ignore_ascii_case(b"DISCARD"))
                    && in_multi
                {
                    in_multi = false;
                } else {
                    return Err(state_refused(&text()));
                }
            }
            // Inside MULTI a blocking command does not block: it runs at EXEC, answering at
            // once.
            Usage::Blocking | Usage::Wait if in_multi => {}
            u @ (Usage::Blocking | Usage::Wait) => {
                plan.dedicated = true;
                plan.wait |= u == Usage::Wait;
                let mut args = cmd.args();
                args.next();
                match blocking_timeout(name, args) {
                    Some(Some(d)) => total = total.map(|t| t.saturating_add(d)),
                    Some(None) => total = None,
                    None => {}
                }
            }
        }
    }
    if in_multi {
        return Err(Error::NotAllowed(
            "a pipeline that opens MULTI must close it (EXEC or DISCARD): an open MULTI on a \
             shared connection would queue other callers' commands; use Transaction"
                .into(),
        ));
    }
    if plan.dedicated {
        plan.blocks_for = Some(total);
    }
    Ok(plan)
}

/// Refuses a pipeline with a command that would desync any multiplexed connection.
pub(crate) fn check_reply_order(pipeline: &Pipeline) -> Result<()> {
    if pipeline.uses(Usage::ReplyMode) {
        if let Some(cmd) = pipeline.commands().find(|c| c.usage() == Usage::ReplyMode) {
            return Err(reply_mode_refused(&String::from_utf8_lossy(cmd.name())));
        }
    }
    Ok(())
}

/// The command sent just before a `WAIT` on a dedicated connection.
///
/// `WAIT` counts replicas that reached the connection's own replication offset: per the Redis
/// docs, that of the writes sent on the connection; in Redis 7.0.15, in fact, the server's
/// offset as of the connection's last command of any kind (checked: after `PING`, a `WAIT`
/// covers every earlier write; as a connection's first command it covers none). Either way an
/// idle dedicated connection would count replicas that lack this client's recent writes.
/// `SPUBLISH` to a channel nobody subscribes to is replicated (so that subscribers on replicas
/// get messages) without touching any key, so under both readings it moves the connection's
/// offset up to the server's current one: the `WAIT` after it waits for every write the server
/// had executed, including all of this client's earlier ones.
pub(crate) fn wait_marker() -> Cmd {
    Cmd::new("SPUBLISH").arg(WAIT_MARKER_CHANNEL).arg("")
}

/// The shard channel of [`wait_marker`].
pub(crate) const WAIT_MARKER_CHANNEL: &str = "__rediscover__:wait";

pub(crate) fn reply_mode_refused(name: &str) -> Error {
    Error::NotAllowed(format!(
        "{name} changes how the server sends replies and cannot run on a multiplexed \
         connection: use rediscover::Subscriber for pub/sub"
    ))
}

pub(crate) fn state_refused(name: &str) -> Error {
    let upper = name.to_ascii_uppercase();
    let what = match upper.as_str() {
        "SELECT" => {
            "would change the database of every caller sharing this client: set it in the \
             configuration (Config::db, or redis://host:port/<db>), or use a connection of \
             your own (Pool, Connection)"
        }
        "WATCH" | "UNWATCH" => {
            "would apply to every caller sharing this client: use Client::transaction, which \
             WATCHes on a connection of its own and retries on conflicts"
        }
        "MULTI" | "EXEC" | "DISCARD" => {
            "sent on its own would make other callers' commands part of a transaction: use \
             Transaction (MULTI, the commands and EXEC are sent as one unit)"
        }
        "AUTH" | "HELLO" => {
            "would change the user or protocol of every caller sharing this client, and be lost \
             at the next reconnect: set them in the configuration (Config::username, \
             Config::password, Config::protocol)"
        }
        "QUIT" => {
            "would close the connection of every caller sharing this client: drop the client \
             instead"
        }
        _ => {
            "would reset the connection of every caller sharing this client: use a connection \
             of your own (Pool, Connection)"
        }
    };
    Error::NotAllowed(format!("{upper} {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe(cmds: &[&[&str]]) -> Pipeline {
        let mut p = Pipeline::new();
        for argv in cmds {
            let mut c = Cmd::new(argv[0]);
            for a in &argv[1..] {
                c.add(*a);
            }
            p.add(&c);
        }
        p
    }

    #[test]
    fn pipeline_plans() {
        let plan = plan_pipeline(&pipe(&[&["GET", "k"], &["SET", "k", "v"]])).unwrap();
        assert!(!plan.dedicated);
        let plan = plan_pipeline(&pipe(&[&["MULTI"], &["BLPOP", "k", "0"], &["EXEC"]])).unwrap();
        assert!(!plan.dedicated, "BLPOP inside MULTI does not block");
        let plan = plan_pipeline(&pipe(&[&["BLPOP", "k", "2"], &["BRPOP", "j", "1.5"]])).unwrap();
        assert!(plan.dedicated && !plan.wait);
        assert_eq!(plan.blocks_for, Some(Some(Duration::from_millis(3500))));
        let plan = plan_pipeline(&pipe(&[&["SET", "k", "v"], &["WAIT", "1", "0"]])).unwrap();
        assert!(plan.dedicated && plan.wait);
        assert_eq!(plan.blocks_for, Some(None));
        for bad in [
            &[&["SELECT", "1"][..]][..],
            &[&["WATCH", "k"]],
            &[&["MULTI"], &["SET", "k", "v"]],
            &[&["EXEC"]],
            &[&["MULTI"], &["MULTI"]],
            &[&["SUBSCRIBE", "c"]],
            &[&["MULTI"], &["SELECT", "2"], &["EXEC"]],
        ] {
            let e = plan_pipeline(&pipe(bad)).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::NotAllowed, "{bad:?}");
        }
    }

    #[test]
    fn single_commands_route() {
        let r = |argv: &[&str]| {
            let mut c = Cmd::new(argv[0]);
            for a in &argv[1..] {
                c.add(*a);
            }
            route(c)
        };
        assert!(matches!(r(&["GET", "k"]), Ok(Route::Shared(_))));
        assert!(matches!(
            r(&["BLPOP", "k", "0"]),
            Ok(Route::Dedicated(b)) if !b.wait && b.blocks_for == Some(None)
        ));
        assert!(matches!(
            r(&["WAIT", "1", "100"]),
            Ok(Route::Dedicated(b)) if b.wait
        ));
        for refused in [
            "SELECT", "WATCH", "UNWATCH", "MULTI", "EXEC", "DISCARD", "RESET",
        ] {
            let e = r(&[refused]).err().unwrap();
            assert_eq!(e.kind(), crate::ErrorKind::NotAllowed);
            assert!(e.to_string().contains(refused), "{e}");
        }
        assert!(r(&["MONITOR"]).is_err());
        assert!(r(&["CLIENT", "REPLY", "OFF"]).is_err());
    }
}
