//! Pipelines: many commands, one round trip, each command kept with its own boundaries.

use bytes::{Bytes, BytesMut};

use crate::cmd::{Cmd, ToArgs, Usage};
use crate::commands::Execute;
use crate::error::Result;
use crate::resp::Frame;
use crate::slot::CommandSlot;
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
///
/// The commands are encoded as they are added, into one buffer, and the pipeline remembers
/// where each one ends, so it can be taken apart again: [`Pipeline::commands`] gives each
/// command's arguments, keys and [hash slot](PipelineCommand::slot), and
/// [`Pipeline::split_by`] groups them (per cluster node, say) into sub-pipelines that remember
/// the original positions, for putting the replies back in order.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    buf: BytesMut,
    /// One entry per command, in order.
    entries: Vec<Entry>,
    /// Every [`Usage`] among the commands, or-ed together: most pipelines are all `Shared`,
    /// and the client checks this once rather than each command.
    usage_mask: u8,
    /// The argument buffer of the last [`Pipeline::cmd`], reused by the next one.
    spare: Option<Cmd>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Offset in `buf` just past the command's last byte.
    end: usize,
    usage: Usage,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Adds a command and returns a builder for its arguments.
    pub fn cmd(&mut self, name: &str) -> PipelineCmd<'_> {
        let cmd = match self.spare.take() {
            Some(mut cmd) => {
                cmd.reuse(name);
                cmd
            }
            None => Cmd::new(name),
        };
        PipelineCmd {
            pipeline: self,
            cmd: Some(cmd),
        }
    }

    /// Adds a prepared command.
    pub fn add(&mut self, cmd: &Cmd) -> &mut Pipeline {
        cmd.encode(&mut self.buf);
        self.push_entry(cmd.usage());
        self
    }

    /// Appends a copy of a command taken from this or another pipeline.
    pub fn push_command(&mut self, cmd: &PipelineCommand<'_>) -> &mut Pipeline {
        self.buf.extend_from_slice(cmd.bytes);
        self.push_entry(cmd.usage);
        self
    }

    /// Appends one command already encoded (by [`Cmd::into_bytes`]), of the given usage.
    pub(crate) fn push_encoded(&mut self, encoded: &[u8], usage: Usage) -> &mut Pipeline {
        self.buf.extend_from_slice(encoded);
        self.push_entry(usage);
        self
    }

    /// Appends every command of `other`.
    pub fn append(&mut self, other: &Pipeline) -> &mut Pipeline {
        let base = self.buf.len();
        self.buf.extend_from_slice(&other.buf);
        self.entries.extend(other.entries.iter().map(|e| Entry {
            end: base + e.end,
            usage: e.usage,
        }));
        self.usage_mask |= other.usage_mask;
        self
    }

    fn push_entry(&mut self, usage: Usage) {
        self.entries.push(Entry {
            end: self.buf.len(),
            usage,
        });
        self.usage_mask |= usage as u8;
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no command was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every command, keeping the allocations.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
        self.usage_mask = 0;
    }

    /// The command at `index`.
    pub fn command(&self, index: usize) -> Option<PipelineCommand<'_>> {
        let entry = self.entries.get(index)?;
        let start = match index {
            0 => 0,
            i => self.entries[i - 1].end,
        };
        Some(PipelineCommand {
            index,
            bytes: &self.buf[start..entry.end],
            usage: entry.usage,
        })
    }

    /// Every command, in order.
    ///
    /// ```
    /// use rediscover::{slot::CommandSlot, Pipeline};
    /// let mut p = Pipeline::new();
    /// p.cmd("SET").arg("{user:1}:name").arg("ada");
    /// p.cmd("PING");
    /// p.cmd("MGET").arg(["a", "b"]);
    /// let slots: Vec<CommandSlot> = p.commands().map(|c| c.slot()).collect();
    /// assert_eq!(slots[0], rediscover::Cmd::new("GET").arg("user:1").slot());
    /// assert_eq!(slots[1], CommandSlot::NoKeys);
    /// assert_eq!(slots[2], CommandSlot::CrossSlot);
    /// ```
    pub fn commands(&self) -> impl ExactSizeIterator<Item = PipelineCommand<'_>> + '_ {
        let mut start = 0;
        self.entries.iter().enumerate().map(move |(index, e)| {
            let bytes = &self.buf[start..e.end];
            start = e.end;
            PipelineCommand {
                index,
                bytes,
                usage: e.usage,
            }
        })
    }

    /// Groups the commands by `route(command)` (a node, a slot, ...) into sub-pipelines, in
    /// the order each group is first seen; each comes with the original index of every
    /// command in it, so replies can be put back in the caller's order.
    ///
    /// ```
    /// use rediscover::Pipeline;
    /// let mut p = Pipeline::new();
    /// for key in ["a", "b", "c", "d"] {
    ///     p.cmd("GET").arg(key);
    /// }
    /// let parts = p.split_by(|c| c.keys()[0] > &b"b"[..]);
    /// assert_eq!(parts.len(), 2);
    /// let (later, sub, indexes) = &parts[1];
    /// assert!(*later);
    /// assert_eq!(sub.len(), 2);
    /// assert_eq!(indexes, &[2, 3]);
    /// ```
    pub fn split_by<K: PartialEq>(
        &self,
        mut route: impl FnMut(&PipelineCommand<'_>) -> K,
    ) -> Vec<(K, Pipeline, Vec<usize>)> {
        let mut parts: Vec<(K, Pipeline, Vec<usize>)> = Vec::new();
        for cmd in self.commands() {
            let key = route(&cmd);
            let at = match parts.iter().position(|(k, _, _)| *k == key) {
                Some(at) => at,
                None => {
                    parts.push((key, Pipeline::new(), Vec::new()));
                    parts.len() - 1
                }
            };
            let (_, sub, indexes) = &mut parts[at];
            sub.push_command(&cmd);
            indexes.push(cmd.index);
        }
        parts
    }

    /// All commands, encoded back to back.
    pub(crate) fn payload(&self) -> Bytes {
        Bytes::copy_from_slice(&self.buf)
    }

    /// Whether any command has this usage.
    pub(crate) fn uses(&self, usage: Usage) -> bool {
        self.usage_mask & usage as u8 != 0
    }

    /// Sends every command in one write and returns one result per command: a command the
    /// server refused is an `Err` in its place, and the others are unaffected.
    ///
    /// This is the same shape as a transaction's results
    /// ([`Transaction::exec`](crate::Transaction::exec)).
    pub async fn execute<C: Execute + ?Sized>(&self, target: &C) -> Result<Vec<Result<Frame>>> {
        let replies = target.send_pipeline(self).await?;
        Ok(replies.into_iter().map(Frame::from_reply).collect())
    }

    /// Sends every command and converts the replies, as one array, into `T`: a tuple, a `Vec`,
    /// or `Vec<Result<U>>` to keep each command's error in its place. For any other `T`, the
    /// first error reply fails the whole conversion.
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
            self.pipeline.spare = Some(cmd);
        }
    }
}

