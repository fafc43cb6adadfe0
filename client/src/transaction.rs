//! `MULTI`/`EXEC` transactions, and optimistic transactions (`WATCH`, read, `MULTI`/`EXEC`,
//! retried on conflicts).

use std::future::Future;

use bytes::Bytes;

use crate::cmd::{Cmd, ToArgs, Usage};
use crate::commands::Execute;
use crate::conn::{Connection, Reply, Shape};
use crate::error::{Error, Result, ServerError};
use crate::pipeline::{Pipeline, PipelineCmd, PipelineCommand};
use crate::resp::Frame;
use crate::value::FromReply;

/// A `MULTI`/`EXEC` transaction: queued commands run atomically.
///
/// The whole transaction is written as one unit, so on a shared connection no other caller's
/// command can land inside it. For optimistic locking (`WATCH`, read, then write only if the
/// watched keys did not change) use [`Client::transaction`](crate::Client::transaction), which
/// runs the `WATCH` on a connection of its own and retries on conflicts.
///
/// ```no_run
/// use rediscover::{Client, Transaction};
/// # async fn demo(client: Client) -> rediscover::Result<()> {
/// let mut tx = Transaction::new();
/// tx.cmd("INCR").arg("visits");
/// tx.cmd("EXPIRE").arg("visits").arg(3600);
/// let (visits, _): (i64, bool) = tx.query(&client).await?.expect("nothing was watched");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    commands: Pipeline,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Transaction {
        Transaction::default()
    }

    /// Adds a command and returns a builder for its arguments.
    pub fn cmd(&mut self, name: &str) -> PipelineCmd<'_> {
        self.commands.cmd(name)
    }

    /// Adds a prepared command.
    pub fn add(&mut self, cmd: &Cmd) -> &mut Transaction {
        self.commands.add(cmd);
        self
    }

    /// Number of queued commands (without `MULTI`/`EXEC`).
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether no command was added.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// The queued commands (without `MULTI`/`EXEC`), with their keys and slots.
    pub fn commands(&self) -> impl ExactSizeIterator<Item = PipelineCommand<'_>> + '_ {
        self.commands.commands()
    }

    /// `MULTI`, the commands, `EXEC`: what is sent.
    pub(crate) fn wrapped(&self) -> Pipeline {
        let mut all = Pipeline::new();
        all.add(&Cmd::new("MULTI"));
        all.append(&self.commands);
        all.add(&Cmd::new("EXEC"));
        all
    }

    /// Runs the transaction.
    ///
    /// - `Ok(Some(results))`: committed; one result per command, in the same shape as
    ///   [`Pipeline::execute`]: a command that failed while running (such as `WRONGTYPE`) is an
    ///   `Err` in its place, and the others ran.
    /// - `Ok(None)`: not run because a `WATCH`ed key changed. Retry from the `WATCH`.
    /// - `Err(e)` with `e.code() == Some(ErrorCode::ExecAbort)`: discarded because a command
    ///   was refused while queueing (unknown command, wrong arity); the message names the
    ///   first refusal.
    pub async fn exec<C: Execute + ?Sized>(
        &self,
        target: &C,
    ) -> Result<Option<Vec<Result<Frame>>>> {
        match self.exec_frames(target).await? {
            Some(results) => Ok(Some(results.into_iter().map(Frame::from_reply).collect())),
            None => Ok(None),
        }
    }

    /// Runs the transaction and converts its results (as one array) into `T`; `Ok(None)` when
    /// a `WATCH`ed key changed. `T = Vec<Result<U>>` keeps each command's error in its place;
    /// for other types the first error fails the conversion.
    pub async fn query<T: FromReply, C: Execute + ?Sized>(&self, target: &C) -> Result<Option<T>> {
        match self.exec_frames(target).await? {
            Some(results) => T::from_reply(Frame::Array(results)).map(Some),
            None => Ok(None),
        }
    }

    async fn exec_frames<C: Execute + ?Sized>(&self, target: &C) -> Result<Option<Vec<Frame>>> {
        let replies = target.send_pipeline(&self.wrapped()).await?;
        exec_outcome(replies)
    }
}

/// The connection an optimistic transaction's body reads through: a dedicated connection with
/// the transaction's keys `WATCH`ed. See [`Client::transaction`](crate::Client::transaction).
///
/// Every [`Commands`](crate::Commands) method works on it. `WATCH` may add keys; the other
/// commands that change the connection's state (`UNWATCH`, `MULTI`, `EXEC`, `SELECT`, ...)
/// are refused: the transaction to run is what the body returns. Do not keep it after the
/// body returns: the connection goes back to the client.
#[derive(Debug, Clone)]
pub struct Watched {
    conn: Connection,
}

