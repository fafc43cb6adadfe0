//! The client's error type: what went wrong, whether the request reached the server, and what
//! to do next.
//!
//! Nobody should need to parse `Display` text: every fact a caller acts on is a method.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::error_codes::{ErrorCode, Redirect, RetryAction};
use crate::sentinel::NodeAddr;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with a request.
///
/// The variants split along the line a caller cares about: a [`Server`](Error::Server) error
/// left the connection healthy; [`Io`](Error::Io) and [`Protocol`](Error::Protocol) errors broke
/// it; [`NotSent`](Error::NotSent) means the request never reached the server, so retrying it
/// is always safe.
///
/// [`source()`](std::error::Error::source) leads to the cause: the reason a request was not
/// sent (itself an `Error`), and the `std::io::Error` of an I/O failure.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error reply. The connection is fine.
    Server(ServerError),
    /// The socket failed while the request may have been written: its outcome is unknown.
    Io(Arc<std::io::Error>),
    /// The server sent bytes that are not RESP: the connection was closed, and the outcome of
    /// every request in flight on it is unknown.
    Protocol(String),
    /// The request's deadline passed. `sent` tells whether it may have reached the server.
    Timeout {
        /// Whether the request may have been written to the server before the deadline.
        sent: bool,
    },
    /// The request was never written to the server; retrying it is safe.
    ///
    /// When the server could not be reached, `reason` (also the error's
    /// [`source`](std::error::Error::source)) is the last connection attempt's error: the
    /// refused connection, the DNS failure, the TLS error.
    NotSent {
        /// Why it could not be sent (the server is unreachable, the connection was already
        /// broken or closed, ...).
        reason: Box<Error>,
    },
    /// The connection was closed: by the peer, by `QUIT`, or because its client was dropped.
    Closed,
    /// The reply has a shape the requested Rust type cannot hold.
    Response(String),
    /// The configuration or URL is invalid.
    Config(String),
    /// The connection pool could not hand out a connection (for a client's dedicated
    /// connections too: all busy, or none configured).
    Pool(String),
    /// The command cannot run on this handle: on a shared [`Client`](crate::Client), a command
    /// whose effect belongs to one connection (`SELECT`, `WATCH`, `MULTI` on its own,
    /// `RESET`, `AUTH`, `HELLO`, `QUIT`); on any multiplexed connection, one that changes how replies are sent
    /// (`SUBSCRIBE`, `MONITOR`, `CLIENT REPLY`). Nothing was sent; the message says what to use
    /// instead.
    NotAllowed(String),
    /// A [transaction](crate::Client::transaction) found its `WATCH`ed keys changed on every
    /// attempt, and gave up.
    Conflict {
        /// How many times the transaction was run.
        attempts: u32,
    },
    /// Sentinel discovery: no sentinel could be asked (each refused, timed out or failed).
    /// Check the sentinel addresses and credentials, or wait and retry.
    SentinelsUnreachable {
        /// Each sentinel asked, with its error.
        errors: Vec<(NodeAddr, Error)>,
    },
    /// Sentinel discovery: the sentinels that answered monitor no master by this name. A
    /// configuration error (or sentinels reset meanwhile); retrying will not help.
    MasterNotMonitored {
        /// The master name asked for.
        name: String,
    },
    /// Sentinel discovery: the sentinels named one or more addresses, but none is a reachable
    /// master right now (a failover is under way, or a sentinel is stale or lying). Usually
    /// over within the failover time; retry.
    NoMaster {
        /// The master name.
        name: String,
        /// Each address the sentinels gave, best-ranked first, with why it was refused.
        candidates: Vec<(NodeAddr, String)>,
    },
    /// A replica was asked for, and the sentinels know no usable replica of this master.
    NoReplica {
        /// The master name.
        name: String,
    },
    /// The master changed (a Sentinel failover) after this connection was opened, so the
    /// request was not sent to the old one. Comes wrapped in [`Error::NotSent`]: sending
    /// again, on a new connection, is safe.
    MasterChanged {
        /// The master this connection points at.
        from: NodeAddr,
        /// The master now.
        to: NodeAddr,
    },
    /// A server does not have the role it was wanted for (`ROLE` says `slave` where a master
    /// was wanted): a failover moved it. Ask the sentinels again.
    WrongRole {
        /// The server.
        addr: NodeAddr,
        /// The role wanted (`master` or `slave`).
        wanted: &'static str,
        /// The role it reported.
        found: String,
    },
}

