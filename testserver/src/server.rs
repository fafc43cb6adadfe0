//! The accept loop, background jobs, and the in-process [`TestServer`] API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::node::Node;

/// Accepts connections for `node` until it shuts down.
pub async fn run(node: Arc<Node>, listener: TcpListener) {
    run_all(node, vec![listener]).await;
}

/// Accepts connections on every listener (`bind` with several addresses) until `node` shuts
/// down, with one set of background jobs.
pub async fn run_all(node: Arc<Node>, listeners: Vec<TcpListener>) {
    run_node(node, listeners, None).await;
}

/// Serves a node: its client listeners and, for a cluster node, its bus listener (the bus
/// links and the cluster cron run with it), until the node shuts down.
pub async fn run_node(node: Arc<Node>, listeners: Vec<TcpListener>, bus: Option<TcpListener>) {
    {
        // `replicaof` in the configuration: start as a replica.
        let mut st = node.lock();
        if let (Some((host, port)), true) = (st.config.replicaof.clone(), st.repl.is_master()) {
            // A fresh replica asks for a full sync, unless its RDB file gave it a history.
            let restored = st.repl.cached;
            st.become_replica(host, port);
            st.repl.cached = restored;
        }
    }
    // A sentinel has its own timer and no keyspace or replication to look after.
    let (cron, link) = if node.lock().sentinel.is_some() {
        (
            tokio::spawn(crate::sentinel::timer::run(node.clone())),
            tokio::spawn(async {}),
        )
    } else {
        (
            tokio::spawn(cron(node.clone())),
            tokio::spawn(crate::repl::replica::manage(node.clone())),
        )
    };
    let cluster: Vec<JoinHandle<()>> = match bus {
        Some(bus) => vec![
            tokio::spawn(crate::cluster::bus::accept_loop(node.clone(), bus)),
            tokio::spawn(crate::cluster::bus::cron_loop(node.clone())),
        ],
        None => Vec::new(),
    };
    let loops: Vec<_> = listeners
        .into_iter()
        .map(|l| tokio::spawn(accept_loop(node.clone(), l)))
        .collect();
    for task in loops {
        let _ = task.await;
    }
    cron.abort();
    link.abort();
    for task in cluster {
        task.abort();
        let _ = task.await;
    }
}

async fn accept_loop(node: Arc<Node>, listener: TcpListener) {
    let mut shutdown = node.shutdown_signal();
    // A shutdown that came before this task first ran is not a change `shutdown` will see.
    if node.is_shutting_down() {
        return;
    }
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            // A frozen node (a test's SIGSTOP) accepts nothing: connections wait in the
            // kernel's listen queue, `tcp-backlog` long.
            accepted = async {
                node.faults.thawed().await;
                listener.accept().await
            } => {
                let Ok((socket, _)) = accepted else {
                    // EMFILE and friends: back off a little instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let Some(peer) = crate::connection::Peer::of(&node, &socket) else {
                    continue;
                };
                let admitted = match node.lock_unless_script() {
                    Some(mut st) => crate::connection::admit_peer(&mut st, peer),
                    None => {
                        // A script runs: admitted from inside it once it is busy (Redis
                        // accepts clients then), or after it; the accept loop goes on.
                        let node = node.clone();
                        tokio::spawn(async move {
                            let admitted = node
                                .with_state(move |st| crate::connection::admit_peer(st, peer))
                                .await;
                            match admitted {
                                Some(admitted) => {
                                    crate::connection::serve(node.clone(), socket, admitted).await
                                }
                                None => refuse(socket).await,
                            }
                        });
                        continue;
                    }
                };
                match admitted {
                    Some(admitted) => {
                        tokio::spawn(crate::connection::serve(node.clone(), socket, admitted));
                    }
                    None => {
                        tokio::spawn(refuse(socket));
                    }
                }
            }
        }
    }
}

/// Tells a connection over `maxclients` why it is closed.
async fn refuse(mut socket: tokio::net::TcpStream) {
    let _ = socket
        .write_all(b"-ERR max number of clients reached\r\n")
        .await;
}

