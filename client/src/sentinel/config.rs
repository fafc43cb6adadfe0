//! [`SentinelConfig`]: where the sentinels are, which master, and how to talk to each side;
//! from code or from a `redis+sentinel://` URL.

use std::str::FromStr;
use std::time::Duration;

use super::{NodeAddr, DEFAULT_SENTINEL_PORT};
use crate::config::{percent_decode, Config, Protocol};
use crate::error::{Error, Result};

/// Which servers of the group a handle talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Role {
    /// The master: reads and writes. The default.
    #[default]
    Master,
    /// The replicas (reads only), balanced round-robin. Fails with
    /// [`Error::NoReplica`] when the sentinels know no usable replica.
    Replica,
    /// The replicas, or the master when there is no usable replica.
    PreferReplica,
}

/// How to find a master through Sentinel, and how to talk to it.
///
/// Two [`Config`]s are kept apart: the **data nodes'** (credentials, database, TLS, protocol,
/// client name, and the policy: timeouts, backoff, retries, dedicated connections; its host and
/// port are ignored) and the **sentinels'** (their own credentials and TLS; by default none,
/// since an `AUTH` to a sentinel without a password fails).
///
/// | setting | default | what it does |
/// | --- | --- | --- |
/// | [`node`](SentinelConfig::node) | `Config::default()` | data nodes: credentials, db, TLS, timeouts |
/// | [`sentinel_config`](SentinelConfig::sentinel_config) | `Config::default()` | sentinels: credentials, TLS |
/// | [`role`](SentinelConfig::role) | [`Role::Master`] | master, or replicas for reads |
/// | [`sentinel_timeout`](SentinelConfig::sentinel_timeout) | 500 ms | per sentinel query and per `ROLE` check |
/// | [`recheck_interval`](SentinelConfig::recheck_interval) | 15 s (± 20 %) | periodic re-check of the master |
/// | [`listen`](SentinelConfig::listen) | on | subscribe to the sentinels' events |
/// | [`pool_size`](SentinelConfig::pool_size) | 16 | connections of a [`SentinelPool`](super::SentinelPool) |
///
/// ```
/// use std::time::Duration;
/// use rediscover::{Config, SentinelConfig};
/// use rediscover::sentinel::Role;
///
/// // The URL form: data-node credentials in the user info, sentinel ones as parameters.
/// let config: SentinelConfig =
///     "redis+sentinel://app:s3cret@s1:26379,s2,s3:26380/mymaster/2?sentinel_password=sp"
///         .parse()
///         .unwrap();
/// assert_eq!(config.master_name(), "mymaster");
/// assert_eq!(config.sentinels().len(), 3);
/// assert_eq!(config.node_config().database(), 2);
///
/// // The same in code.
/// let config = SentinelConfig::new("mymaster", [("s1", 26379), ("s2", 26379), ("s3", 26380)])
///     .node(Config::default().username("app").password("s3cret").db(2))
///     .sentinel_password("sp")
///     .role(Role::Master)
///     .sentinel_timeout(Duration::from_millis(300));
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone)]
pub struct SentinelConfig {
    master_name: String,
    sentinels: Vec<NodeAddr>,
    node: Config,
    sentinel: Config,
    role: Role,
    sentinel_timeout: Duration,
    recheck_interval: Option<Duration>,
    listen: bool,
    pool_size: usize,
}

impl std::fmt::Debug for SentinelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelConfig")
            .field("master_name", &self.master_name)
            .field("sentinels", &self.sentinels)
            .field("node", &self.node)
            .field("sentinel", &self.sentinel)
            .field("role", &self.role)
            .field("sentinel_timeout", &self.sentinel_timeout)
            .field("recheck_interval", &self.recheck_interval)
            .field("listen", &self.listen)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

impl SentinelConfig {
    /// The master called `master_name`, found through the sentinels at `sentinels`
    /// (more are learned from them). Anything that converts into a [`NodeAddr`] works:
    /// `SocketAddr`, `(&str, u16)`, or a parsed `"host:port"`.
    pub fn new<A: Into<NodeAddr>>(
        master_name: impl Into<String>,
        sentinels: impl IntoIterator<Item = A>,
    ) -> SentinelConfig {
        SentinelConfig {
            master_name: master_name.into(),
            sentinels: sentinels.into_iter().map(Into::into).collect(),
            node: Config::default(),
            sentinel: Config::default(),
            role: Role::Master,
            sentinel_timeout: Duration::from_millis(500),
            recheck_interval: Some(Duration::from_secs(15)),
            listen: true,
            pool_size: 16,
        }
    }

