//! `MULTI`/`EXEC` transactions.

use bytes::Bytes;

use crate::cmd::Cmd;
use crate::commands::Execute;
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
