//! Building commands: [`Cmd`] and the [`ToArgs`] conversion for arguments.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::resp::put_int;

/// One command, encoded as it is built.
///
/// Arguments are written straight into one buffer as RESP bulk strings, so a command costs one
/// allocation however many arguments it has; [`Cmd::encode`] adds the array header.
///
/// ```
/// use rediscover::Cmd;
///
/// let cmd = Cmd::new("SET").arg("key").arg(42).arg(["EX", "10"]);
/// assert_eq!(cmd.arg_count(), 5);
/// let mut buf = bytes::BytesMut::new();
/// cmd.encode(&mut buf);
/// let mut expected = bytes::BytesMut::new();
/// rediscover::resp::encode_command(&mut expected, &["SET", "key", "42", "EX", "10"]);
/// assert_eq!(buf, expected);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Cmd {
    /// `HEADER_ROOM` spare bytes, then the arguments: the array header is written into the
    /// spare bytes when the command is sent, so sending needs no copy.
    body: BytesMut,
    argc: usize,
    /// Where the name's bytes sit in `body`, for tracing and pub/sub checks.
    name: (usize, usize),
}

/// Room for `*<argc>\r\n` (argc up to 20 digits).
const HEADER_ROOM: usize = 24;

impl Cmd {
    /// A command with its name as the first argument.
    pub fn new(name: &str) -> Cmd {
        let mut body = BytesMut::with_capacity(96 + name.len());
        body.put_bytes(0, HEADER_ROOM);
        let mut cmd = Cmd {
            body,
            argc: 0,
            name: (0, 0),
        };
        cmd.push_arg(name.as_bytes());
        let start = cmd.body.len() - name.len() - 2;
        cmd.name = (start, start + name.len());
        cmd
    }

    /// Appends one or more arguments (see [`ToArgs`]).
    pub fn arg<A: ToArgs>(mut self, arg: A) -> Cmd {
        arg.write_args(&mut self);
        self
    }

    /// Appends arguments in place (for loops).
    pub fn add<A: ToArgs>(&mut self, arg: A) -> &mut Cmd {
        arg.write_args(self);
        self
    }

    /// Appends one raw argument.
    pub fn push_arg(&mut self, data: &[u8]) {
        self.body.reserve(data.len() + 16);
        self.body.put_u8(b'$');
        put_int(&mut self.body, data.len() as i64);
        self.body.put_slice(b"\r\n");
        self.body.put_slice(data);
        self.body.put_slice(b"\r\n");
        self.argc += 1;
    }

    /// Appends an integer argument without formatting it through a `String`.
    pub fn push_int(&mut self, v: i64) {
        let mut tmp = [0u8; 20];
        let digits = decimal(v.unsigned_abs(), &mut tmp);
        if v < 0 {
            let mut neg = [0u8; 21];
            neg[0] = b'-';
            neg[1..=digits.len()].copy_from_slice(digits);
            self.push_arg(&neg[..=digits.len()]);
        } else {
            self.push_arg(digits);
        }
    }

    /// Appends an unsigned integer argument.
    pub fn push_uint(&mut self, v: u64) {
        let mut tmp = [0u8; 20];
        self.push_arg(decimal(v, &mut tmp));
    }

    /// Number of arguments, the name included.
    pub fn arg_count(&self) -> usize {
        self.argc
    }

    /// The command name as given.
    pub fn name(&self) -> &str {
        std::str::from_utf8(&self.body[self.name.0..self.name.1]).unwrap_or("?")
    }

    /// Appends the whole command (array header and arguments) to `buf`.
    pub fn encode(&self, buf: &mut BytesMut) {
        let args = &self.body[HEADER_ROOM..];
        buf.reserve(args.len() + 16);
        buf.put_u8(b'*');
        put_int(buf, self.argc as i64);
        buf.put_slice(b"\r\n");
        buf.put_slice(args);
    }