    /// Parses a `redis+sentinel://` URL (same as `url.parse()`):
    ///
    /// `redis+sentinel://[user:password@]host1[:port1][,host2[:port2]...]/<master>[/<db>][?...]`
    ///
    /// `rediss+sentinel://` uses TLS for the data nodes and the sentinels. Ports default to
    /// 26379; IPv6 hosts go in brackets; the user info is the **data nodes'** credentials.
    /// Parameters: `sentinel_username`, `sentinel_password`, `sentinel_tls=true|false`,
    /// `role=master|replica|prefer-replica`, `protocol=resp2|resp3`, `name=<client name>`,
    /// `sentinel_timeout_ms`. Others are refused.
    pub fn from_url(url: &str) -> Result<SentinelConfig> {
        url.parse()
    }

    /// The data nodes' configuration: credentials, database, TLS, protocol, client name, and
    /// the policy (connect and request timeouts, backoff, retries, dedicated connections).
    /// Its host and port are ignored: the sentinels give them.
    pub fn node(mut self, config: Config) -> Self {
        self.node = config;
        self
    }

    /// The sentinels' configuration: credentials, TLS, protocol. Its host and port are
    /// ignored, and its connect timeout is capped at the
    /// [`sentinel_timeout`](Self::sentinel_timeout).
    pub fn sentinel_config(mut self, config: Config) -> Self {
        self.sentinel = config;
        self
    }

    /// The password for the sentinels (`requirepass` or `sentinel-pass` on their side).
    pub fn sentinel_password(mut self, password: impl Into<String>) -> Self {
        self.sentinel = self.sentinel.password(password);
        self
    }

    /// The ACL user for the sentinels.
    pub fn sentinel_username(mut self, user: impl Into<String>) -> Self {
        self.sentinel = self.sentinel.username(user);
        self
    }

    /// Whether to use TLS to the sentinels (a `rediss+sentinel://` URL turns it on).
    pub fn sentinel_tls(mut self, tls: bool) -> Self {
        self.sentinel = self.sentinel.tls(tls);
        self
    }

    /// Master or replicas. Default: [`Role::Master`].
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// How long one sentinel may take to answer (connection included), and one `ROLE`
    /// check. Default: 500 ms. A discovery asks every sentinel at once, and does not wait for
    /// stragglers once most have answered.
    pub fn sentinel_timeout(mut self, timeout: Duration) -> Self {
        self.sentinel_timeout = timeout;
        self
    }

    /// How often the sentinels are asked again even when nothing happened, the safety net for
    /// missed events (`None`: never). Default: 15 s, each wait jittered by up to 20 %. Each
    /// re-check is one round trip to every sentinel and a short connection to the master for
    /// `ROLE`.
    pub fn recheck_interval(mut self, interval: Option<Duration>) -> Self {
        self.recheck_interval = interval;
        self
    }

    /// Whether to keep a subscriber connection to each sentinel for its events
    /// (`+switch-master` and the like). Default: on. Without it, failovers are found when a
    /// connection fails, on `READONLY`, or at the periodic re-check.
    pub fn listen(mut self, listen: bool) -> Self {
        self.listen = listen;
        self
    }