impl Execute for Watched {
    fn send_command(&self, cmd: Cmd) -> impl Future<Output = Result<Frame>> + Send {
        let refused = match cmd.usage() {
            Usage::ConnectionState if !cmd.name().eq_ignore_ascii_case("WATCH") => {
                Some(Error::NotAllowed(format!(
                    "{} inside a transaction body: return the Transaction to run instead",
                    cmd.name().to_ascii_uppercase()
                )))
            }
            _ => None,
        };
        let sent = self.conn.send_command(cmd);
        async move {
            match refused {
                Some(e) => Err(e),
                None => sent.await,
            }
        }
    }

    fn send_pipeline(
        &self,
        pipeline: &Pipeline,
    ) -> impl Future<Output = Result<Vec<Frame>>> + Send {
        let refused = pipeline.uses(Usage::ConnectionState).then(|| {
            Error::NotAllowed(
                "connection-state commands in a pipeline inside a transaction body".into(),
            )
        });
        let sent = self.conn.send_pipeline(pipeline);
        async move {
            match refused {
                Some(e) => Err(e),
                None => sent.await,
            }
        }
    }
}

/// Runs an optimistic transaction on `conn` (a connection nobody else uses): `WATCH keys`,
/// the body, then its transaction, starting over while a watched key changed, at most
/// `1 + retries` times. Also says whether the connection was left clean (no `WATCH`, no
/// `MULTI`) for reuse.
pub(crate) async fn run_watched<T, F, Fut>(
    conn: &Connection,
    keys: impl ToArgs,
    retries: u32,
    mut body: F,
) -> (Result<Option<T>>, bool)
where
    T: FromReply,
    F: FnMut(Watched) -> Fut,
    Fut: Future<Output = Result<Option<Transaction>>>,
{
    let watch = Cmd::new("WATCH").arg(keys).into_bytes();
    let attempts = retries.saturating_add(1);
    for attempt in 1..=attempts {
        let watched = conn
            .request_until(watch.clone(), conn.deadline())
            .await
            .and_then(Frame::from_reply);
        if let Err(e) = watched {
            return (Err(e), false);
        }
        let tx = match body(Watched { conn: conn.clone() }).await {
            Ok(Some(tx)) => tx,
            outcome => {
                // Nothing to run: forget the WATCH, keep the connection.
                let unwatched = conn
                    .request_until(Cmd::new("UNWATCH").into_bytes(), conn.deadline())
                    .await
                    .and_then(Frame::from_reply)
                    .is_ok();
                return (outcome.map(|_| None), unwatched);
            }
        };
        let sent = conn
            .send_until(
                tx.wrapped().payload(),
                Shape::Many(tx.len() + 2),
                conn.deadline(),
            )
            .await;
        let replies = match sent {
            Ok(Reply::Many(replies)) => replies,
            Ok(Reply::One(_)) => return (Err(Error::response("expected EXEC's replies")), false),
            Err(e) => return (Err(e), false),
        };
        // EXEC (or its refusal) always ends the MULTI and drops the WATCH.
        match exec_outcome(replies) {
            Ok(Some(results)) => return (T::from_reply(Frame::Array(results)).map(Some), true),
            Ok(None) => {
                tracing::debug!(target: "rediscover::client", attempt, "transaction aborted by a WATCHed key; retrying");
            }
            Err(e) => return (Err(e), true),
        }
    }
    (Err(Error::Conflict { attempts }), true)
}

/// Reads the replies to `MULTI`, the queued commands and `EXEC`: the results, `None` for a
/// `WATCH` abort, or the error that discarded the transaction.
pub(crate) fn exec_outcome(mut replies: Vec<Frame>) -> Result<Option<Vec<Frame>>> {
    let exec = replies
        .pop()
        .ok_or_else(|| Error::response("no reply to EXEC"))?;
    if let Some(Frame::Error(line) | Frame::BulkError(line)) = replies.first() {
        // MULTI itself was refused (nested MULTI, or not allowed here).
        return Err(Error::Server(ServerError::new(line.clone())));
    }
    match exec {
        Frame::Null => Ok(None),
        Frame::Array(results) => Ok(Some(results)),
        Frame::Error(line) | Frame::BulkError(line) => {
            let refused = replies.iter().skip(1).find_map(|f| match f {
                Frame::Error(l) | Frame::BulkError(l) => Some(l.clone()),
                _ => None,
            });
            let line = match refused {
                Some(first) => {
                    let mut joined = line.to_vec();
                    joined.extend_from_slice(b" (first refused command: ");
                    joined.extend_from_slice(&first);
                    joined.push(b')');
                    Bytes::from(joined)
                }
                None => line,
            };
            Err(Error::Server(ServerError::new(line)))
        }
        other => Err(crate::value::mismatch(other, "an EXEC reply")),
    }
}