    /// The whole command as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.body.len());
        self.encode(&mut buf);
        buf.freeze()
    }

    /// The whole command as one buffer, without copying the arguments.
    pub fn into_bytes(mut self) -> Bytes {
        let mut tmp = [0u8; 20];
        let digits = decimal(self.argc as u64, &mut tmp);
        // `*<digits>\r\n`, right-aligned against the arguments.
        let start = HEADER_ROOM - digits.len() - 3;
        self.body[start] = b'*';
        self.body[start + 1..HEADER_ROOM - 2].copy_from_slice(digits);
        self.body[HEADER_ROOM - 2..HEADER_ROOM].copy_from_slice(b"\r\n");
        self.body.advance(start);
        self.body.freeze()
    }

    /// The arguments, name first, as they will be sent.
    ///
    /// ```
    /// let cmd = rediscover::Cmd::new("SET").arg("k").arg(5);
    /// let args: Vec<&[u8]> = cmd.args().collect();
    /// assert_eq!(args, [&b"SET"[..], b"k", b"5"]);
    /// ```
    pub fn args(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut rest = &self.body[HEADER_ROOM..];
        std::iter::from_fn(move || {
            // Each argument is `$<len>\r\n<data>\r\n`, written by `push_arg`.
            let header_end = rest.iter().position(|&b| b == b'\r')?;
            let len: usize = std::str::from_utf8(rest.get(1..header_end)?)
                .ok()?
                .parse()
                .ok()?;
            let start = header_end + 2;
            let arg = rest.get(start..start + len)?;
            rest = rest.get(start + len + 2..)?;
            Some(arg)
        })
    }

    /// How this command uses the connection it is sent on (see [`Usage`]).
    pub(crate) fn usage(&self) -> Usage {
        let name = &self.body[self.name.0..self.name.1];
        usage(name, || self.args().skip(1))
    }

    /// The hash slot of this command's keys (see [`crate::slot::command_slot`]).
    ///
    /// ```
    /// use rediscover::{slot::CommandSlot, Cmd};
    /// assert_eq!(Cmd::new("GET").arg("foo").slot(), CommandSlot::Slot(12182));
    /// assert_eq!(Cmd::new("PING").slot(), CommandSlot::NoKeys);
    /// ```
    pub fn slot(&self) -> crate::slot::CommandSlot {
        let argv: Vec<&[u8]> = self.args().collect();
        crate::slot::command_slot(&argv)
    }

    /// Empties the command and starts it again with another name, keeping its buffer.
    pub(crate) fn reuse(&mut self, name: &str) {
        self.body.truncate(HEADER_ROOM);
        self.argc = 0;
        self.push_arg(name.as_bytes());
        let start = self.body.len() - name.len() - 2;
        self.name = (start, start + name.len());
    }
}

/// How a command uses the connection it is sent on: what a shared, multiplexed connection can
/// carry and what needs a connection of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    /// Answered at once; leaves nothing behind on the connection.
    Shared = 1,
    /// May hold the connection until data arrives or its timeout passes (`BLPOP`,
    /// `XREAD ... BLOCK`, ...): every command behind it on the connection waits too.
    Blocking = 2,
    /// `WAIT`/`WAITAOF`: blocks, and counts the writes made on this connection.
    Wait = 4,
    /// Changes connection state that later commands depend on (`SELECT`, `WATCH`, `MULTI`,
    /// `RESET`, `AUTH`, `HELLO`, `QUIT`): on a shared connection it would apply to every
    /// caller.
    ConnectionState = 8,
    /// Changes how replies are sent (subscriber mode, `MONITOR`, `CLIENT REPLY`), so replies
    /// can no longer be matched to requests in order.
    ReplyMode = 16,
}