    /// The most connections a [`SentinelPool`](super::SentinelPool) opens. Default: 16.
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }

    /// Adds a sentinel address.
    pub fn add_sentinel(mut self, addr: impl Into<NodeAddr>) -> Self {
        self.sentinels.push(addr.into());
        self
    }

    /// The master's name.
    pub fn master_name(&self) -> &str {
        &self.master_name
    }

    /// The configured sentinels.
    pub fn sentinels(&self) -> &[NodeAddr] {
        &self.sentinels
    }

    /// The data nodes' configuration. See [`SentinelConfig::node`].
    pub fn node_config(&self) -> &Config {
        &self.node
    }

    /// The sentinels' configuration. See [`SentinelConfig::sentinel_config`].
    pub fn get_sentinel_config(&self) -> &Config {
        &self.sentinel
    }

    /// The role. See [`SentinelConfig::role`].
    pub fn get_role(&self) -> Role {
        self.role
    }

    /// See [`SentinelConfig::sentinel_timeout`].
    pub fn get_sentinel_timeout(&self) -> Duration {
        self.sentinel_timeout
    }

    /// See [`SentinelConfig::recheck_interval`].
    pub fn get_recheck_interval(&self) -> Option<Duration> {
        self.recheck_interval
    }

    /// See [`SentinelConfig::listen`].
    pub fn is_listening(&self) -> bool {
        self.listen
    }

    /// See [`SentinelConfig::pool_size`].
    pub fn get_pool_size(&self) -> usize {
        self.pool_size
    }

    /// Checks what cannot work: no master name, no sentinel, a zero timeout, a bad data-node
    /// or sentinel configuration. Connecting calls it.
    pub fn validate(&self) -> Result<()> {
        if self.master_name.is_empty() {
            return Err(Error::Config("empty master name".into()));
        }
        if self.sentinels.is_empty() {
            return Err(Error::Config("no sentinel address".into()));
        }
        if self.sentinel_timeout.is_zero() {
            return Err(Error::Config("zero sentinel timeout".into()));
        }
        if self.recheck_interval.is_some_and(|d| d.is_zero()) {
            return Err(Error::Config(
                "zero recheck interval (use None for none)".into(),
            ));
        }
        self.node.validate()?;
        self.sentinel.validate()
    }

    /// The configuration to reach the sentinel at `addr`.
    pub(crate) fn sentinel_at(&self, addr: &NodeAddr) -> Config {
        let timeout = self
            .sentinel
            .get_connect_timeout()
            .min(self.sentinel_timeout);
        addr.config(&self.sentinel)
            .connect_timeout(timeout)
            .request_timeout(Some(self.sentinel_timeout))
            .dedicated_connections(0)
    }
}

impl FromStr for SentinelConfig {
    type Err = Error;