/// A listening socket on `addr` with a listen queue of `backlog` (`tcp-backlog`; the kernel
/// caps it at `somaxconn`), reusing the address so a restarted node gets its port back.
pub fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Periodic work (Redis's `serverCron`, `hz` times a second): active expiry on a master, the
/// save points and scheduled BGSAVEs ([`crate::rdb::bgsave`]), and once a second the
/// replication cron (PING to replicas, repl-timeout) and the AOF cron.
async fn cron(node: Arc<Node>) {
    let mut shutdown = node.shutdown_signal();
    let mut last_repl_cron = std::time::Instant::now();
    loop {
        let period = {
            let st = node.lock();
            let hz = u64::from(st.config.hz.clamp(1, 500));
            // Fast timers (tests) run the cron as often as their shortest period needs.
            Duration::from_millis(1000 / hz).min(st.config.timers.repl_cron)
        };
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        node.faults.thawed().await;
        let mut st = node.lock();
        let now = crate::node::unix_ms();
        // A replica waits for its master's DELs.
        // A replica waits for its master's DELs; a FAILOVER's pause stops expiry too.
        if st.config.active_expire_enabled && st.repl.is_master() && st.repl.failover.is_none() {
            let started = std::time::Instant::now();
            for db in st.dbs.iter_mut() {
                db.expire_due(now, 200);
            }
            crate::notify::flush(&mut st);
            let st = &mut *st;
            st.memory
                .latency
                .add_sample_if_needed("expire-cycle", started, &st.config);
        }
        // Eviction that stopped at its time limit goes on (Redis's eviction timer).
        if st.memory.running {
            crate::memory::perform_evictions(&mut st);
        }
        crate::cmd::after_command(&mut st);
        if st.repl.failover.is_some() {
            crate::repl::failover::update(&mut st);
        }
        let tick = std::time::Instant::now();
        st.close_idle_clients(tick);
        // Save points: a BGSAVE when one is due (every cron tick, as Redis's serverCron).
        crate::rdb::bgsave::save_points_cron(&mut st);
        if tick.duration_since(last_repl_cron) >= st.config.timers.repl_cron {
            last_repl_cron = tick;
            st.replication_cron(tick);
            crate::aof::cron(&mut st);
            // MIGRATE's cached connections idle for 10 s close (Redis: every second).
            st.migrate.close_idle();
        }
        // A BGSAVE scheduled behind an AOF rewrite (or by EXEC) starts once nothing runs.
        crate::rdb::bgsave::scheduled_cron(&mut st);
    }
}

/// A server running inside the test process, on `127.0.0.1` and a free port.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let server = rediscover_testserver::TestServer::start().await?;
/// println!("listening on {}", server.addr());
/// server.shutdown().await;
/// # Ok(()) }
/// ```
///
/// Dropping it stops it too. Unless the configuration names a `dir`, the server keeps its files
/// (the RDB written by `SAVE`) in a private temporary directory, removed when it is dropped.
///
/// Faults: [`TestServer::kill`] stops it the way `SIGKILL` would, [`TestServer::restart`]
/// brings it back at the same address with what it had saved, [`TestServer::freeze`] stops it
/// the way `SIGSTOP` would, and [`TestServer::cut_off_from`] partitions it from another node.
#[derive(Debug)]
pub struct TestServer {
    node: Arc<Node>,
    addr: SocketAddr,
    /// The cluster bus address, for a cluster node.
    bus: Option<SocketAddr>,
    task: Option<JoinHandle<()>>,
    /// ACL users given to the builder: part of the configuration, so a restart keeps them.
    users: Vec<(String, String)>,
    /// The private directory, if the configuration named none.
    _scratch: Option<Scratch>,
}

/// A temporary directory removed on drop.
#[derive(Debug)]
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestServer {
    /// Starts a server with default settings.
    pub async fn start() -> std::io::Result<TestServer> {
        TestServer::builder().start().await
    }

    /// A builder for servers with options.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The cluster bus address (`None` unless `cluster-enabled`).
    pub fn bus_addr(&self) -> Option<SocketAddr> {
        self.bus
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// The node behind the server, for inspection and fault injection in tests. After a
    /// [`TestServer::restart`] this is the new node.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Whether the server is running (not killed or shut down).
    pub fn is_running(&self) -> bool {
        !self.node.is_shutting_down()
    }

    /// Stops accepting, closes every connection and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.stop_node().await;
    }

    /// Stops the server abruptly, as `SIGKILL` stops a process: every connection is closed,
    /// nothing is saved, nothing is waited for, and the port is free once this returns. Its
    /// data survives only in what it saved before (`SAVE`); see [`TestServer::restart`].
    pub async fn kill(&mut self) {
        self.stop_node().await;
    }

    async fn stop_node(&mut self) {
        // A killed process takes its AOF rewrite or BGSAVE child with it.
        {
            let mut st = self.node.lock();
            crate::aof::kill_rewrite(&mut st);
            crate::rdb::bgsave::kill(&mut st);
        }
        self.node.shutdown();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        // A dead process holds no lock on nodes.conf and writes it no more.
        let _ = self.node.lock().cluster.take();
    }

    /// Starts the server again at the same address (killing it first if it runs), as a process
    /// restarted with its configuration file would: with the configuration it had when it
    /// stopped (as if `CONFIG REWRITE` had run, so with its ACL users unless it has an `aclfile`,
    /// which it reads again) and the data of its RDB file, if it saved one.
    /// A replica resumes replicating; faults injected into it ([`TestServer::freeze`],
    /// [`TestServer::cut_off_from`]) stay in force.
    pub async fn restart(&mut self) -> std::io::Result<()> {
        if self.task.is_some() {
            self.kill().await;
        }
        let (mut config, sentinel) = {
            let st = self.node.lock();
            let mut config = st.config.clone();
            // As if CONFIG REWRITE had run: without an aclfile, the users are `user` lines of
            // the config file (with one, the restarted server reads it again).
            if config.extra_or("aclfile", "").is_empty() {
                config.users = st.acl.config_lines();
            }
            (config, st.sentinel.is_some())
        };
        let node = if sentinel {
            // A sentinel resumes from the config file it rewrote.
            config.users.clear();
            let path = config.config_file.clone().unwrap_or_default();
            let conf =
                crate::sentinel::parse_file(&path, &mut config).map_err(std::io::Error::other)?;
            let node = crate::sentinel::new_node(config, conf, self.node.faults.clone())
                .map_err(std::io::Error::other)?;
            crate::sentinel::started(&node, self.addr.port());
            node
        } else {
            crate::acl::Acl::at_startup(&config, false)
                .map_err(|lines| std::io::Error::other(lines.join("\n")))?;
            Node::with_faults(config, self.node.faults.clone())
        };
        add_users(&node, &self.users);
        {
            let mut st = node.lock();
            crate::cluster::init(&mut st).map_err(std::io::Error::other)?;
            let now = crate::node::unix_ms();
            crate::aof::load_at_startup(&mut st, now)
                .map_err(|e| std::io::Error::other(format!("loading the data: {e}")))?;
            crate::cluster::verify_with_data(&mut st).map_err(std::io::Error::other)?;
        }
        let backlog = node.lock().config.tcp_backlog;
        let listener = bind_again(self.addr, backlog).await?;
        let bus = match self.bus {
            Some(addr) => Some(bind_again(addr, backlog).await?),
            None => None,
        };
        self.task = Some(tokio::spawn(run_node(node.clone(), vec![listener], bus)));
        self.node = node;
        Ok(())
    }

    /// Freezes the server, as `SIGSTOP` would: connections stay open but nothing is read,
    /// run, written or timed until [`TestServer::thaw`].
    pub fn freeze(&self) {
        self.node.faults.freeze();
    }

    /// Ends a [`TestServer::freeze`].
    pub fn thaw(&self) {
        self.node.faults.thaw();
    }

    /// Cuts this server off from the node listening at `peer` (one direction: do it on both
    /// sides for a partition). The links it makes to `peer` stall and new ones wait, until
    /// [`TestServer::heal_from`].
    pub fn cut_off_from(&self, peer: SocketAddr) {
        self.node.faults.cut(peer);
    }

    /// Ends a [`TestServer::cut_off_from`].
    pub fn heal_from(&self, peer: SocketAddr) {
        self.node.faults.heal(peer);
    }
}

/// Binds `addr` again after the previous listener on it closed. The port was just released,
/// so a moment of `AddrInUse` is retried briefly.
async fn bind_again(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match listen(addr, backlog) {
            Ok(l) => return Ok(l),
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn add_users(node: &Node, users: &[(String, String)]) {
    let mut st = node.lock();
    for (name, password) in users {
        st.acl.users.insert(
            bytes::Bytes::from(name.clone().into_bytes()),
            crate::acl::User {
                enabled: true,
                nopass: false,
                passwords: vec![password.clone().into_bytes()],
            },
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.node.shutdown();
    }
}

/// Options for a [`TestServer`].
///
/// Its configuration starts as [`Config::default`] (Redis's defaults) but with no save points
/// (`save ""`, as Redis's own test suite starts its servers), so an in-process server writes
/// no RDB file unless asked: by SAVE, BGSAVE, SHUTDOWN SAVE, or save points set through
/// [`TestServerBuilder::config`] or CONFIG SET. The `rediscover-server` binary keeps Redis's
/// default `save 3600 1 300 100 60 10000`.
#[derive(Debug)]
pub struct TestServerBuilder {
    config: Config,
    users: Vec<(String, String)>,
    dir: Option<std::path::PathBuf>,
    port: u16,
    sentinel: Option<String>,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            config: Config::in_process(),
            users: Vec::new(),
            dir: None,
            port: 0,
            sentinel: None,
        }
    }
}

impl TestServerBuilder {
    /// Starts the node in sentinel mode (`redis-sentinel`) with this configuration file text
    /// (`sentinel monitor ...` lines and any other directives). The text is saved as
    /// `sentinel.conf` in the server's directory, and the sentinel rewrites it with what it
    /// learns, as Redis does; [`TestServer::restart`] resumes from it.
    pub fn sentinel(mut self, conf: impl Into<String>) -> Self {
        self.sentinel = Some(conf.into());
        self
    }

    /// Requires this password for the default user (`requirepass`).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.config.requirepass = Some(password.into().into_bytes());
        self
    }

    /// Adds an ACL user with a password and full access.
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.push((name.into(), password.into()));
        self
    }

    /// Number of databases (`databases`).
    pub fn databases(mut self, n: usize) -> Self {
        self.config.databases = n.max(1);
        self
    }

    /// Starts as a replica of the server at `master` (`replicaof`).
    pub fn replica_of(mut self, master: SocketAddr) -> Self {
        self.config.replicaof = Some((master.ip().to_string(), master.port()));
        self
    }

    /// `repl-backlog-size` in bytes.
    pub fn backlog_size(mut self, bytes: u64) -> Self {
        self.config.repl_backlog_size = bytes.max(1);
        self
    }

    /// Keeps the server's files (RDB) in `dir` instead of a private temporary directory.
    pub fn dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Periods of the background jobs (see [`Timers`](crate::config::Timers)); tests of
    /// topology changes shorten them.
    pub fn timers(mut self, timers: crate::config::Timers) -> Self {
        self.config.timers = timers;
        self
    }

    /// Replaces the whole configuration. Its `dir` is kept if it is not the default (the
    /// working directory). Its `save` points are used as given: start from
    /// [`Config::in_process`] for a server that saves only when asked, as the builder's own
    /// default does; [`Config::default`] has Redis's save points, which the server enforces.
    pub fn config(mut self, config: Config) -> Self {
        if config.dir != Config::default().dir {
            self.dir = Some(config.dir.clone().into());
        }
        self.config = config;
        self
    }

    /// Listens on this port instead of a free one (0, the default: a free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Binds `127.0.0.1` (on a free port unless [`TestServerBuilder::port`]) and starts
    /// serving.
    pub async fn start(self) -> std::io::Result<TestServer> {
        let mut config = self.config;
        let listener = listen(([127, 0, 0, 1], self.port).into(), config.tcp_backlog)?;
        let addr = listener.local_addr()?;
        config.port = addr.port();
        let scratch = match self.dir {
            Some(dir) => {
                config.dir = dir.to_string_lossy().into_owned();
                None
            }
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "rediscover-{}-{}-{}",
                    std::process::id(),
                    addr.port(),
                    crate::node::random_hex(8)
                ));
                std::fs::create_dir_all(&dir)?;
                config.dir = dir.to_string_lossy().into_owned();
                Some(Scratch(dir))
            }
        };
        // A cluster node's bus: `cluster-port` if given, else any free port (the client port
        // is free-picked too, so port + 10000 may not exist); kept in `cluster-port` so a
        // restart binds it again.
        let bus = if config.cluster_enabled {
            let port: u16 = config.extra_or("cluster-port", "0").parse().unwrap_or(0);
            let l = listen(([127, 0, 0, 1], port).into(), config.tcp_backlog)?;
            let bus_addr = l.local_addr()?;
            config
                .extra
                .insert("cluster-port".into(), bus_addr.port().to_string());
            Some((l, bus_addr))
        } else {
            None
        };
        // `user` lines and `aclfile` as redis-server reads them at startup: an error stops it.
        crate::acl::Acl::at_startup(&config, false)
            .map_err(|lines| std::io::Error::other(lines.join("\n")))?;
        let node = match &self.sentinel {
            None => Node::new(config),
            Some(text) => {
                let path = std::path::Path::new(&config.dir).join("sentinel.conf");
                std::fs::write(&path, text)?;
                config.config_file = Some(path.clone());
                let conf = crate::sentinel::parse_file(&path, &mut config)
                    .map_err(std::io::Error::other)?;
                // The file's directives may not move it off the address it is bound to.
                config.port = addr.port();
                let node = crate::sentinel::new_node(config, conf, Default::default())
                    .map_err(std::io::Error::other)?;
                crate::sentinel::started(&node, addr.port());
                node
            }
        };
        add_users(&node, &self.users);
        {
            let mut st = node.lock();
            crate::cluster::init(&mut st).map_err(std::io::Error::other)?;
            if st.config.appendonly {
                // `appendonly yes`: the AOF in `dir` is loaded, or started.
                let now = crate::node::unix_ms();
                crate::aof::load_at_startup(&mut st, now)
                    .map_err(|e| std::io::Error::other(format!("loading the AOF: {e}")))?;
            }
            crate::cluster::verify_with_data(&mut st).map_err(std::io::Error::other)?;
        }
        let bus_addr = bus.as_ref().map(|b| b.1);
        let task = tokio::spawn(run_node(node.clone(), vec![listener], bus.map(|b| b.0)));
        Ok(TestServer {
            node,
            addr,
            bus: bus_addr,
            task: Some(task),
            users: self.users,
            _scratch: scratch,
        })
    }
}