/// One command of a [`Pipeline`], as encoded.
#[derive(Debug, Clone, Copy)]
pub struct PipelineCommand<'a> {
    index: usize,
    bytes: &'a [u8],
    usage: Usage,
}

impl<'a> PipelineCommand<'a> {
    /// Its position in the pipeline.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its RESP encoding, as it will be written.
    pub fn encoded(&self) -> &'a [u8] {
        self.bytes
    }

    /// Its arguments, name first.
    pub fn args(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        // The pipeline wrote `*<n>\r\n` then `$<len>\r\n<data>\r\n` per argument; anything
        // else (which cannot happen) simply ends the iteration.
        let mut rest = self.bytes;
        if let Some(eol) = rest.iter().position(|&b| b == b'\n') {
            rest = &rest[eol + 1..];
        }
        std::iter::from_fn(move || {
            let eol = rest.iter().position(|&b| b == b'\r')?;
            let len: usize = std::str::from_utf8(rest.get(1..eol)?).ok()?.parse().ok()?;
            let start = eol + 2;
            let arg = rest.get(start..start.checked_add(len)?)?;
            rest = rest.get(start + len + 2..)?;
            Some(arg)
        })
    }

    /// Its name, as given.
    pub fn name(&self) -> &'a [u8] {
        self.args().next().unwrap_or_default()
    }

    /// The positions of its keys among [`args`](PipelineCommand::args), from the shared
    /// command table.
    pub fn key_positions(&self) -> Vec<usize> {
        let argv: Vec<&[u8]> = self.args().collect();
        crate::command::key_positions(&argv)
    }

    /// Its keys.
    pub fn keys(&self) -> Vec<&'a [u8]> {
        let argv: Vec<&'a [u8]> = self.args().collect();
        crate::command::key_positions(&argv)
            .into_iter()
            .map(|i| argv[i])
            .collect()
    }

    /// The hash slot of its keys.
    pub fn slot(&self) -> CommandSlot {
        let argv: Vec<&[u8]> = self.args().collect();
        crate::slot::command_slot(&argv)
    }

    pub(crate) fn usage(&self) -> Usage {
        self.usage
    }

    /// Whether it may block its connection (`BLPOP`, `XREAD ... BLOCK`, `WAIT`, ...).
    pub fn is_blocking(&self) -> bool {
        matches!(self.usage, Usage::Blocking | Usage::Wait)
    }
}