/// Classifies a command by its name and, for the few that need it, its arguments (after the
/// name). Costs a length check for most commands.
pub(crate) fn usage<'a, I>(name: &[u8], args: impl FnOnce() -> I) -> Usage
where
    I: Iterator<Item = &'a [u8]>,
{
    // Every special name is 4 to 12 letters long and starts with one of these: most commands
    // (GET, SET, HGET, INCR, ...) leave here.
    let first = name.first().map_or(0, u8::to_ascii_uppercase);
    if !(4..=12).contains(&name.len())
        || !matches!(
            first,
            b'A' | b'B'
                | b'C'
                | b'D'
                | b'E'
                | b'H'
                | b'M'
                | b'P'
                | b'Q'
                | b'R'
                | b'S'
                | b'U'
                | b'W'
                | b'X'
        )
    {
        return Usage::Shared;
    }
    let mut upper = [0u8; 12];
    let Some(upper) = upper.get_mut(..name.len()) else {
        return Usage::Shared;
    };
    upper.copy_from_slice(name);
    upper.make_ascii_uppercase();
    match &*upper {
        b"BLPOP" | b"BRPOP" | b"BLMOVE" | b"BRPOPLPUSH" | b"BLMPOP" | b"BZPOPMIN" | b"BZPOPMAX"
        | b"BZMPOP" => Usage::Blocking,
        b"XREAD" | b"XREADGROUP" => {
            // BLOCK is an option before STREAMS; after it come keys and ids, which may be
            // spelled "BLOCK" too.
            let blocks = args()
                .take_while(|a| !a.eq_ignore_ascii_case(b"STREAMS"))
                .any(|a| a.eq_ignore_ascii_case(b"BLOCK"));
            if blocks {
                Usage::Blocking
            } else {
                Usage::Shared
            }
        }
        b"WAIT" | b"WAITAOF" => Usage::Wait,
        b"SELECT" | b"WATCH" | b"UNWATCH" | b"MULTI" | b"EXEC" | b"DISCARD" | b"RESET"
        | b"AUTH" | b"HELLO" | b"QUIT" => Usage::ConnectionState,
        b"SUBSCRIBE" | b"PSUBSCRIBE" | b"SSUBSCRIBE" | b"UNSUBSCRIBE" | b"PUNSUBSCRIBE"
        | b"SUNSUBSCRIBE" | b"MONITOR" => Usage::ReplyMode,
        b"CLIENT" => {
            if args()
                .next()
                .is_some_and(|sub| sub.eq_ignore_ascii_case(b"REPLY"))
            {
                Usage::ReplyMode
            } else {
                Usage::Shared
            }
        }
        _ => Usage::Shared,
    }
}

/// How long a blocking command may block, from its own arguments (after the name):
/// `Some(None)` for "forever" (a timeout of 0), `Some(Some(d))` for `d`, and `None` when the
/// command does not block or its timeout cannot be read (the server will refuse it quickly).
pub(crate) fn blocking_timeout<'a>(
    name: &[u8],
    args: impl Iterator<Item = &'a [u8]>,
) -> Option<Option<Duration>> {
    enum At {
        Last,
        First,
        AfterBlock,
    }
    let (at, millis) =
        if name.eq_ignore_ascii_case(b"BLMPOP") || name.eq_ignore_ascii_case(b"BZMPOP") {
            (At::First, false)
        } else if name.eq_ignore_ascii_case(b"XREAD") || name.eq_ignore_ascii_case(b"XREADGROUP") {
            (At::AfterBlock, true)
        } else if name.eq_ignore_ascii_case(b"WAIT") || name.eq_ignore_ascii_case(b"WAITAOF") {
            (At::Last, true)
        } else {
            (At::Last, false)
        };
    let mut args = args;
    let value = match at {
        At::Last => args.last()?,
        At::First => args.next()?,
        At::AfterBlock => {
            let mut args = args.take_while(|a| !a.eq_ignore_ascii_case(b"STREAMS"));
            args.find(|a| a.eq_ignore_ascii_case(b"BLOCK"))?;
            args.next()?
        }
    };
    let n: f64 = std::str::from_utf8(value).ok()?.trim().parse().ok()?;
    if n.is_nan() || n < 0.0 {
        return None;
    }
    if n == 0.0 {
        return Some(None);
    }
    let secs = if millis { n / 1000.0 } else { n };
    // Beyond what a Duration holds is as good as forever.
    Some(Duration::try_from_secs_f64(secs).ok())
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cmd({} +{} args)", self.name(), self.argc - 1)
    }
}

/// The decimal digits of `v`, formatted on the stack.
fn decimal(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// Creates a command; shorthand for [`Cmd::new`].
pub fn cmd(name: &str) -> Cmd {
    Cmd::new(name)
}

/// A value that becomes one or more command arguments.
///
/// Strings and byte strings are one argument each; integers and floats are written in decimal;
/// slices, vectors, arrays and tuples expand to their elements, so `&["a", "b"]` is two
/// arguments and `&[("f", 1)]` (field/value pairs) is two per pair.
pub trait ToArgs {
    /// Appends this value's arguments to `cmd`.
    fn write_args(&self, cmd: &mut Cmd);
}

impl ToArgs for str {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self.as_bytes());
    }
}

impl ToArgs for String {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self.as_bytes());
    }
}

impl ToArgs for [u8] {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self);
    }
}

impl ToArgs for Vec<u8> {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self);
    }
}

impl<const N: usize> ToArgs for [u8; N] {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self);
    }
}

impl ToArgs for Bytes {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self);
    }
}

