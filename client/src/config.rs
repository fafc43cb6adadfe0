//! Connection settings: a builder, and `redis://` / `rediss://` URLs.

use std::str::FromStr;
use std::time::Duration;

use crate::error::Error;

/// Which RESP version to ask the server for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// `HELLO 3`, falling back to RESP2 when the server refuses `HELLO`.
    #[default]
    Resp3,
    /// Plain RESP2, no `HELLO`.
    Resp2,
}

/// Everything needed to open and keep a connection.
///
/// Built with setters (`mut self -> Self`) or parsed from a URL; each setting has a getter
/// (`get_...`). The defaults:
///
/// | setting | default | what it does |
/// | --- | --- | --- |
/// | [`host`](Config::host) / [`port`](Config::port) | `127.0.0.1:6379` | where to connect |
/// | [`tls`](Config::tls) | off (`rediss://` turns it on) | TLS, with the `tls` feature |
/// | [`username`](Config::username) / [`password`](Config::password) | none | `AUTH` (user `default` when only a password is set) |
/// | [`db`](Config::db) | `0` | database `SELECT`ed on every connection |
/// | [`client_name`](Config::client_name) | none | `CLIENT SETNAME` |
/// | [`protocol`](Config::protocol) | RESP3 | `HELLO 3`, falling back to RESP2 |
/// | [`connect_timeout`](Config::connect_timeout) | 5 s | TCP connect + TLS + handshake, per attempt |
/// | [`request_timeout`](Config::request_timeout) | 30 s | one deadline per request, reconnects and retries included |
/// | [`backoff`](Config::backoff) | 10 ms to 2 s | delay between reconnect attempts (doubling, jittered) |
/// | [`max_retries`](Config::max_retries) | 3 | reconnect attempts after the first, and resends of a request that was not sent |
/// | [`queue_capacity`](Config::queue_capacity) | 4096 | requests queued or awaiting replies per connection |
/// | [`dedicated_connections`](Config::dedicated_connections) | 8 | connections a [`Client`](crate::Client) keeps for blocking commands and transactions |
/// | [`transaction_retries`](Config::transaction_retries) | 16 | retries of [`Client::transaction`](crate::Client::transaction) after a `WATCH` conflict |
///
/// With the defaults, a request to a server that is down fails after four connection
/// attempts spread over about 35–70 ms, with the last connection error as its cause; see
/// [`Config::max_retries`].
///
/// ```
/// use std::time::Duration;
/// use rediscover::Config;
///
/// let config: Config = "redis://alice:s3cret@cache.local:6380/2".parse().unwrap();
/// assert_eq!(config.addr(), "cache.local:6380");
/// assert_eq!(config.database(), 2);
///
/// let config = Config::default()
///     .host("127.0.0.1")
///     .port(6379)
///     .password("s3cret")
///     .request_timeout(Some(Duration::from_millis(500)));
/// assert_eq!(config.addr(), "127.0.0.1:6379");
/// ```
#[derive(Clone)]
pub struct Config {
    host: String,
    port: u16,
    tls: bool,
    tls_roots: Vec<Vec<u8>>,
    username: Option<String>,
    password: Option<String>,
    db: i64,
    client_name: Option<String>,
    protocol: Protocol,
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
    backoff_min: Duration,
    backoff_max: Duration,
    max_retries: u32,
    queue_capacity: usize,
    dedicated_connections: usize,
    transaction_retries: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 6379,
            tls: false,
            tls_roots: Vec::new(),
            username: None,
            password: None,
            db: 0,
            client_name: None,
            protocol: Protocol::Resp3,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Some(Duration::from_secs(30)),
            backoff_min: Duration::from_millis(10),
            backoff_max: Duration::from_secs(2),
            max_retries: 3,
            queue_capacity: 4096,
            dedicated_connections: 8,
            transaction_retries: 16,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("db", &self.db)
            .field("client_name", &self.client_name)
            .field("protocol", &self.protocol)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("backoff", &(self.backoff_min, self.backoff_max))
            .field("max_retries", &self.max_retries)
            .field("queue_capacity", &self.queue_capacity)
            .field("dedicated_connections", &self.dedicated_connections)
            .field("transaction_retries", &self.transaction_retries)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Parses a `redis://` or `rediss://` URL (same as `url.parse()`).
    pub fn from_url(url: &str) -> Result<Config, Error> {
        url.parse()
    }

