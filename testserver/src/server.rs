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
    let cron = tokio::spawn(cron(node.clone()));
    let link = tokio::spawn(crate::repl::replica::manage(node.clone()));
    let loops: Vec<_> = listeners
        .into_iter()
        .map(|l| tokio::spawn(accept_loop(node.clone(), l)))
        .collect();
    for task in loops {
        let _ = task.await;
    }
    cron.abort();
    link.abort();
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
            accepted = listener.accept() => {
                let Ok((mut socket, _)) = accepted else {
                    // EMFILE and friends: back off a little instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let full = {
                    let mut st = node.lock();
                    st.stats.connections_received += 1;
                    let full = st.clients.len() >= st.config.maxclients;
                    if full {
                        st.stats.rejected_connections += 1;
                    }
                    full
                };
                if full {
                    tokio::spawn(async move {
                        let _ = socket.write_all(b"-ERR max number of clients reached\r\n").await;
                    });
                    continue;
                }
                tokio::spawn(crate::connection::serve(node.clone(), socket));
            }
        }
    }
}

/// Periodic work (Redis's `serverCron`, `hz` times a second): active expiry on a master, and
/// once a second the replication cron (PING to replicas, repl-timeout).
async fn cron(node: Arc<Node>) {
    let mut shutdown = node.shutdown_signal();
    let mut last_repl_cron = std::time::Instant::now();
    loop {
        let hz = node.lock().config.hz.clamp(1, 500);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(1000 / u64::from(hz))) => {}
            _ = shutdown.changed() => return,
        }
        let mut st = node.lock();
        let now = crate::node::unix_ms();
        // A replica waits for its master's DELs.
        if st.config.active_expire_enabled && st.repl.is_master() {
            for db in st.dbs.iter_mut() {
                db.expire_due(now, 200);
            }
        }
        crate::cmd::after_command(&mut st);
        let tick = std::time::Instant::now();
        if tick.duration_since(last_repl_cron) >= Duration::from_secs(1) {
            last_repl_cron = tick;
            st.replication_cron(tick);
        }
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
/// Dropping it stops it too.
#[derive(Debug)]
pub struct TestServer {
    node: Arc<Node>,
    addr: SocketAddr,
    task: Option<JoinHandle<()>>,
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

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// The node behind the server, for inspection and fault injection in tests.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Stops accepting, closes every connection and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.node.shutdown();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.node.shutdown();
    }
}

/// Options for a [`TestServer`].
#[derive(Debug, Default)]
pub struct TestServerBuilder {
    config: Config,
    users: Vec<(String, String)>,
}

impl TestServerBuilder {
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

    /// Replaces the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start(self) -> std::io::Result<TestServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let mut config = self.config;
        config.port = addr.port();
        let node = Node::new(config);
        {
            let mut st = node.lock();
            for (name, password) in self.users {
                st.acl.users.insert(
                    bytes::Bytes::from(name.into_bytes()),
                    crate::acl::User {
                        enabled: true,
                        nopass: false,
                        passwords: vec![password.into_bytes()],
                    },
                );
            }
        }
        let task = tokio::spawn(run(node.clone(), listener));
        Ok(TestServer {
            node,
            addr,
            task: Some(task),
        })
    }
}
