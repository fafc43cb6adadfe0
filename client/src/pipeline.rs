//! Pipelines (many commands, one round trip) and MULTI/EXEC transactions.

use bytes::{Bytes, BytesMut};

use crate::cmd::{Cmd, ToArgs};
use crate::commands::Execute;
use crate::error::{Error, Result, ServerError};
use crate::resp::Frame;
use crate::value::FromReply;

/// Commands sent together and answered together; not atomic.
///
/// Each command gets its own result: a server error in one does not fail the others.
///
/// ```no_run
/// use rediscover::{Client, Pipeline};
/// # async fn demo(client: Client) -> rediscover::Result<()> {
/// let mut p = Pipeline::new();
/// p.cmd("SET").arg("a").arg(1);
/// p.cmd("INCR").arg("a");
/// p.cmd("LPUSH").arg("a").arg("x"); // WRONGTYPE, but the others still run
/// let results = p.execute(&client).await?;
/// assert_eq!(results.len(), 3);
/// assert!(results[2].is_err());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    buf: BytesMut,
    count: usize,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Adds a command and returns a builder for its arguments.
    pub fn cmd(&mut self, name: &str) -> PipelineCmd<'_> {
        PipelineCmd {
            pipeline: self,
            cmd: Some(Cmd::new(name)),
        }
    }

    /// Adds a prepared command.
    pub fn add(&mut self, cmd: &Cmd) -> &mut Pipeline {
        cmd.encode(&mut self.buf);
        self.count += 1;
        self
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no command was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// All commands, encoded back to back.
    pub(crate) fn payload(&self) -> Bytes {
        Bytes::copy_from_slice(&self.buf)
    }

    /// Sends every command in one write and returns one result per command.
    pub async fn execute<C: Execute + ?Sized>(&self, target: &C) -> Result<Vec<Result<Frame>>> {
        let replies = target.send_pipeline(self).await?;
        Ok(replies.into_iter().map(Frame::from_reply).collect())
    }

    /// Sends every command and converts the replies, as one array, into `T` (a tuple or a
    /// `Vec`); the first error reply fails the whole conversion.
    pub async fn query<T: FromReply, C: Execute + ?Sized>(&self, target: &C) -> Result<T> {
        T::from_reply(Frame::Array(target.send_pipeline(self).await?))
    }
}

/// Builds one command of a [`Pipeline`]; it is added when this builder is dropped.
#[derive(Debug)]
pub struct PipelineCmd<'a> {
    pipeline: &'a mut Pipeline,
    cmd: Option<Cmd>,
}

impl PipelineCmd<'_> {
    /// Appends one or more arguments.
    pub fn arg<A: ToArgs>(mut self, arg: A) -> Self {
        if let Some(cmd) = &mut self.cmd {
            cmd.add(arg);
        }
        self
    }
}

impl Drop for PipelineCmd<'_> {
    fn drop(&mut self) {
        if let Some(cmd) = self.cmd.take() {
            self.pipeline.add(&cmd);
        }
    }
}

/// A `MULTI`/`EXEC` transaction: queued commands run atomically.
///
/// The whole transaction is written as one unit, so on a shared connection no other caller's
/// command can land inside it. `WATCH` must be issued on a connection nobody else uses (for
/// example one from a [`Pool`](crate::Pool)), since watches belong to the connection.
///
/// ```no_run
/// use rediscover::{Commands, Pool, Transaction};
/// # async fn demo(pool: Pool) -> rediscover::Result<()> {
/// let conn = pool.get().await?;
/// conn.watch("balance").await?;
/// let balance: i64 = conn.get("balance").await?.map_or(Ok(0), |b| {
///     String::from_utf8_lossy(&b).parse().map_err(|_| rediscover::Error::Response("nan".into()))
/// })?;
/// let mut tx = Transaction::new();
/// tx.cmd("SET").arg("balance").arg(balance + 10);
/// match tx.exec(&*conn).await {
///     Ok(Some(results)) => println!("committed: {results:?}"),
///     Ok(None) => println!("balance changed meanwhile: retry"),
///     Err(e) => println!("transaction refused: {e}"),
/// }
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

    /// Runs the transaction.
    ///
    /// - `Ok(Some(results))`: committed; one frame per command (a command that failed while
    ///   running, such as `WRONGTYPE`, is a [`Frame::Error`] in its slot).
    /// - `Ok(None)`: not run because a `WATCH`ed key changed. Retry from the `WATCH`.
    /// - `Err(e)` with `e.code() == Some(ErrorCode::ExecAbort)`: discarded because a command
    ///   was refused while queueing (unknown command, wrong arity); the message names the
    ///   first refusal.
    pub async fn exec<C: Execute + ?Sized>(&self, target: &C) -> Result<Option<Vec<Frame>>> {
        let mut all = Pipeline::new();
        all.add(&Cmd::new("MULTI"));
        all.buf.extend_from_slice(&self.commands.buf);
        all.count += self.commands.count;
        all.add(&Cmd::new("EXEC"));
        let mut replies = target.send_pipeline(&all).await?;
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

    /// Runs the transaction and converts its results (as one array) into `T`; `Ok(None)` when
    /// a `WATCH`ed key changed.
    pub async fn query<T: FromReply, C: Execute + ?Sized>(&self, target: &C) -> Result<Option<T>> {
        match self.exec(target).await? {
            Some(results) => T::from_reply(Frame::Array(results)).map(Some),
            None => Ok(None),
        }
    }
}