    /// Server host name or IP address. Default: `127.0.0.1`.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Server port. Default: `6379`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Whether to use TLS (`rediss://`; needs the `tls` feature). Default: no.
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Trusts the certificates in `pem` (PEM text) as roots for TLS, besides the webpki
    /// roots: for servers with a private CA or a self-signed certificate.
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_roots.push(pem.into());
        self
    }

    /// ACL user name (`HELLO ... AUTH user pass` or `AUTH user pass`). Default: none.
    pub fn username(mut self, user: impl Into<String>) -> Self {
        self.username = Some(user.into());
        self
    }

    /// Password (for the `default` user when no user name is set). Default: none; a server
    /// that needs one then refuses the connection with a `NOAUTH` error saying so.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Database index to `SELECT` after connecting. Default: `0`.
    ///
    /// Every connection a client opens uses it; `SELECT` itself is refused on a shared
    /// [`Client`](crate::Client), since it would change the database of every caller.
    pub fn db(mut self, db: i64) -> Self {
        self.db = db;
        self
    }

    /// Connection name (`CLIENT SETNAME`). Default: none.
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    /// RESP version to negotiate. Default: [`Protocol::Resp3`] (with a RESP2 fallback).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Time allowed for one connection attempt: TCP connect, TLS and the handshake.
    /// Default: 5 s. Also how long [`Pool::get`](crate::Pool::get) and a client's dedicated
    /// connections wait for a free connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Deadline for each request, covering queueing, reconnects and retries (`None`: none).
    /// Default: 30 s.
    ///
    /// It is an upper bound: a request to an unreachable server fails sooner, once the
    /// reconnect attempts ([`max_retries`](Config::max_retries)) are spent. A blocking command
    /// sent through a [`Client`](crate::Client) gets its own timeout on top (`BLPOP k 5` may
    /// take 5 s longer; `BLPOP k 0` has no deadline).
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Reconnect backoff: the first delay and the cap. Default: 10 ms and 2 s.
    ///
    /// The delay before the n-th retry is `min * 2^(n-1)`, capped at `max`, of which a random
    /// half is taken off ("equal jitter"), so that many clients do not reconnect in lockstep.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max.max(min);
        self
    }

    /// Retries after a failure. Default: 3.
    ///
    /// When a [`Client`](crate::Client)'s connection is down, a request waits for at most
    /// `1 + max_retries` connection attempts (with [`backoff`](Config::backoff) between them),
    /// shared with every other request waiting at the time; when they all fail it fails with
    /// [`Error::NotSent`] carrying the last connection error (refused, DNS, TLS, ...) as its
    /// `source()`. A request that was certainly not sent is also resent up to `max_retries`
    /// times. Bad credentials are reported at once, never retried. Raise it (with a
    /// [`request_timeout`](Config::request_timeout) as the bound) for requests that should
    /// ride out a longer outage.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Capacity of the request queue in front of each connection, and how many requests may
    /// await replies on it (the backpressure bound). Default: 4096.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n.max(1);
        self
    }

    /// How many dedicated connections a [`Client`](crate::Client) may open for blocking
    /// commands (`BLPOP`, `XREAD ... BLOCK`, `WAIT`, ...) and
    /// [`transactions`](crate::Client::transaction), so that they never hold up the shared
    /// connection. Default: 8. Idle ones are kept for reuse. When all are busy, a new blocking
    /// call waits up to the [`connect_timeout`](Config::connect_timeout) for one, then fails
    /// with [`Error::Pool`]. `0` refuses blocking commands on a shared client.
    pub fn dedicated_connections(mut self, n: usize) -> Self {
        self.dedicated_connections = n;
        self
    }

    /// How many times [`Client::transaction`](crate::Client::transaction) starts over after a
    /// `WATCH`ed key changed before giving up with [`Error::Conflict`]. Default: 16.
    pub fn transaction_retries(mut self, n: u32) -> Self {
        self.transaction_retries = n;
        self
    }

    /// Checks the settings that cannot work (an empty host, port 0, a zero connect timeout).
    /// Connecting calls it, so errors surface before any network traffic.
    pub fn validate(&self) -> Result<(), Error> {
        if self.host.is_empty() {
            return Err(Error::Config("empty host".into()));
        }
        if self.port == 0 {
            return Err(Error::Config("port 0".into()));
        }
        if self.connect_timeout.is_zero() {
            return Err(Error::Config("zero connect timeout".into()));
        }
        if self.request_timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::Config(
                "zero request timeout (use None for no deadline)".into(),
            ));
        }
        Ok(())
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The server host. See [`Config::host`].
    pub fn get_host(&self) -> &str {
        &self.host
    }

    /// The server port. See [`Config::port`].
    pub fn get_port(&self) -> u16 {
        self.port
    }

    /// Whether TLS is requested (`rediss://`). See [`Config::tls`].
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn tls_roots(&self) -> &[Vec<u8>] {
        &self.tls_roots
    }

    /// The ACL user name. See [`Config::username`].
    pub fn get_username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The password. See [`Config::password`].
    pub fn get_password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The database index selected after connecting. See [`Config::db`].
    pub fn database(&self) -> i64 {
        self.db
    }

    /// The connection name. See [`Config::client_name`].
    pub fn get_client_name(&self) -> Option<&str> {
        self.client_name.as_deref()
    }

    /// The protocol asked for. See [`Config::protocol`].
    pub fn get_protocol(&self) -> Protocol {
        self.protocol
    }

    /// The time allowed for one connection attempt. See [`Config::connect_timeout`].
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The deadline of each request. See [`Config::request_timeout`].
    pub fn get_request_timeout(&self) -> Option<Duration> {
        self.request_timeout
    }

    /// The first and the largest reconnect delay. See [`Config::backoff`].
    pub fn get_backoff(&self) -> (Duration, Duration) {
        (self.backoff_min, self.backoff_max)
    }

    /// Retries after a failure. See [`Config::max_retries`].
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The request queue's capacity. See [`Config::queue_capacity`].
    pub fn get_queue_capacity(&self) -> usize {
        self.queue_capacity
    }

    /// Dedicated connections for blocking commands. See [`Config::dedicated_connections`].
    pub fn get_dedicated_connections(&self) -> usize {
        self.dedicated_connections
    }

    /// Retries of a transaction after a `WATCH` conflict. See
    /// [`Config::transaction_retries`].
    pub fn get_transaction_retries(&self) -> u32 {
        self.transaction_retries
    }
}

