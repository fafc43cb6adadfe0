//! The one table of Redis error codes and texts.
//!
//! The test server writes its errors from here and the client classifies the errors it reads from
//! here, so both sides agree on every prefix, and a round-trip test pins them. Texts are Redis
//! 7.0's, byte for byte.

/// The code that starts a Redis error line (`WRONGTYPE`, `MOVED`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `ERR`: the generic error.
    Err,
    /// `MOVED <slot> <host:port>`: the slot lives on another node; update the slot map.
    Moved,
    /// `ASK <slot> <host:port>`: the slot is migrating; retry once there after `ASKING`.
    Ask,
    /// `CROSSSLOT`: keys of one command hash to different slots.
    CrossSlot,
    /// `TRYAGAIN`: multi-key command during a slot migration; retry shortly.
    TryAgain,
    /// `CLUSTERDOWN`: the cluster cannot serve the slot right now.
    ClusterDown,
    /// `READONLY`: a write was sent to a replica.
    ReadOnly,
    /// `NOAUTH`: authentication required.
    NoAuth,
    /// `WRONGPASS`: bad user name or password.
    WrongPass,
    /// `NOPERM`: the ACL user may not run this.
    NoPerm,
    /// `WRONGTYPE`: the key holds another type.
    WrongType,
    /// `EXECABORT`: a transaction was discarded because of earlier errors.
    ExecAbort,
    /// `NOSCRIPT`: no script with that SHA1.
    NoScript,
    /// `LOADING`: the server is loading its dataset.
    Loading,
    /// `MASTERDOWN`: the replica lost its master and does not serve stale data.
    MasterDown,
    /// `NOREPLICAS`: not enough good replicas to accept the write.
    NoReplicas,
    /// `BUSY`: a script is running.
    Busy,
    /// `BUSYKEY`: the target key already exists.
    BusyKey,
    /// `NOPROTO`: unsupported protocol version in `HELLO`.
    NoProto,
    /// `OOM`: out of memory.
    Oom,
    /// `UNBLOCKED`: a blocked client was unblocked by `CLIENT UNBLOCK ... ERROR`.
    Unblocked,
    /// `NOTBUSY`: no script to kill.
    NotBusy,
    /// `MISCONF`: RDB snapshots failing.
    Misconf,
    /// Any other code.
    Other,
}

/// What a client should do about a server error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAction {
    /// Retry on the node named by the redirection, and refresh the slot map.
    FollowMoved,
    /// Retry once on the node named by the redirection, preceded by `ASKING`.
    AskOnce,
    /// Wait briefly and retry on the same node.
    WaitAndRetry,
    /// Refresh the topology (slot map, master address) and retry.
    RefreshTopology,
    /// The connection is unusable or points at the wrong role: reconnect, then retry.
    Reconnect,
    /// Retrying will not help.
    GiveUp,
}

const CODES: &[(ErrorCode, &str)] = &[
    (ErrorCode::Err, "ERR"),
    (ErrorCode::Moved, "MOVED"),
    (ErrorCode::Ask, "ASK"),
    (ErrorCode::CrossSlot, "CROSSSLOT"),
    (ErrorCode::TryAgain, "TRYAGAIN"),
    (ErrorCode::ClusterDown, "CLUSTERDOWN"),
    (ErrorCode::ReadOnly, "READONLY"),
    (ErrorCode::NoAuth, "NOAUTH"),
    (ErrorCode::WrongPass, "WRONGPASS"),
    (ErrorCode::NoPerm, "NOPERM"),
    (ErrorCode::WrongType, "WRONGTYPE"),
    (ErrorCode::ExecAbort, "EXECABORT"),
    (ErrorCode::NoScript, "NOSCRIPT"),
    (ErrorCode::Loading, "LOADING"),
    (ErrorCode::MasterDown, "MASTERDOWN"),
    (ErrorCode::NoReplicas, "NOREPLICAS"),
    (ErrorCode::Busy, "BUSY"),
    (ErrorCode::BusyKey, "BUSYKEY"),
    (ErrorCode::NoProto, "NOPROTO"),
    (ErrorCode::Oom, "OOM"),
    (ErrorCode::Unblocked, "UNBLOCKED"),
    (ErrorCode::NotBusy, "NOTBUSY"),
    (ErrorCode::Misconf, "MISCONF"),
];

