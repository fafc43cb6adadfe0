//! Typed methods for everyday commands, and the generic `cmd(..).arg(..).query()` path.
//!
//! Everything here is written once against [`Execute`], which [`Client`](crate::Client),
//! [`Connection`](crate::Connection) and pooled connections implement; bring [`Commands`] into
//! scope to use the methods.

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::cmd::{Cmd, ToArgs};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::resp::Frame;
use crate::value::{pair_list, FromReply};

/// Something that can run commands: a client, a connection, a pooled connection.
pub trait Execute: Sync {
    /// Sends one command and returns its reply; an error reply becomes [`Error::Server`].
    fn send_command(&self, cmd: Cmd) -> impl Future<Output = Result<Frame>> + Send;

    /// Sends a pipeline's commands as one unit and returns one reply per command, error replies
    /// included as [`Frame::Error`] (one failing command does not fail the others).
    fn send_pipeline(&self, pipeline: &Pipeline)
        -> impl Future<Output = Result<Vec<Frame>>> + Send;
}

/// Converts the reply of `fut` into `T`.
pub(crate) fn typed<T: FromReply, F: Future<Output = Result<Frame>>>(fut: F) -> Typed<F, T> {
    Typed {
        fut,
        _to: PhantomData,
    }
}

pin_project_lite::pin_project! {
    /// The future of a typed command: the request's future, then a conversion. Written out
    /// rather than as an `async fn`, which would keep the request's future twice in its state
    /// (once as the argument, once being awaited) and double what every request moves around.
    #[must_use = "futures do nothing unless awaited"]
    pub(crate) struct Typed<F, T> {
        #[pin]
        fut: F,
        // `fn() -> T`: the conversion's output type, without owning a `T` (so `T` does not
        // affect whether the future is `Send`).
        _to: PhantomData<fn() -> T>,
    }
}

impl<F: Future<Output = Result<Frame>>, T: FromReply> Future for Typed<F, T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let frame = std::task::ready!(self.project().fut.poll(cx))?;
        Poll::Ready(T::from_reply(frame))
    }
}

/// A command bound to the handle that will run it: `client.cmd("GET").arg("k").query()`.
#[must_use = "a command does nothing until you call query()"]
#[derive(Debug)]
pub struct BoundCmd<'a, C: ?Sized> {
    target: &'a C,
    cmd: Cmd,
}

impl<'a, C: Execute + ?Sized> BoundCmd<'a, C> {
    /// Appends one or more arguments.
    pub fn arg<A: ToArgs>(mut self, arg: A) -> Self {
        self.cmd.add(arg);
        self
    }

    /// Sends the command and converts its reply.
    ///
    /// ```no_run
    /// use rediscover::{Client, Commands};
    /// # async fn demo(client: Client) -> rediscover::Result<()> {
    /// let n: i64 = client.cmd("HINCRBY").arg("h").arg("f").arg(5).query().await?;
    /// # Ok(()) }
    /// ```
    pub async fn query<T: FromReply>(self) -> Result<T> {
        T::from_reply(self.target.send_command(self.cmd).await?)
    }

    /// The command built so far.
    pub fn into_cmd(self) -> Cmd {
        self.cmd
    }
}