impl FromStr for Config {
    type Err = Error;

    /// `redis://[[user]:password@]host[:port][/db]`, `rediss://` for TLS. IPv6 hosts go in
    /// brackets; user and password may be percent-encoded. Query parameters `protocol=resp2`
    /// and `name=<client name>` are understood.
    fn from_str(url: &str) -> Result<Config, Error> {
        let bad = |why: &str| Error::Config(format!("{why} in URL"));
        let (tls, rest) = if let Some(r) = url.strip_prefix("redis://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("rediss://") {
            (true, r)
        } else {
            return Err(bad("scheme must be redis:// or rediss://"));
        };
        let mut config = Config::default().tls(tls);
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let hostport = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => {
                let (user, pass) = match userinfo.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (userinfo, None),
                };
                if !user.is_empty() {
                    config.username = Some(percent_decode(user).ok_or_else(|| bad("bad user"))?);
                }
                if let Some(p) = pass.filter(|p| !p.is_empty()) {
                    config.password = Some(percent_decode(p).ok_or_else(|| bad("bad password"))?);
                }
                hostport
            }
            None => authority,
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if !host.is_empty() {
            config.host = host.to_string();
        }
        if let Some(p) = port.filter(|p| !p.is_empty()) {
            config.port = p.parse().map_err(|_| bad("bad port"))?;
        }
        if !path.is_empty() {
            config.db = path.parse().map_err(|_| bad("bad database number"))?;
        }
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("protocol", "resp2")) => config.protocol = Protocol::Resp2,
                Some(("protocol", "resp3")) => config.protocol = Protocol::Resp3,
                Some(("name", n)) => {
                    config.client_name = Some(percent_decode(n).ok_or_else(|| bad("bad name"))?)
                }
                _ => return Err(bad(&format!("unknown parameter '{pair}'"))),
            }
        }
        Ok(config)
    }
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let c: Config = "redis://localhost".parse().unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.db, c.tls),
            ("localhost", 6379, 0, false)
        );
        let c: Config = "rediss://u%40x:p%3Aw@[::1]:7000/3?protocol=resp2&name=app"
            .parse()
            .unwrap();
        assert_eq!(c.host, "::1");
        assert_eq!(c.port, 7000);
        assert_eq!(c.db, 3);
        assert!(c.tls);
        assert_eq!(c.username.as_deref(), Some("u@x"));
        assert_eq!(c.password.as_deref(), Some("p:w"));
        assert_eq!(c.protocol, Protocol::Resp2);
        assert_eq!(c.client_name.as_deref(), Some("app"));
        assert_eq!(c.addr(), "[::1]:7000");
        let c: Config = "redis://:secret@h:1".parse().unwrap();
        assert_eq!(
            (c.username.as_deref(), c.password.as_deref()),
            (None, Some("secret"))
        );
        assert!(!format!("{c:?}").contains("secret"));
        assert!(Config::default().validate().is_ok());
        assert!(Config::default().port(0).validate().is_err());
        assert!(Config::default().host("").validate().is_err());
        assert!(Config::default()
            .request_timeout(Some(std::time::Duration::ZERO))
            .validate()
            .is_err());
        for bad in [
            "http://x",
            "redis://h:notaport",
            "redis://h/x",
            "redis://h?what=1",
            "redis://[::1",
        ] {
            let e = bad.parse::<Config>().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{bad}");
        }
    }
}