/// What kind of [`Error`] this is, for `match` without destructuring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::Server`]
    Server,
    /// [`Error::Io`]
    Io,
    /// [`Error::Protocol`]
    Protocol,
    /// [`Error::Timeout`]
    Timeout,
    /// [`Error::NotSent`]
    NotSent,
    /// [`Error::Closed`]
    Closed,
    /// [`Error::Response`]
    Response,
    /// [`Error::Config`]
    Config,
    /// [`Error::Pool`]
    Pool,
    /// [`Error::NotAllowed`]
    NotAllowed,
    /// [`Error::Conflict`]
    Conflict,
    /// [`Error::SentinelsUnreachable`]
    SentinelsUnreachable,
    /// [`Error::MasterNotMonitored`]
    MasterNotMonitored,
    /// [`Error::NoMaster`]
    NoMaster,
    /// [`Error::NoReplica`]
    NoReplica,
    /// [`Error::MasterChanged`]
    MasterChanged,
    /// [`Error::WrongRole`]
    WrongRole,
}

impl Error {
    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Server(_) => ErrorKind::Server,
            Error::Io(_) => ErrorKind::Io,
            Error::Protocol(_) => ErrorKind::Protocol,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::NotSent { .. } => ErrorKind::NotSent,
            Error::Closed => ErrorKind::Closed,
            Error::Response(_) => ErrorKind::Response,
            Error::Config(_) => ErrorKind::Config,
            Error::Pool(_) => ErrorKind::Pool,
            Error::NotAllowed(_) => ErrorKind::NotAllowed,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::SentinelsUnreachable { .. } => ErrorKind::SentinelsUnreachable,
            Error::MasterNotMonitored { .. } => ErrorKind::MasterNotMonitored,
            Error::NoMaster { .. } => ErrorKind::NoMaster,
            Error::NoReplica { .. } => ErrorKind::NoReplica,
            Error::MasterChanged { .. } => ErrorKind::MasterChanged,
            Error::WrongRole { .. } => ErrorKind::WrongRole,
        }
    }

    /// The server error, if the server answered with one.
    pub fn server_error(&self) -> Option<&ServerError> {
        match self {
            Error::Server(e) => Some(e),
            _ => None,
        }
    }

    /// The server error code (`WRONGTYPE`, `MOVED`, ...), if the server answered with an error.
    pub fn code(&self) -> Option<ErrorCode> {
        self.server_error().map(ServerError::code)
    }

    /// Whether the server answered with an error reply.
    pub fn is_server(&self) -> bool {
        matches!(self, Error::Server(_))
    }

    /// Whether the socket failed.
    pub fn is_io(&self) -> bool {
        matches!(self, Error::Io(_))
    }

    /// Whether the server sent something that is not RESP.
    pub fn is_protocol(&self) -> bool {
        matches!(self, Error::Protocol(_))
    }

    /// Whether the deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether a transaction gave up after `WATCH` conflicts on every attempt.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }

    /// Whether the request was refused because the Sentinel master changed (an
    /// [`Error::MasterChanged`], possibly inside [`Error::NotSent`]).
    pub fn is_master_changed(&self) -> bool {
        match self {
            Error::MasterChanged { .. } => true,
            Error::NotSent { reason } => reason.is_master_changed(),
            _ => false,
        }
    }

    /// The error behind this one, looking through [`Error::NotSent`].
    pub fn root(&self) -> &Error {
        match self {
            Error::NotSent { reason } => reason.root(),
            other => other,
        }
    }

    /// The I/O error behind this one, looking through [`Error::NotSent`]: for an unreachable
    /// server, the refused connection (`kind() == ConnectionRefused`), the timeout, and so on.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            Error::Io(e) => Some(e),
            Error::NotSent { reason } => reason.io_error(),
            _ => None,
        }
    }

    /// Whether authentication failed (`WRONGPASS`, `NOAUTH`, `NOPERM`).
    pub fn is_auth(&self) -> bool {
        matches!(
            self.code(),
            Some(ErrorCode::WrongPass | ErrorCode::NoAuth | ErrorCode::NoPerm)
        )
    }

    /// Whether the request certainly never reached the server, so sending it again cannot run
    /// it twice.
    pub fn is_not_sent(&self) -> bool {
        matches!(self, Error::NotSent { .. } | Error::Timeout { sent: false })
    }

    /// Whether the connection this error came from can no longer be used.
    pub fn is_connection_broken(&self) -> bool {
        match self {
            Error::Io(_) | Error::Protocol(_) | Error::Closed => true,
            Error::NotSent { reason } => reason.is_connection_broken(),
            _ => false,
        }
    }

    /// What the caller should do next.
    ///
    /// Server errors take the action of their code (see [`ErrorCode::action`]); a broken
    /// connection or a request that was never sent calls for reconnecting and retrying; an
    /// unsent timeout or a transaction conflict may succeed a little later; a timeout after
    /// sending, a bad reply type, a refused command or a bad configuration will not get better
    /// by retrying.
    pub fn retry_action(&self) -> RetryAction {
        match self {
            Error::Server(e) => e.action(),
            Error::NotSent { .. } | Error::Io(_) | Error::Protocol(_) | Error::Closed => {
                RetryAction::Reconnect
            }
            Error::Timeout { sent: false }
            | Error::Conflict { .. }
            | Error::SentinelsUnreachable { .. }
            | Error::NoMaster { .. }
            | Error::NoReplica { .. } => RetryAction::WaitAndRetry,
            Error::MasterChanged { .. } => RetryAction::Reconnect,
            Error::WrongRole { .. } => RetryAction::RefreshTopology,
            _ => RetryAction::GiveUp,
        }
    }

    /// The `MOVED`/`ASK` redirection carried by this error.
    pub fn redirect(&self) -> Option<Redirect> {
        self.server_error().and_then(ServerError::redirect)
    }

    pub(crate) fn io(e: std::io::Error) -> Error {
        Error::Io(Arc::new(e))
    }

    pub(crate) fn not_sent(reason: Error) -> Error {
        match reason {
            already @ Error::NotSent { .. } => already,
            reason => Error::NotSent {
                reason: Box::new(reason),
            },
        }
    }

    pub(crate) fn response(what: impl Into<String>) -> Error {
        Error::Response(what.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Server(e) => write!(f, "{e}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Timeout { sent: true } => f.write_str("request timed out (possibly executed)"),
            Error::Timeout { sent: false } => f.write_str("request timed out (not sent)"),
            Error::NotSent { reason } => write!(f, "request not sent: {reason}"),
            Error::Closed => f.write_str("connection closed"),
            Error::Response(e) => write!(f, "unexpected reply: {e}"),
            Error::Config(e) => write!(f, "invalid configuration: {e}"),
            Error::Pool(e) => write!(f, "pool error: {e}"),
            Error::NotAllowed(e) => write!(f, "not allowed here: {e}"),
            Error::Conflict { attempts } => write!(
                f,
                "transaction aborted: watched keys changed on each of {attempts} attempts"
            ),
            Error::SentinelsUnreachable { errors } => {
                f.write_str("no sentinel could be reached")?;
                for (i, (addr, e)) in errors.iter().enumerate() {
                    let sep = if i == 0 { ": " } else { "; " };
                    write!(f, "{sep}{addr}: {e}")?;
                }
                Ok(())
            }
            Error::MasterNotMonitored { name } => write!(
                f,
                "the sentinels monitor no master named '{name}' (check the master name)"
            ),
            Error::NoMaster { name, candidates } => {
                write!(f, "no reachable master for '{name}'")?;
                for (i, (addr, why)) in candidates.iter().enumerate() {
                    let sep = if i == 0 { ": " } else { "; " };
                    write!(f, "{sep}{addr} {why}")?;
                }
                Ok(())
            }
            Error::NoReplica { name } => {
                write!(f, "the sentinels know no usable replica of '{name}'")
            }
            Error::MasterChanged { from, to } => write!(
                f,
                "the master moved from {from} to {to} since this connection was opened"
            ),
            Error::WrongRole {
                addr,
                wanted,
                found,
            } => write!(f, "{addr} is a {found}, not a {wanted}"),
        }
    }
}