impl ErrorCode {
    /// The prefix as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        CODES
            .iter()
            .find(|(c, _)| *c == self)
            .map(|(_, s)| *s)
            .unwrap_or("ERR")
    }

    /// Classifies an error line (without the leading `-`) by its first word.
    pub fn of(line: &[u8]) -> ErrorCode {
        let word = line.split(|&b| b == b' ').next().unwrap_or(line);
        CODES
            .iter()
            .find(|(_, s)| s.as_bytes() == word)
            .map(|(c, _)| *c)
            .unwrap_or(ErrorCode::Other)
    }

    /// What a client should do when it receives this error.
    pub fn action(self) -> RetryAction {
        match self {
            ErrorCode::Moved => RetryAction::FollowMoved,
            ErrorCode::Ask => RetryAction::AskOnce,
            ErrorCode::TryAgain | ErrorCode::Loading | ErrorCode::Busy => RetryAction::WaitAndRetry,
            ErrorCode::ClusterDown | ErrorCode::MasterDown => RetryAction::RefreshTopology,
            ErrorCode::ReadOnly => RetryAction::Reconnect,
            _ => RetryAction::GiveUp,
        }
    }
}

/// A `MOVED` or `ASK` redirection: the slot and the address to go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// `true` for `ASK`, `false` for `MOVED`.
    pub ask: bool,
    /// The hash slot.
    pub slot: u16,
    /// `host:port` of the node to retry on.
    pub addr: String,
}

impl Redirect {
    /// Parses `MOVED 3999 127.0.0.1:6381` or `ASK 3999 127.0.0.1:6381`.
    pub fn parse(line: &[u8]) -> Option<Redirect> {
        let text = std::str::from_utf8(line).ok()?;
        let mut parts = text.split(' ');
        let ask = match parts.next()? {
            "MOVED" => false,
            "ASK" => true,
            _ => return None,
        };
        let slot = parts.next()?.parse().ok()?;
        let addr = parts.next()?.to_string();
        Some(Redirect { ask, slot, addr })
    }

    /// The error line for this redirection, as a cluster node writes it.
    pub fn to_line(&self) -> String {
        format!(
            "{} {} {}",
            if self.ask { "ASK" } else { "MOVED" },
            self.slot,
            self.addr
        )
    }
}