/// Typed methods for everyday commands, for every [`Execute`] implementation.
///
/// Keys, values, fields and members accept anything [`ToArgs`]: `&str`, `String`, `&[u8]`,
/// `Vec<u8>`, `Bytes`, numbers; arguments that take several accept slices, vectors, arrays and
/// tuples of those. Multi-key arguments such as `del` take one key or a list of keys.
///
/// # Choosing the result type
///
/// Methods that return data (`get`, `mget`, `hget`, `hgetall`, `lpop`, `lrange`, `blpop`,
/// `smembers`, `zrange`, `zrange_withscores`, `zscore`, `echo`, and the counters `incr`,
/// `incr_by`, `decr`, `decr_by`, `hincr_by`) let the caller choose the Rust type, anything
/// [`FromReply`]: name it on the binding or with a turbofish.
///
/// ```no_run
/// use std::collections::HashMap;
/// use rediscover::{Bytes, Client, Commands};
/// # async fn demo(client: Client) -> rediscover::Result<()> {
/// let name: Option<String> = client.get("user:1:name").await?;
/// let raw = client.get::<Option<Bytes>>("user:1:avatar").await?;
/// let visits: u64 = client.incr("visits").await?;
/// let profile: HashMap<String, String> = client.hgetall("user:1").await?;
/// let scores = client.zrange_withscores::<String>("board", 0, 9).await?; // Vec<(String, f64)>
/// # Ok(()) }
/// ```
///
/// Rust has no default for a method's type parameter, so a data method whose result is
/// ignored needs its type named: `client.incr::<i64>("hits").await?;` (or
/// `let _: i64 = ...`). Without one the compiler says "type annotations needed". The methods
/// whose answer has one natural type keep it fixed, so they never need annotations:
/// acknowledgements return `()` (`set`, `set_ex`, `mset`, `watch`, `unwatch`), yes/no answers
/// `bool` (`set_nx`, `expire`, `persist`, `sismember`, `zadd`), counts `i64` (`del`,
/// `exists`, `ttl`, `hset`, `hdel`, `hlen`, `lpush`, `rpush`, `llen`, `sadd`, `srem`,
/// `scard`, `zadd_multiple`, `zrem`, `zcard`, `publish`), and `ping` a `String`.
///
/// Useful types: `Option<T>` for replies that may be nil, `String` or `Bytes` (or
/// `Vec<u8>`) for values, any integer type or `f64` for numbers (a string holding a number
/// converts too), `Vec<T>`, `HashSet<T>`, `HashMap<K, V>`, `BTreeMap<K, V>` and tuples for
/// aggregates, [`Frame`] for the raw reply, and `Result<T>` to keep an error reply as a
/// value.
pub trait Commands: Execute {
    /// Starts a command for the generic path: `client.cmd("NAME").arg(..).query::<T>()`.
    fn cmd(&self, name: &str) -> BoundCmd<'_, Self> {
        BoundCmd {
            target: self,
            cmd: Cmd::new(name),
        }
    }

    /// Runs a prepared [`Cmd`] and converts its reply.
    fn query<T: FromReply>(&self, cmd: Cmd) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(cmd))
    }

    /// `PING`: `PONG`.
    fn ping(&self) -> impl Future<Output = Result<String>> + Send {
        typed(self.send_command(Cmd::new("PING")))
    }

    /// `ECHO message`.
    fn echo<T: FromReply>(&self, message: impl ToArgs) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("ECHO").arg(message)))
    }

    /// `GET key`: the value; use `Option<_>` for a key that may not exist.
    fn get<T: FromReply>(&self, key: impl ToArgs) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("GET").arg(key)))
    }

    /// `SET key value`.
    fn set(&self, key: impl ToArgs, value: impl ToArgs) -> impl Future<Output = Result<()>> + Send {
        typed(self.send_command(Cmd::new("SET").arg(key).arg(value)))
    }

    /// `SET key value EX seconds`.
    fn set_ex(
        &self,
        key: impl ToArgs,
        value: impl ToArgs,
        seconds: u64,
    ) -> impl Future<Output = Result<()>> + Send {
        typed(self.send_command(Cmd::new("SET").arg(key).arg(value).arg("EX").arg(seconds)))
    }

    /// `SET key value NX`: whether the key was set (it did not exist).
    fn set_nx(
        &self,
        key: impl ToArgs,
        value: impl ToArgs,
    ) -> impl Future<Output = Result<bool>> + Send {
        typed(self.send_command(Cmd::new("SET").arg(key).arg(value).arg("NX")))
    }

    /// `DEL key [key ...]`: how many keys were removed.
    fn del(&self, keys: impl ToArgs) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("DEL").arg(keys)))
    }

    /// `EXISTS key [key ...]`: how many of the keys exist (counting repeats).
    fn exists(&self, keys: impl ToArgs) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("EXISTS").arg(keys)))
    }

    /// `EXPIRE key seconds`: whether a timeout was set (the key exists).
    fn expire(&self, key: impl ToArgs, seconds: i64) -> impl Future<Output = Result<bool>> + Send {
        typed(self.send_command(Cmd::new("EXPIRE").arg(key).arg(seconds)))
    }

    /// `TTL key`: seconds to live, `-1` without a timeout, `-2` when the key does not exist.
    fn ttl(&self, key: impl ToArgs) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("TTL").arg(key)))
    }

    /// `INCR key`: the new value.
    fn incr<T: FromReply>(&self, key: impl ToArgs) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("INCR").arg(key)))
    }

    /// `INCRBY key delta`: the new value.
    fn incr_by<T: FromReply>(
        &self,
        key: impl ToArgs,
        delta: i64,
    ) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("INCRBY").arg(key).arg(delta)))
    }

    /// `DECR key`: the new value.
    fn decr<T: FromReply>(&self, key: impl ToArgs) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("DECR").arg(key)))
    }

    /// `DECRBY key delta`: the new value.
    fn decr_by<T: FromReply>(
        &self,
        key: impl ToArgs,
        delta: i64,
    ) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("DECRBY").arg(key).arg(delta)))
    }

    /// `MGET key [key ...]`: one entry per key (`Vec<Option<_>>`: `None` for a missing key).
    fn mget<T: FromReply>(&self, keys: impl ToArgs) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("MGET").arg(keys)))
    }

    /// `MSET key value [key value ...]`, from pairs: `&[("k1", "v1"), ("k2", "v2")]`.
    fn mset(&self, pairs: impl ToArgs) -> impl Future<Output = Result<()>> + Send {
        typed(self.send_command(Cmd::new("MSET").arg(pairs)))
    }

    /// `HSET key field value [field value ...]`, from pairs: how many fields were added.
    fn hset(
        &self,
        key: impl ToArgs,
        pairs: impl ToArgs,
    ) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("HSET").arg(key).arg(pairs)))
    }

    /// `HGET key field`: the value; use `Option<_>` for a field that may not exist.
    fn hget<T: FromReply>(
        &self,
        key: impl ToArgs,
        field: impl ToArgs,
    ) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("HGET").arg(key).arg(field)))
    }

    /// `HGETALL key`: every field and value, as a map (`HashMap<String, String>`, ...) or a
    /// list of pairs; empty when the key does not exist.
    fn hgetall<T: FromReply>(&self, key: impl ToArgs) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("HGETALL").arg(key)))
    }

    /// `HDEL key field [field ...]`: how many fields were removed.
    fn hdel(
        &self,
        key: impl ToArgs,
        fields: impl ToArgs,
    ) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("HDEL").arg(key).arg(fields)))
    }

    /// `HINCRBY key field delta`: the new value.
    fn hincr_by<T: FromReply>(
        &self,
        key: impl ToArgs,
        field: impl ToArgs,
        delta: i64,
    ) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("HINCRBY").arg(key).arg(field).arg(delta)))
    }

    /// `HLEN key`: the number of fields.
    fn hlen(&self, key: impl ToArgs) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("HLEN").arg(key)))
    }

    /// `LPUSH key value [value ...]`: the new length.
    fn lpush(
        &self,
        key: impl ToArgs,
        values: impl ToArgs,
    ) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("LPUSH").arg(key).arg(values)))
    }

    /// `RPUSH key value [value ...]`: the new length.
    fn rpush(
        &self,
        key: impl ToArgs,
        values: impl ToArgs,
    ) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("RPUSH").arg(key).arg(values)))
    }

    /// `LPOP key`: the first element; use `Option<_>` for a list that may not exist.
    fn lpop<T: FromReply>(&self, key: impl ToArgs) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("LPOP").arg(key)))
    }

    /// `LRANGE key start stop` (inclusive, negative indexes count from the end), as a `Vec`.
    fn lrange<T: FromReply>(
        &self,
        key: impl ToArgs,
        start: i64,
        stop: i64,
    ) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("LRANGE").arg(key).arg(start).arg(stop)))
    }

    /// `LLEN key`: the length of the list.
    fn llen(&self, key: impl ToArgs) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("LLEN").arg(key)))
    }

    /// `BLPOP key [key ...] timeout`: `Some((key, element))`, or `None` after `timeout`
    /// seconds (`0.0`: wait forever); so `T` is usually `Option<(String, String)>`.
    ///
    /// On a shared [`Client`](crate::Client) it runs on a dedicated connection and does not
    /// hold up other callers, and its deadline is the request timeout plus `timeout`. On a
    /// [`Connection`](crate::Connection) it blocks that connection, under the connection's
    /// own deadline.
    fn blpop<T: FromReply>(
        &self,
        keys: impl ToArgs,
        timeout: f64,
    ) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("BLPOP").arg(keys).arg(timeout)))
    }

    /// `SADD key member [member ...]`: how many members were added.
    fn sadd(
        &self,
        key: impl ToArgs,
        members: impl ToArgs,
    ) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("SADD").arg(key).arg(members)))
    }

    /// `SREM key member [member ...]`: how many members were removed.
    fn srem(
        &self,
        key: impl ToArgs,
        members: impl ToArgs,
    ) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("SREM").arg(key).arg(members)))
    }

    /// `SMEMBERS key`, as a `Vec` (in the server's order) or a `HashSet`.
    fn smembers<T: FromReply>(&self, key: impl ToArgs) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("SMEMBERS").arg(key)))
    }

    /// `SISMEMBER key member`.
    fn sismember(
        &self,
        key: impl ToArgs,
        member: impl ToArgs,
    ) -> impl Future<Output = Result<bool>> + Send {
        typed(self.send_command(Cmd::new("SISMEMBER").arg(key).arg(member)))
    }

    /// `SCARD key`: the number of members.
    fn scard(&self, key: impl ToArgs) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("SCARD").arg(key)))
    }

    /// `ZADD key score member`: whether the member was added (not just updated).
    fn zadd(
        &self,
        key: impl ToArgs,
        member: impl ToArgs,
        score: f64,
    ) -> impl Future<Output = Result<bool>> + Send {
        typed(self.send_command(Cmd::new("ZADD").arg(key).arg(score).arg(member)))
    }

    /// `ZADD key score member [score member ...]` from `(score, member)` pairs: how many were
    /// added.
    fn zadd_multiple(
        &self,
        key: impl ToArgs,
        pairs: impl ToArgs,
    ) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("ZADD").arg(key).arg(pairs)))
    }

    /// `ZRANGE key start stop`: members by rank, as a `Vec`.
    fn zrange<T: FromReply>(
        &self,
        key: impl ToArgs,
        start: i64,
        stop: i64,
    ) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("ZRANGE").arg(key).arg(start).arg(stop)))
    }

    /// `ZRANGE key start stop WITHSCORES`: `(member, score)` by rank, members as `M` (RESP2
    /// and RESP3 shapes alike).
    fn zrange_withscores<M: FromReply>(
        &self,
        key: impl ToArgs,
        start: i64,
        stop: i64,
    ) -> impl Future<Output = Result<Vec<(M, f64)>>> + Send {
        let fut = self.send_command(
            Cmd::new("ZRANGE")
                .arg(key)
                .arg(start)
                .arg(stop)
                .arg("WITHSCORES"),
        );
        async move { pair_list(fut.await?) }
    }

    /// `ZSCORE key member`: the score; use `Option<f64>` for a member that may not exist.
    fn zscore<T: FromReply>(
        &self,
        key: impl ToArgs,
        member: impl ToArgs,
    ) -> impl Future<Output = Result<T>> + Send {
        typed(self.send_command(Cmd::new("ZSCORE").arg(key).arg(member)))
    }

    /// `ZREM key member [member ...]`: how many members were removed.
    fn zrem(
        &self,
        key: impl ToArgs,
        members: impl ToArgs,
    ) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("ZREM").arg(key).arg(members)))
    }

    /// `ZCARD key`: the number of members.
    fn zcard(&self, key: impl ToArgs) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("ZCARD").arg(key)))
    }

    /// `PERSIST key`: whether a timeout was removed.
    fn persist(&self, key: impl ToArgs) -> impl Future<Output = Result<bool>> + Send {
        typed(self.send_command(Cmd::new("PERSIST").arg(key)))
    }

    /// `PUBLISH channel message`: how many subscribers received it.
    fn publish(
        &self,
        channel: impl ToArgs,
        message: impl ToArgs,
    ) -> impl Future<Output = Result<i64>> + Send {
        typed(self.send_command(Cmd::new("PUBLISH").arg(channel).arg(message)))
    }

    /// `WATCH key [key ...]`, on a connection of one's own (a pooled one, a
    /// [`Connection`](crate::Connection)); a shared [`Client`](crate::Client) refuses it and
    /// offers [`Client::transaction`](crate::Client::transaction) instead.
    fn watch(&self, keys: impl ToArgs) -> impl Future<Output = Result<()>> + Send {
        typed(self.send_command(Cmd::new("WATCH").arg(keys)))
    }

    /// `UNWATCH`, on a connection of one's own.
    fn unwatch(&self) -> impl Future<Output = Result<()>> + Send {
        typed(self.send_command(Cmd::new("UNWATCH")))
    }

    /// Iterates the keyspace with `SCAN`.
    ///
    /// ```no_run
    /// use rediscover::{Client, Commands};
    /// # async fn demo(client: Client) -> rediscover::Result<()> {
    /// let mut keys = client.scan().pattern("user:*").count(500);
    /// while let Some(key) = keys.next().await? {
    ///     println!("{}", String::from_utf8_lossy(&key));
    /// }
    /// # Ok(()) }
    /// ```
    fn scan(&self) -> Scan<'_, Self>
    where
        Self: Sized,
    {
        Scan {
            target: self,
            cursor: Some(0),
            pattern: None,
            count: None,
            buffered: VecDeque::new(),
        }
    }
}