// Written out rather than derived: a derived `source()` would hand out the `Box<Error>` and
// the `Arc<io::Error>` themselves, which do not downcast to `Error` and `io::Error`.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::NotSent { reason } => Some(&**reason),
            Error::Io(e) => Some(&**e),
            Error::SentinelsUnreachable { errors } => errors
                .first()
                .map(|(_, e)| e as &(dyn std::error::Error + 'static)),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io(e)
    }
}

/// An error reply from the server: its code and its text.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerError {
    code: ErrorCode,
    line: Bytes,
}

impl ServerError {
    /// Wraps an error line as the server sent it (without the leading `-`).
    pub fn new(line: Bytes) -> Self {
        ServerError {
            code: ErrorCode::of(&line),
            line,
        }
    }

    /// The error code (the first word of the line).
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The whole error line, code included (`WRONGTYPE Operation against ...`).
    pub fn line(&self) -> &[u8] {
        &self.line
    }

    /// The text after the code (for an unknown code, the text after its first word).
    pub fn message(&self) -> String {
        let text = String::from_utf8_lossy(&self.line);
        match text.split_once(' ') {
            Some((_, rest)) => rest.to_string(),
            None => String::new(),
        }
    }

    /// What a client should do about this error.
    pub fn action(&self) -> RetryAction {
        self.code.action()
    }

