//! The byte stream under a connection: plain TCP, or TLS over TCP (`rediss://`, with the
//! `tls` feature).

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::Config;
use crate::error::Error;

/// A connected stream.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Opens a TCP connection to `config`'s address (and TLS over it for `rediss://`).
pub(crate) async fn open(config: &Config) -> Result<Stream, Error> {
    config.validate()?;
    if config.is_tls() && cfg!(not(feature = "tls")) {
        // Say so before trying to reach the server.
        return tls_unavailable();
    }
    let addr = (config.get_host(), config.get_port());
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| Error::not_sent(Error::io(e)))?;
    // Small requests go out as soon as they are written: the driver already batches.
    tcp.set_nodelay(true).map_err(Error::io)?;
    if !config.is_tls() {
        return Ok(Stream::Tcp(tcp));
    }
    tls(config, tcp).await
}

impl Stream {
    /// The server's address.
    pub(crate) fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        match self {
            Stream::Tcp(s) => s.peer_addr(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.get_ref().0.peer_addr(),
        }
    }
}

#[cfg(not(feature = "tls"))]
async fn tls(_config: &Config, _tcp: TcpStream) -> Result<Stream, Error> {
    tls_unavailable()
}

fn tls_unavailable() -> Result<Stream, Error> {
    Err(Error::Config(
        "rediss:// needs rediscover's `tls` feature".into(),
    ))
}

#[cfg(feature = "tls")]
async fn tls(config: &Config, tcp: TcpStream) -> Result<Stream, Error> {
    use std::sync::Arc;
    use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for pem in config.tls_roots() {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::Config(format!("bad root certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::Config(format!("bad root certificate: {e}")))?;
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let client_config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(config.get_host().to_string())
        .map_err(|e| Error::Config(format!("TLS server name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| Error::not_sent(Error::io(e)))?;
    Ok(Stream::Tls(Box::new(stream)))
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