/// Error texts, complete with their code, exactly as Redis 7.0 writes them.
pub mod msg {
    #![allow(missing_docs)]
    pub const SYNTAX: &str = "ERR syntax error";
    pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    pub const HLL_WRONGTYPE: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
    pub const HLL_CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";
    pub const NO_SUCH_KEY: &str = "ERR no such key";
    pub const OUT_OF_RANGE: &str = "ERR index out of range";
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    pub const INCR_NAN: &str = "ERR increment would produce NaN or Infinity";
    pub const DB_INDEX: &str = "ERR DB index is out of range";
    pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
    pub const EXPIRE_TIME: &str = "ERR invalid expire time in '%s' command";
    pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
    pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
    pub const NOAUTH: &str = "NOAUTH Authentication required.";
    pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
    pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
    pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
    pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
    pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
    pub const MULTI_NESTED: &str = "ERR MULTI calls can not be nested";
    pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
    pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
    pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
    pub const MASTERDOWN: &str =
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    pub const READONLY: &str = "READONLY You can't write against a read only replica.";
    pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
    pub const BUSY: &str =
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    pub const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
    pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
    pub const TRYAGAIN: &str = "TRYAGAIN Multiple keys request during rehashing of slot";
    pub const CLUSTERDOWN: &str = "CLUSTERDOWN The cluster is down";
    pub const CLUSTERDOWN_UNBOUND: &str = "CLUSTERDOWN Hash slot not served";
    pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
    pub const SUBSCRIBE_CONTEXT: &str = "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";
    pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
    pub const MIN_MAX_NOT_FLOAT: &str = "ERR min or max is not a float";
    pub const MIN_MAX_NOT_STRING: &str = "ERR min or max not valid string range item";
    pub const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
    pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
    pub const DEBUG_DISABLED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' ` — Redis's wording, including
/// its 128-byte caps and the trailing space after each argument. The client's bytes are echoed
/// as they came (Redis formats them with `%.128s`), so the text need not be UTF-8.
pub fn unknown_command(name: &[u8], args: &[impl AsRef<[u8]>]) -> Vec<u8> {
    let mut shown: Vec<u8> = Vec::new();
    for arg in args {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        shown.push(b'\'');
        shown.extend_from_slice(c_string(arg.as_ref(), room));
        shown.extend_from_slice(b"' ");
    }
    let mut line = b"ERR unknown command '".to_vec();
    line.extend_from_slice(c_string(name, 128));
    line.extend_from_slice(b"', with args beginning with: ");
    line.extend_from_slice(&shown);
    line
}

/// What C's `%.<max>s` prints of `bytes`: at most `max` bytes, and nothing from a NUL on.
fn c_string(bytes: &[u8], max: usize) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end.min(max)]
}

/// `ERR unknown subcommand 'x'. Try CMD HELP.`, the subcommand's bytes echoed as they came.
pub fn unknown_subcommand(command: &str, sub: &[u8]) -> Vec<u8> {
    let mut line = b"ERR unknown subcommand '".to_vec();
    line.extend_from_slice(c_string(sub, 128));
    line.extend_from_slice(format!("'. Try {} HELP.", command.to_ascii_uppercase()).as_bytes());
    line
}

/// `ERR wrong number of arguments for 'get' command` (`name` as Redis's full name, lower case,
/// `container|sub` for subcommands).
pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for (code, text) in CODES {
            assert_eq!(code.as_str(), *text);
            assert_eq!(ErrorCode::of(format!("{text} something").as_bytes()), *code);
        }
        assert_eq!(
            ErrorCode::of(msg::WRONGTYPE.as_bytes()),
            ErrorCode::WrongType
        );
        assert_eq!(
            ErrorCode::of(msg::CROSSSLOT.as_bytes()),
            ErrorCode::CrossSlot
        );
        assert_eq!(ErrorCode::of(b"WHATEVER x"), ErrorCode::Other);
    }

    #[test]
    fn redirects() {
        let r = Redirect::parse(b"MOVED 12182 127.0.0.1:7002").unwrap();
        assert_eq!(
            r,
            Redirect {
                ask: false,
                slot: 12182,
                addr: "127.0.0.1:7002".into()
            }
        );
        assert_eq!(r.to_line(), "MOVED 12182 127.0.0.1:7002");
        assert!(Redirect::parse(b"ASK 1 h:1").unwrap().ask);
        assert_eq!(ErrorCode::of(b"ASK 1 h:1").action(), RetryAction::AskOnce);
    }

    #[test]
    fn unknown_command_text() {
        assert_eq!(
            unknown_command(b"foo", &["a", "b"]),
            b"ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            unknown_command(b"foo", &[] as &[&str]),
            b"ERR unknown command 'foo', with args beginning with: "
        );
        // A NUL ends an echoed argument, as C's %s ends there.
        assert_eq!(
            unknown_command(b"a\0b", &[b"c\0d"]),
            b"ERR unknown command 'a', with args beginning with: 'c' "
        );
        // Bytes that are not UTF-8 are echoed as they came, not replaced.
        assert_eq!(
            unknown_command(b"\xff\xfe", &[b"\x80"]),
            b"ERR unknown command '\xff\xfe', with args beginning with: '\x80' "
        );
    }
}
