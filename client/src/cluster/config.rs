//! [`ClusterConfig`]: the seeds, the per-node connection settings and the cluster policy.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::sentinel::NodeAddr;

/// Where reads (commands flagged `readonly` in the command table) go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadFrom {
    /// Every command to the master of its slot (the default): reads see every write.
    #[default]
    Primary,
    /// Reads to a replica of the slot's master (one after another), the master when it has
    /// none or they fail; writes to the master.
    PreferReplica,
    /// Reads to a replica of the slot's master only; writes to the master.
    Replica,
    /// Reads to the node of the slot's shard (master or replica) that answered the last
    /// topology query fastest; writes to the master.
    Nearest,
}

/// Rewrites a node address the cluster announces into the one to connect to (NAT, containers,
/// port forwarding).
pub type RemapFn = Arc<dyn Fn(&NodeAddr) -> NodeAddr + Send + Sync>;

/// Adjusts the connection settings of one node (its own credentials, TLS, ...). It receives
/// the address to connect to and the [node template](ClusterConfig::node) pointed at it.
pub type NodeConfigFn = Arc<dyn Fn(&NodeAddr, Config) -> Config + Send + Sync>;

/// How a [`ClusterClient`](super::ClusterClient) finds and talks to a cluster.
///
/// ```
/// use std::time::Duration;
/// use rediscover::cluster::{ClusterConfig, ReadFrom};
/// use rediscover::Config;
///
/// let config = ClusterConfig::new(["10.0.0.1:7000", "10.0.0.2:7000"])
///     .unwrap()
///     .node(Config::default().password("secret").request_timeout(Some(Duration::from_secs(2))))
///     .read_from(ReadFrom::PreferReplica)
///     .remap(|addr| addr.clone()); // NAT: rewrite announced addresses here
/// assert_eq!(config.seeds().len(), 2);
/// ```
#[derive(Clone)]
pub struct ClusterConfig {
    seeds: Vec<NodeAddr>,
    node: Config,
    read_from: ReadFrom,
    remap: Option<RemapFn>,
    node_config: Option<NodeConfigFn>,
    refresh_interval: Duration,
    refresh_min_interval: Duration,
    topology_sample: usize,
    max_redirects: u32,
    retry_backoff: (Duration, Duration),
    split_mset: bool,
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("seeds", &self.seeds)
            .field("node", &self.node)
            .field("read_from", &self.read_from)
            .field("remap", &self.remap.is_some())
            .field("node_config", &self.node_config.is_some())
            .field("refresh_interval", &self.refresh_interval)
            .field("refresh_min_interval", &self.refresh_min_interval)
            .field("topology_sample", &self.topology_sample)
            .field("max_redirects", &self.max_redirects)
            .field("retry_backoff", &self.retry_backoff)
            .field("split_mset", &self.split_mset)
            .finish()
    }
}