macro_rules! int_args {
    ($($t:ty),*) => {$(
        impl ToArgs for $t {
            fn write_args(&self, cmd: &mut Cmd) {
                cmd.push_int(*self as i64);
            }
        }
    )*};
}
int_args!(i8, i16, i32, i64, u16, u32, isize);

impl ToArgs for u64 {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_uint(*self);
    }
}

impl ToArgs for usize {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_uint(*self as u64);
    }
}

impl ToArgs for f64 {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(crate::resp::format_double(*self).as_bytes());
    }
}

impl ToArgs for f32 {
    fn write_args(&self, cmd: &mut Cmd) {
        f64::from(*self).write_args(cmd);
    }
}

impl<T: ToArgs + ?Sized> ToArgs for &T {
    fn write_args(&self, cmd: &mut Cmd) {
        (**self).write_args(cmd);
    }
}

impl<T: ToArgs> ToArgs for [T] {
    fn write_args(&self, cmd: &mut Cmd) {
        for item in self {
            item.write_args(cmd);
        }
    }
}

impl<T: ToArgs> ToArgs for Vec<T> {
    fn write_args(&self, cmd: &mut Cmd) {
        self.as_slice().write_args(cmd);
    }
}

impl<T: ToArgs, const N: usize> ToArgs for [T; N] {
    fn write_args(&self, cmd: &mut Cmd) {
        self.as_slice().write_args(cmd);
    }
}

impl<T: ToArgs> ToArgs for Option<T> {
    fn write_args(&self, cmd: &mut Cmd) {
        if let Some(v) = self {
            v.write_args(cmd);
        }
    }
}

