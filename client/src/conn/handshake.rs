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
    if config.proto() == Protocol::Resp3 {
        let mut hello = Cmd::new("HELLO").arg("3");
        if let Some(pass) = config.pass() {
            hello = hello
                .arg("AUTH")
                .arg(config.user().unwrap_or("default"))
                .arg(pass);
        }
        if let Some(name) = config.name() {
            hello = hello.arg("SETNAME").arg(name);
        }
        match check(roundtrip(stream, rbuf, &hello).await?) {
            Ok(_) => {
                resp3 = true;
                authed = true;
                named = true;
            }
            // Bad credentials fail the same way under AUTH: report them now.
            Err(e) if e.is_auth() && config.pass().is_some() => return Err(e),
            Err(e) if e.code() == Some(ErrorCode::NoAuth) => return Err(e),
            Err(e) => {
                tracing::debug!(target: "rediscover::conn", error = %e, "HELLO refused, using RESP2");
            }
        }
    }
    if !authed {
        if let Some(pass) = config.pass() {
            let auth = match config.user() {
                Some(user) => Cmd::new("AUTH").arg(user).arg(pass),
                None => Cmd::new("AUTH").arg(pass),
            };
            check(roundtrip(stream, rbuf, &auth).await?)?;
        }
    }
    if !named {
        if let Some(name) = config.name() {
            let setname = Cmd::new("CLIENT").arg("SETNAME").arg(name);
            check(roundtrip(stream, rbuf, &setname).await?)?;
        }
    }
    if config.database() != 0 {
        let select = Cmd::new("SELECT").arg(config.database());
        check(roundtrip(stream, rbuf, &select).await?)?;
    }
    Ok(resp3)
}