impl<T: Execute + ?Sized> Commands for T {}

/// A `SCAN` iteration; see [`Commands::scan`]. Keys may repeat, as with `SCAN` itself.
#[derive(Debug)]
pub struct Scan<'a, C> {
    target: &'a C,
    /// `None` once the server has returned cursor 0.
    cursor: Option<u64>,
    pattern: Option<Bytes>,
    count: Option<u64>,
    buffered: VecDeque<Bytes>,
}

impl<C: Execute> Scan<'_, C> {
    /// Only keys matching a glob pattern (`MATCH`).
    pub fn pattern(mut self, pattern: impl AsRef<[u8]>) -> Self {
        self.pattern = Some(Bytes::copy_from_slice(pattern.as_ref()));
        self
    }

    /// Work per call hint (`COUNT`).
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// The next key, fetching another batch when needed; `None` when the iteration is over.
    pub async fn next(&mut self) -> Result<Option<Bytes>> {
        loop {
            if let Some(key) = self.buffered.pop_front() {
                return Ok(Some(key));
            }
            let Some(cursor) = self.cursor else {
                return Ok(None);
            };
            let cmd = Cmd::new("SCAN")
                .arg(cursor)
                .arg(self.pattern.as_ref().map(|p| ("MATCH", p)))
                .arg(self.count.map(|c| ("COUNT", c)));
            let (next, keys): (String, Vec<Bytes>) = typed(self.target.send_command(cmd)).await?;
            let next: u64 = next
                .parse()
                .map_err(|_| Error::response(format!("bad SCAN cursor {next:?}")))?;
            self.cursor = (next != 0).then_some(next);
            self.buffered.extend(keys);
        }
    }

    /// Runs the iteration to the end and returns every key (duplicates removed).
    pub async fn collect_all(mut self) -> Result<Vec<Bytes>> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        while let Some(key) = self.next().await? {
            if seen.insert(key.clone()) {
                out.push(key);
            }
        }
        Ok(out)
    }
}