/// Classifies an encoded command again (for tests comparing with [`Cmd::usage`]).
#[cfg(test)]
fn usage_of(cmd: &PipelineCommand<'_>) -> Usage {
    let mut args = cmd.args();
    let name = args.next().unwrap_or_default();
    crate::cmd::usage(name, || args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_keep_their_boundaries_keys_and_slots() {
        let mut p = Pipeline::new();
        p.cmd("SET").arg("{u1}name").arg("ada");
        p.cmd("PING");
        p.add(&Cmd::new("MGET").arg(["{u1}a", "{u1}b"]));
        p.cmd("BLPOP").arg("q").arg(0);
        p.cmd("mset").arg([("a", "1"), ("b", "2")]);
        assert_eq!(p.len(), 5);
        let cmds: Vec<PipelineCommand<'_>> = p.commands().collect();
        let u1 = crate::slot::key_slot(b"u1");
        assert_eq!(cmds[0].slot(), CommandSlot::Slot(u1));
        assert_eq!(cmds[0].keys(), vec![&b"{u1}name"[..]]);
        assert_eq!(cmds[0].name(), b"SET");
        assert_eq!(cmds[1].slot(), CommandSlot::NoKeys);
        assert!(cmds[1].keys().is_empty());
        assert_eq!(cmds[2].slot(), CommandSlot::Slot(u1));
        assert_eq!(cmds[2].key_positions(), vec![1, 2]);
        assert!(cmds[3].is_blocking());
        assert!(!cmds[0].is_blocking());
        assert_eq!(cmds[4].slot(), CommandSlot::CrossSlot);
        // Each command's bytes are exactly its own encoding, back to back.
        let mut whole = Vec::new();
        for (i, c) in cmds.iter().enumerate() {
            assert_eq!(c.index(), i);
            whole.extend_from_slice(c.encoded());
            assert_eq!(usage_of(c), c.usage);
        }
        assert_eq!(whole, p.payload().to_vec());
        assert_eq!(
            cmds[3].encoded(),
            &Cmd::new("BLPOP").arg("q").arg(0).to_bytes()[..]
        );
        assert!(p.uses(Usage::Blocking) && !p.uses(Usage::Wait));
    }

    #[test]
    fn split_and_reassemble_in_order() {
        let mut p = Pipeline::new();
        for i in 0..50 {
            p.cmd("ECHO").arg(i);
        }
        let parts = p.split_by(|c| c.args().nth(1).map(|a| a.len()));
        assert_eq!(parts.len(), 2);
        let mut back = vec![None; p.len()];
        for (_, sub, indexes) in &parts {
            assert_eq!(sub.len(), indexes.len());
            for (cmd, &i) in sub.commands().zip(indexes) {
                back[i] = Some(cmd.encoded().to_vec());
            }
        }
        for (i, cmd) in p.commands().enumerate() {
            assert_eq!(back[i].as_deref(), Some(cmd.encoded()));
        }
        let mut joined = Pipeline::new();
        joined.append(&parts[0].1).append(&parts[1].1);
        assert_eq!(joined.len(), 50);
        assert_eq!(
            joined.command(49).unwrap().encoded(),
            parts[1].1.command(39).unwrap().encoded()
        );
        joined.clear();
        assert!(joined.is_empty() && joined.command(0).is_none());
    }

    #[test]
    fn reused_argument_buffers_do_not_leak_arguments() {
        let mut p = Pipeline::new();
        p.cmd("SET")
            .arg("k")
            .arg("a long value that fills the buffer");
        p.cmd("GET").arg("k");
        p.cmd("PING");
        let args: Vec<Vec<&[u8]>> = p.commands().map(|c| c.args().collect()).collect();
        assert_eq!(args[1], vec![&b"GET"[..], b"k"]);
        assert_eq!(args[2], vec![&b"PING"[..]]);
    }
}