impl ClusterConfig {
    /// A configuration from seed nodes: `host:port` or `redis://` / `rediss://` URLs. The
    /// first URL's credentials, TLS, protocol and timeouts become the [node
    /// template](ClusterConfig::node) (a database other than 0 is refused: a cluster has one).
    pub fn new<I, S>(seeds: I) -> Result<ClusterConfig>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut node: Option<Config> = None;
        let mut addrs = Vec::new();
        for seed in seeds {
            let seed = seed.as_ref().trim();
            if seed.contains("://") {
                let config: Config = seed.parse()?;
                if config.database() != 0 {
                    return Err(Error::Config(format!(
                        "seed '{seed}' selects database {}: a cluster has database 0 only",
                        config.database()
                    )));
                }
                addrs.push(NodeAddr::new(config.get_host(), config.get_port()));
                node.get_or_insert(config);
            } else {
                addrs.push(NodeAddr::parse(seed, 6379)?);
            }
        }
        if addrs.is_empty() {
            return Err(Error::Config(
                "a cluster needs at least one seed node".into(),
            ));
        }
        Ok(ClusterConfig {
            seeds: addrs,
            node: node.unwrap_or_default(),
            read_from: ReadFrom::Primary,
            remap: None,
            node_config: None,
            refresh_interval: Duration::from_secs(30),
            refresh_min_interval: Duration::from_millis(100),
            topology_sample: 3,
            max_redirects: 16,
            retry_backoff: (Duration::from_millis(10), Duration::from_millis(500)),
            split_mset: false,
        })
    }

    /// The settings of every node connection (credentials, TLS, protocol, timeouts, backoff,
    /// retries, dedicated connections); its host and port are replaced by each node's. Its
    /// [request timeout](Config::request_timeout) is the deadline of each cluster request,
    /// redirects, retries and reconnects included.
    pub fn node(mut self, template: Config) -> Self {
        self.node = template;
        self
    }

    /// Where reads go (default [`ReadFrom::Primary`]).
    pub fn read_from(mut self, read_from: ReadFrom) -> Self {
        self.read_from = read_from;
        self
    }

    /// Rewrites every address the cluster announces before connecting to it.
    pub fn remap(mut self, f: impl Fn(&NodeAddr) -> NodeAddr + Send + Sync + 'static) -> Self {
        self.remap = Some(Arc::new(f));
        self
    }

    /// Adjusts each node's connection settings (per-node credentials or TLS).
    pub fn node_config(
        mut self,
        f: impl Fn(&NodeAddr, Config) -> Config + Send + Sync + 'static,
    ) -> Self {
        self.node_config = Some(Arc::new(f));
        self
    }

    /// The period of the background topology refresh (default 30 s, jittered by up to a
    /// quarter).
    pub fn refresh_interval(mut self, every: Duration) -> Self {
        self.refresh_interval = every.max(Duration::from_millis(1));
        self
    }

    /// The least time between two topology refreshes, however many events ask for one
    /// (default 100 ms).
    pub fn refresh_min_interval(mut self, min: Duration) -> Self {
        self.refresh_min_interval = min;
        self
    }

    /// How many nodes each refresh asks for their view (default 3; the majority view wins).
    pub fn topology_sample(mut self, n: usize) -> Self {
        self.topology_sample = n.max(1);
        self
    }

    /// How many redirections and retries one request may follow (default 16).
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.max_redirects = n;
        self
    }

    /// The capped, jittered backoff between retries after `TRYAGAIN`, `CLUSTERDOWN` or an
    /// unreachable node (default 10 ms to 500 ms).
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.retry_backoff = (min, max.max(min));
        self
    }

    /// Whether a cross-slot `MSET` is split into one `MSET` per slot (default `false`: it is
    /// refused). Split, it is no longer atomic: some slots may be written and others not.
    pub fn split_mset(mut self, split: bool) -> Self {
        self.split_mset = split;
        self
    }

    /// The seed nodes.
    pub fn seeds(&self) -> &[NodeAddr] {
        &self.seeds
    }

    /// The node template.
    pub fn get_node(&self) -> &Config {
        &self.node
    }

    /// Where reads go.
    pub fn get_read_from(&self) -> ReadFrom {
        self.read_from
    }

    pub(crate) fn get_refresh_interval(&self) -> Duration {
        self.refresh_interval
    }

    pub(crate) fn get_refresh_min_interval(&self) -> Duration {
        self.refresh_min_interval
    }

    pub(crate) fn get_topology_sample(&self) -> usize {
        self.topology_sample
    }

    pub(crate) fn get_max_redirects(&self) -> u32 {
        self.max_redirects
    }

    pub(crate) fn get_split_mset(&self) -> bool {
        self.split_mset
    }

    /// The backoff policy as a [`Config`] (for the shared backoff function).
    pub(crate) fn retry_policy(&self) -> Config {
        Config::default().backoff(self.retry_backoff.0, self.retry_backoff.1)
    }

    /// The address to connect to for an announced one.
    pub(crate) fn remapped(&self, announced: &NodeAddr) -> NodeAddr {
        match &self.remap {
            Some(f) => f(announced),
            None => announced.clone(),
        }
    }

    /// The connection settings of the node at `addr` (already remapped).
    pub(crate) fn config_for(&self, addr: &NodeAddr) -> Config {
        let base = addr.config(&self.node);
        match &self.node_config {
            Some(f) => f(addr, base),
            None => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_from_addresses_and_urls() {
        let c = ClusterConfig::new(["redis://:pw@10.0.0.1:7000", "10.0.0.2:7001", "h"]).unwrap();
        assert_eq!(c.seeds()[0], NodeAddr::new("10.0.0.1", 7000));
        assert_eq!(c.seeds()[1], NodeAddr::new("10.0.0.2", 7001));
        assert_eq!(c.seeds()[2], NodeAddr::new("h", 6379));
        assert_eq!(c.get_node().get_password(), Some("pw"));
        let n = c.config_for(&NodeAddr::new("10.0.0.9", 7009));
        assert_eq!((n.get_host(), n.get_port()), ("10.0.0.9", 7009));
        assert_eq!(n.get_password(), Some("pw"));
        assert!(ClusterConfig::new(Vec::<String>::new()).is_err());
        assert!(ClusterConfig::new(["redis://h:1/2"]).is_err());
        assert!(ClusterConfig::new(["h:notaport"]).is_err());
        let c = c
            .remap(|a| NodeAddr::new("gw", a.port() + 1000))
            .node_config(|a, cfg| cfg.username(format!("u{}", a.port())));
        let to = c.remapped(&NodeAddr::new("10.0.0.1", 7000));
        assert_eq!(to, NodeAddr::new("gw", 8000));
        assert_eq!(c.config_for(&to).get_username(), Some("u8000"));
    }
}