    fn from_str(url: &str) -> Result<SentinelConfig> {
        let bad = |why: &str| Error::Config(format!("{why} in Sentinel URL"));
        let (tls, rest) = if let Some(r) = url.strip_prefix("redis+sentinel://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("rediss+sentinel://") {
            (true, r)
        } else {
            return Err(bad(
                "scheme must be redis+sentinel:// or rediss+sentinel://",
            ));
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, q),
            None => (rest, ""),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut node = Config::default().tls(tls);
        let hosts = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => {
                let (user, pass) = match userinfo.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (userinfo, None),
                };
                if !user.is_empty() {
                    node = node.username(percent_decode(user).ok_or_else(|| bad("bad user"))?);
                }
                if let Some(p) = pass.filter(|p| !p.is_empty()) {
                    node = node.password(percent_decode(p).ok_or_else(|| bad("bad password"))?);
                }
                hosts
            }
            None => authority,
        };
        let sentinels = hosts
            .split(',')
            .map(|h| NodeAddr::parse(h, DEFAULT_SENTINEL_PORT))
            .collect::<Result<Vec<_>>>()?;
        let mut parts = path.split('/');
        let name = parts.next().unwrap_or_default();
        if name.is_empty() {
            return Err(bad("no master name (redis+sentinel://hosts/<master>)"));
        }
        let name = percent_decode(name).ok_or_else(|| bad("bad master name"))?;
        match parts.next() {
            Some(db) if !db.is_empty() => {
                node = node.db(db.parse().map_err(|_| bad("bad database number"))?)
            }
            _ => {}
        }
        if parts.next().is_some() {
            return Err(bad("too many path segments"));
        }
        let mut config = SentinelConfig::new(name, sentinels).sentinel_tls(tls);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).ok_or_else(|| bad("bad parameter value"))?;
            match key {
                "sentinel_username" => config = config.sentinel_username(value),
                "sentinel_password" => config = config.sentinel_password(value),
                "sentinel_tls" => match value.as_str() {
                    "true" | "yes" | "1" => config = config.sentinel_tls(true),
                    "false" | "no" | "0" => config = config.sentinel_tls(false),
                    _ => return Err(bad("sentinel_tls must be true or false")),
                },
                "role" => {
                    config.role = match value.as_str() {
                        "master" | "primary" => Role::Master,
                        "replica" | "slave" => Role::Replica,
                        "prefer-replica" | "prefer_replica" => Role::PreferReplica,
                        _ => return Err(bad("role must be master, replica or prefer-replica")),
                    }
                }
                "protocol" => {
                    let protocol = match value.as_str() {
                        "resp2" => Protocol::Resp2,
                        "resp3" => Protocol::Resp3,
                        _ => return Err(bad("protocol must be resp2 or resp3")),
                    };
                    node = node.protocol(protocol);
                }
                "name" => node = node.client_name(value),
                "sentinel_timeout_ms" => {
                    let ms = value.parse().map_err(|_| bad("bad sentinel_timeout_ms"))?;
                    config.sentinel_timeout = Duration::from_millis(ms);
                }
                _ => return Err(bad(&format!("unknown parameter '{key}'"))),
            }
        }
        config.node = node;
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn urls() {
        let c: SentinelConfig =
            "redis+sentinel://u%40x:p%3Aw@10.0.0.1,10.0.0.2:26380,[::1]:26381/my%2Fmaster/3\
             ?sentinel_username=su&sentinel_password=sp&role=replica&protocol=resp2&name=app\
             &sentinel_timeout_ms=250"
                .parse()
                .unwrap();
        assert_eq!(c.master_name(), "my/master");
        assert_eq!(
            c.sentinels(),
            [
                NodeAddr::new("10.0.0.1", 26379),
                NodeAddr::new("10.0.0.2", 26380),
                NodeAddr::new("::1", 26381)
            ]
        );
        assert_eq!(c.node_config().get_username(), Some("u@x"));
        assert_eq!(c.node_config().get_password(), Some("p:w"));
        assert_eq!(c.node_config().database(), 3);
        assert_eq!(c.node_config().get_protocol(), Protocol::Resp2);
        assert_eq!(c.node_config().get_client_name(), Some("app"));
        assert!(!c.node_config().is_tls());
        assert_eq!(c.get_sentinel_config().get_username(), Some("su"));
        assert_eq!(c.get_sentinel_config().get_password(), Some("sp"));
        assert_eq!(c.get_role(), Role::Replica);
        assert_eq!(c.get_sentinel_timeout(), Duration::from_millis(250));
        assert!(!format!("{c:?}").contains("p:w"), "{c:?}");
        assert!(!format!("{c:?}").contains("\"sp\""), "{c:?}");

        let c: SentinelConfig = "rediss+sentinel://s1/mymaster?sentinel_tls=false"
            .parse()
            .unwrap();
        assert!(c.node_config().is_tls());
        assert!(!c.get_sentinel_config().is_tls());
        assert_eq!(c.node_config().database(), 0);
        assert_eq!(c.get_role(), Role::Master);
        let c: SentinelConfig = "rediss+sentinel://s1/mymaster/".parse().unwrap();
        assert!(c.get_sentinel_config().is_tls());

        for bad in [
            "redis://s1/mymaster",
            "redis+sentinel://s1",
            "redis+sentinel://s1/",
            "redis+sentinel://s1:x/m",
            "redis+sentinel://s1,/m",
            "redis+sentinel://s1/m/x",
            "redis+sentinel://s1/m/0/extra",
            "redis+sentinel://s1/m?role=leader",
            "redis+sentinel://s1/m?what=1",
            "redis+sentinel://[::1/m",
            "redis+sentinel://s1:0/m",
        ] {
            let e = bad.parse::<SentinelConfig>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad}: {e}");
        }
    }

    #[test]
    fn validation_and_sentinel_configs() {
        assert!(SentinelConfig::new("m", Vec::<NodeAddr>::new())
            .validate()
            .is_err());
        assert!(SentinelConfig::new("", [("h", 1)]).validate().is_err());
        assert!(SentinelConfig::new("m", [("h", 1)])
            .sentinel_timeout(Duration::ZERO)
            .validate()
            .is_err());
        let c = SentinelConfig::new("m", [("h", 1)])
            .sentinel_timeout(Duration::from_millis(200))
            .sentinel_password("pw");
        let s = c.sentinel_at(&NodeAddr::new("10.1.1.1", 26390));
        assert_eq!(s.addr(), "10.1.1.1:26390");
        assert_eq!(s.get_connect_timeout(), Duration::from_millis(200));
        assert_eq!(s.get_password(), Some("pw"));
        assert_eq!(c.node_config().get_password(), None, "kept apart");
    }
}