    /// The `MOVED`/`ASK` redirection, for those codes.
    pub fn redirect(&self) -> Option<Redirect> {
        match self.code {
            ErrorCode::Moved | ErrorCode::Ask => Redirect::parse(&self.line),
            _ => None,
        }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.line))
    }
}

impl fmt::Debug for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerError")
            .field("code", &self.code)
            .field("line", &String::from_utf8_lossy(&self.line))
            .finish()
    }
}

impl std::error::Error for ServerError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_keep_code_and_action() {
        let e = Error::Server(ServerError::new(Bytes::from_static(
            b"MOVED 3999 127.0.0.1:6381",
        )));
        assert_eq!(e.code(), Some(ErrorCode::Moved));
        assert_eq!(e.retry_action(), RetryAction::FollowMoved);
        assert_eq!(e.redirect().unwrap().slot, 3999);
        assert_eq!(e.server_error().unwrap().message(), "3999 127.0.0.1:6381");
        let busy = Error::Server(ServerError::new(Bytes::from_static(b"LOADING x")));
        assert_eq!(busy.retry_action(), RetryAction::WaitAndRetry);
    }

    #[test]
    fn sources_lead_to_the_cause() {
        use std::error::Error as _;
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = Error::not_sent(Error::io(refused));
        let reason = e.source().unwrap().downcast_ref::<Error>().unwrap();
        assert_eq!(reason.kind(), ErrorKind::Io);
        let io = reason
            .source()
            .unwrap()
            .downcast_ref::<std::io::Error>()
            .unwrap();
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            e.io_error().unwrap().kind(),
            std::io::ErrorKind::ConnectionRefused
        );
        assert!(
            e.to_string().starts_with("request not sent: I/O error"),
            "{e}"
        );
        assert!(Error::Closed.source().is_none());
        assert_eq!(Error::Conflict { attempts: 3 }.kind(), ErrorKind::Conflict);
        assert!(Error::Conflict { attempts: 3 }.is_conflict());
    }

    #[test]
    fn sentinel_errors_say_what_to_do() {
        let from = NodeAddr::new("10.0.0.1", 6379);
        let to = NodeAddr::new("10.0.0.2", 6379);
        let changed = Error::not_sent(Error::MasterChanged {
            from: from.clone(),
            to: to.clone(),
        });
        assert!(changed.is_not_sent() && changed.is_master_changed());
        assert_eq!(changed.root().kind(), ErrorKind::MasterChanged);
        assert_eq!(changed.root().retry_action(), RetryAction::Reconnect);
        assert_eq!(
            changed.to_string(),
            "request not sent: the master moved from 10.0.0.1:6379 to 10.0.0.2:6379 since this \
             connection was opened"
        );
        let unreachable = Error::SentinelsUnreachable {
            errors: vec![(from.clone(), Error::Closed), (to.clone(), Error::Closed)],
        };
        assert_eq!(
            unreachable.to_string(),
            "no sentinel could be reached: 10.0.0.1:6379: connection closed; 10.0.0.2:6379: \
             connection closed"
        );
        assert_eq!(unreachable.retry_action(), RetryAction::WaitAndRetry);
        {
            use std::error::Error as _;
            assert!(unreachable.source().is_some());
        }
        let unknown = Error::MasterNotMonitored { name: "m".into() };
        assert_eq!(unknown.kind(), ErrorKind::MasterNotMonitored);
        assert_eq!(unknown.retry_action(), RetryAction::GiveUp);
        let none = Error::NoMaster {
            name: "m".into(),
            candidates: vec![(to, "reports role slave".into())],
        };
        assert_eq!(
            none.to_string(),
            "no reachable master for 'm': 10.0.0.2:6379 reports role slave"
        );
        let wrong = Error::WrongRole {
            addr: from,
            wanted: "master",
            found: "slave".into(),
        };
        assert_eq!(wrong.to_string(), "10.0.0.1:6379 is a slave, not a master");
        assert_eq!(wrong.retry_action(), RetryAction::RefreshTopology);
        assert!(!Error::Closed.is_master_changed());
    }

    #[test]
    fn not_sent_is_retry_safe_and_not_nested() {
        let e = Error::not_sent(Error::not_sent(Error::Closed));
        assert!(e.is_not_sent());
        assert!(e.is_connection_broken());
        assert_eq!(e.kind(), ErrorKind::NotSent);
        assert!(matches!(&e, Error::NotSent { reason } if matches!(**reason, Error::Closed)));
        assert!(!Error::Timeout { sent: true }.is_not_sent());
        assert!(Error::Timeout { sent: false }.is_not_sent());
    }
}