macro_rules! tuple_args {
    ($($t:ident $i:tt),+) => {
        impl<$($t: ToArgs),+> ToArgs for ($($t,)+) {
            fn write_args(&self, cmd: &mut Cmd) {
                $(self.$i.write_args(cmd);)+
            }
        }
    };
}
tuple_args!(A 0);
tuple_args!(A 0, B 1);
tuple_args!(A 0, B 1, C 2);
tuple_args!(A 0, B 1, C 2, D 3);

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(cmd: &Cmd) -> Vec<u8> {
        let copied = cmd.to_bytes().to_vec();
        assert_eq!(cmd.clone().into_bytes().to_vec(), copied);
        copied
    }

    #[test]
    fn matches_shared_encoder() {
        let c = Cmd::new("HSET")
            .arg("h")
            .arg([("f1", 1), ("f2", -2)])
            .arg(&b"raw"[..])
            .arg(1.5)
            .arg(None::<i32>);
        let mut want = BytesMut::new();
        crate::resp::encode_command(
            &mut want,
            &["HSET", "h", "f1", "1", "f2", "-2", "raw", "1.5"],
        );
        assert_eq!(encoded(&c), want.to_vec());
        assert_eq!(c.name(), "HSET");
        assert_eq!(Cmd::new("subscribe").usage(), Usage::ReplyMode);
        assert_eq!(
            Cmd::new("client").arg("reply").arg("off").usage(),
            Usage::ReplyMode
        );
        assert_eq!(Cmd::new("CLIENT").arg("SETNAME").usage(), Usage::Shared);
        assert_eq!(Cmd::new("GET").usage(), Usage::Shared);
        let args: Vec<&[u8]> = c.args().collect();
        assert_eq!(args.len(), c.arg_count());
        assert_eq!(args[6], b"raw");
        assert_eq!(
            Cmd::new("X").arg("").args().collect::<Vec<_>>(),
            [&b"X"[..], b""]
        );
        assert_eq!(format!("{c:?}"), "Cmd(HSET +7 args)");
    }

    #[test]
    fn usage_classes() {
        let u = |argv: &[&str]| {
            let mut c = Cmd::new(argv[0]);
            for a in &argv[1..] {
                c.add(*a);
            }
            c.usage()
        };
        for blocking in [
            &["blpop", "k", "0"][..],
            &["BRPOP", "k", "0"],
            &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
            &["BRPOPLPUSH", "a", "b", "0"],
            &["BLMPOP", "0", "1", "k", "LEFT"],
            &["BZPOPMIN", "k", "0"],
            &["BZPOPMAX", "k", "0"],
            &["BZMPOP", "0", "1", "k", "MIN"],
            &["XREAD", "COUNT", "1", "block", "0", "STREAMS", "s", "$"],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "10",
                "STREAMS",
                "s",
                ">",
            ],
        ] {
            assert_eq!(u(blocking), Usage::Blocking, "{blocking:?}");
        }
        assert_eq!(u(&["XREAD", "STREAMS", "BLOCK", "0"]), Usage::Shared);
        assert_eq!(
            u(&["XREAD", "COUNT", "5", "STREAMS", "s", "0"]),
            Usage::Shared
        );
        assert_eq!(u(&["wait", "1", "0"]), Usage::Wait);
        assert_eq!(u(&["WAITAOF", "1", "0", "0"]), Usage::Wait);
        for state in [
            "SELECT", "watch", "UNWATCH", "MULTI", "EXEC", "DISCARD", "RESET",
        ] {
            assert_eq!(u(&[state]), Usage::ConnectionState, "{state}");
        }
        for mode in [
            "SUBSCRIBE",
            "psubscribe",
            "SSUBSCRIBE",
            "MONITOR",
            "SUNSUBSCRIBE",
        ] {
            assert_eq!(u(&[mode]), Usage::ReplyMode, "{mode}");
        }
        for shared in [
            "GET",
            "SET",
            "B",
            "",
            "CLIENTREPLYXXXXXXXXXX",
            "SELECTX",
            "WAITS",
        ] {
            assert_eq!(u(&[shared]), Usage::Shared, "{shared}");
        }
    }

    #[test]
    fn blocking_timeouts() {
        let t = |argv: &[&str]| {
            blocking_timeout(argv[0].as_bytes(), argv[1..].iter().map(|a| a.as_bytes()))
        };
        let secs = |s: f64| Some(Some(Duration::from_secs_f64(s)));
        assert_eq!(t(&["BLPOP", "a", "b", "1.5"]), secs(1.5));
        assert_eq!(t(&["brpop", "a", "0"]), Some(None));
        assert_eq!(t(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "2"]), secs(2.0));
        assert_eq!(t(&["BLMPOP", "3", "1", "k", "LEFT"]), secs(3.0));
        assert_eq!(t(&["BZMPOP", "0", "1", "k", "MIN"]), Some(None));
        assert_eq!(
            t(&["XREAD", "BLOCK", "250", "STREAMS", "s", "$"]),
            secs(0.25)
        );
        assert_eq!(t(&["XREAD", "STREAMS", "BLOCK", "250"]), None);
        assert_eq!(t(&["WAIT", "1", "1000"]), secs(1.0));
        assert_eq!(t(&["WAITAOF", "1", "1", "0"]), Some(None));
        assert_eq!(t(&["BLPOP", "k", "-1"]), None);
        assert_eq!(t(&["BLPOP", "k", "nan"]), None);
        assert_eq!(t(&["BLPOP", "k", "x"]), None);
        assert_eq!(t(&["BLPOP"]), None);
        assert_eq!(t(&["BLPOP", "k", "1e300"]), Some(None));
    }

    #[test]
    fn reuse_keeps_nothing_of_the_previous_command() {
        let mut c = Cmd::new("SET").arg("k").arg("v");
        c.reuse("GET");
        c.add("other");
        assert_eq!(encoded(&c), encoded(&Cmd::new("GET").arg("other")));
        assert_eq!(c.name(), "GET");
    }

    #[test]
    fn extreme_integers() {
        let c = Cmd::new("X")
            .arg(i64::MIN)
            .arg(u64::MAX)
            .arg(0)
            .arg(-1)
            .arg(7usize);
        let mut want = BytesMut::new();
        crate::resp::encode_command(
            &mut want,
            &[
                "X",
                &i64::MIN.to_string(),
                &u64::MAX.to_string(),
                "0",
                "-1",
                "7",
            ],
        );
        assert_eq!(encoded(&c), want.to_vec());
    }

    proptest::proptest! {
        #[test]
        fn any_arguments_encode_like_the_shared_encoder(
            args in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 0..8)
        ) {
            let mut cmd = Cmd::new("X");
            for a in &args {
                cmd.push_arg(a);
            }
            let mut all: Vec<&[u8]> = vec![b"X"];
            all.extend(args.iter().map(Vec::as_slice));
            let mut want = BytesMut::new();
            crate::resp::encode_command(&mut want, &all);
            proptest::prop_assert_eq!(encoded(&cmd), want.to_vec());
            proptest::prop_assert_eq!(cmd.args().collect::<Vec<_>>(), all);
        }
    }
}
