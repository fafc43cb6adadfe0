//! Opening a socket and the handshake: `HELLO 3` (RESP2 fallback), `AUTH`, `SELECT`,
//! `CLIENT SETNAME`.
//!
//! The handshake runs on the raw stream before any driver or subscriber takes it over, one
//! command at a time (it is rare, and each step depends on the previous answer).

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::cmd::Cmd;
use crate::config::{Config, Protocol};
use crate::error::{Error, ServerError};
use crate::error_codes::ErrorCode;
use crate::resp::{decode, Frame, Limits};

/// Sends one command and reads its reply, skipping push frames. Leftover bytes stay in `rbuf`.
pub(crate) async fn roundtrip<S>(
    stream: &mut S,
    rbuf: &mut BytesMut,
    cmd: &Cmd,
) -> Result<Frame, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut out = BytesMut::new();
    cmd.encode(&mut out);
    stream.write_all(&out).await.map_err(Error::io)?;
    loop {
        match read_frame(stream, rbuf).await? {
            Frame::Push(_) => continue,
            frame => return Ok(frame),
        }
    }
}

/// Reads one whole frame from `stream`, buffering in `rbuf`.
pub(crate) async fn read_frame<S>(stream: &mut S, rbuf: &mut BytesMut) -> Result<Frame, Error>
where
    S: AsyncRead + Unpin,
{
    let limits = Limits::default();
    loop {
        match decode(rbuf, &limits) {
            Ok(Some(frame)) => return Ok(frame),
            Ok(None) => {}
            Err(e) => return Err(Error::Protocol(e.message().to_string())),
        }
        rbuf.reserve(16 * 1024);
        let n = stream.read_buf(rbuf).await.map_err(Error::io)?;
        if n == 0 {
            return Err(Error::io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            )));
        }
    }
}

fn check(frame: Frame) -> Result<Frame, Error> {
    match frame {
        Frame::Error(line) | Frame::BulkError(line) => Err(Error::Server(ServerError::new(line))),
        other => Ok(other),
    }
}

/// A `NOAUTH` refusal of a handshake that sent no password. The server's own text may be about
/// `HELLO`, a command the user never sent; this says what to do instead (the code stays
/// `NOAUTH`, so [`Error::is_auth`] and [`Error::code`] are unchanged).
fn password_required(e: Error, config: &Config) -> Error {
    if e.code() != Some(ErrorCode::NoAuth) || config.get_password().is_some() {
        return e;
    }
    let line = format!(
        "{} The server at {} needs a password and none is configured: \
         set Config::password (and Config::username for an ACL user) or use \
         redis://[user]:password@host",
        crate::error_codes::msg::NOAUTH,
        config.addr()
    );
    Error::Server(ServerError::new(line.into()))
}

/// `HELLO 3`, with `AUTH` and `SETNAME` when configured.
fn hello(config: &Config) -> Cmd {
    let mut hello = Cmd::new("HELLO").arg("3");
    if let Some(pass) = config.get_password() {
        hello = hello
            .arg("AUTH")
            .arg(config.get_username().unwrap_or("default"))
            .arg(pass);
    }
    if let Some(name) = config.get_client_name() {
        hello = hello.arg("SETNAME").arg(name);
    }
    hello
}

/// `AUTH [user] pass`, when a password is configured.
fn auth(config: &Config) -> Option<Cmd> {
    let pass = config.get_password()?;
    Some(match config.get_username() {
        Some(user) => Cmd::new("AUTH").arg(user).arg(pass),
        None => Cmd::new("AUTH").arg(pass),
    })
}

/// `CLIENT SETNAME name`, when a name is configured.
fn setname(config: &Config) -> Option<Cmd> {
    let name = config.get_client_name()?;
    Some(Cmd::new("CLIENT").arg("SETNAME").arg(name))
}

/// `SELECT db`, unless the database is 0 (or `always`).
fn select(config: &Config, always: bool) -> Option<Cmd> {
    (always || config.database() != 0).then(|| Cmd::new("SELECT").arg(config.database()))
}

/// The commands that bring a connection from its state after `RESET` (not authenticated
/// unless the default user needs no password, RESP2, no name, database 0) back to what
/// `config` asks for, in the protocol the connection negotiated.
pub(crate) fn restore(config: &Config, resp3: bool) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    if resp3 {
        cmds.push(hello(config));
    } else {
        cmds.extend(auth(config));
        cmds.extend(setname(config));
    }
    cmds.extend(select(config, false));
    cmds
}

/// Without `RESET` (servers before 6.2), what can be put back: leave any `MULTI`, forget
/// `WATCH`es, select the configured database again.
pub(crate) fn restore_without_reset(config: &Config) -> Vec<Cmd> {
    let mut cmds = vec![Cmd::new("DISCARD"), Cmd::new("UNWATCH")];
    cmds.extend(select(config, true));
    cmds
}

/// Runs the handshake and returns whether the connection speaks RESP3.
pub(crate) async fn handshake<S>(
    stream: &mut S,
    rbuf: &mut BytesMut,
    config: &Config,
) -> Result<bool, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut resp3 = false;
    let mut authed = false;
    let mut named = false;
    if config.get_protocol() == Protocol::Resp3 {
        match check(roundtrip(stream, rbuf, &hello(config)).await?) {
            Ok(_) => {
                resp3 = true;
                authed = true;
                named = true;
            }
            // Bad credentials fail the same way under AUTH: report them now.
            Err(e) if e.is_auth() && config.get_password().is_some() => return Err(e),
            Err(e) if e.code() == Some(ErrorCode::NoAuth) => {
                return Err(password_required(e, config))
            }
            Err(e) => {
                tracing::debug!(target: "rediscover::conn", error = %e, "HELLO refused, using RESP2");
            }
        }
    }
    if !authed {
        if let Some(auth) = auth(config) {
            check(roundtrip(stream, rbuf, &auth).await?)?;
        }
    }
    if !named {
        if let Some(setname) = setname(config) {
            check(roundtrip(stream, rbuf, &setname).await?)
                .map_err(|e| password_required(e, config))?;
        }
    }
    if let Some(select) = select(config, false) {
        check(roundtrip(stream, rbuf, &select).await?).map_err(|e| password_required(e, config))?;
    }
    Ok(resp3)
}
