//! `rediscover-topology`: starts a whole Redis topology in one process for tests in other
//! languages or processes.
//!
//! It prints one JSON line per node (`{"role":"master","addr":"127.0.0.1:6379","id":"..."}`),
//! then `READY`, and runs until SIGINT or SIGTERM.
//!
//! ```text
//! rediscover-topology standalone --port 0
//! rediscover-topology replication --replicas 2 --port 0
//! rediscover-topology cluster --masters 3 --replicas 1 --port 0
//! rediscover-topology sentinel --master-name mymaster --replicas 2 --sentinels 3 \
//!     --port 0 --sentinel-port 0 --down-after-ms 1000
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use std::time::Duration;

use rediscover_testserver::config::{Config, Timers};
use rediscover_testserver::node::Node;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

const USAGE: &str = "Usage: rediscover-topology <topology> [options]\n\
\n\
Topologies:\n\
\x20 standalone [--port P]    one master (P = 0 picks a free port; default 6379)\n\
\x20 replication [--replicas N] [--port P]\n\
\x20                           a master on P and N replicas (default 1) on P+1..P+N,\n\
\x20                           READY once every replica is in sync (P = 0: free ports)\n\
\x20 cluster [--masters M] [--replicas R] [--port P] [--node-timeout MS]\n\
\x20                           a Redis Cluster of M masters (default 3) with R replicas\n\
\x20                           each (default 1) on P..P+M*(1+R)-1, bus ports +10000 (P = 0:\n\
\x20                           free ports); READY once all slots are assigned, every node\n\
\x20                           agrees and replicas are in sync (node timeout default 2000)\n\
\x20 sentinel [--master-name NAME] [--replicas N] [--sentinels M] [--port P]\n\
\x20          [--sentinel-port S] [--quorum Q] [--down-after-ms MS]\n\
\x20          [--failover-timeout-ms MS] [--timers-factor F]\n\
\x20                           a master on P, N replicas (default 2) on P+1..P+N and M\n\
\x20                           sentinels (default 3) on S..S+M-1 monitoring it as NAME\n\
\x20                           (default mymaster) with quorum Q (default a majority);\n\
\x20                           down-after 5000 ms and failover-timeout 10000 ms by default;\n\
\x20                           every node's timers F times faster than Redis's (default 10;\n\
\x20                           1 = Redis's timing). READY once every sentinel knows every\n\
\x20                           replica and every other sentinel (P, S = 0: free ports)\n\
\n\
Prints one JSON line per node, then READY; runs until SIGINT or SIGTERM.\n";

/// A topology to start. Replication, Sentinel and Cluster become variants here.
#[derive(Debug, PartialEq, Eq)]
enum Topology {
    /// One master.
    Standalone {
        /// Its port (0: any free port).
        port: u16,
    },
    /// A master and replicas of it.
    Replication {
        /// The master's port (0: free ports for all).
        port: u16,
        /// How many replicas.
        replicas: usize,
    },
    /// A Redis Cluster.
    Cluster {
        /// The first node's port (0: free ports for all).
        port: u16,
        /// Masters.
        masters: usize,
        /// Replicas per master.
        replicas: usize,
        /// `cluster-node-timeout` (ms).
        node_timeout: i64,
    },
    /// A master, replicas, and sentinels monitoring them.
    Sentinel(SentinelOptions),
}

/// The options of the `sentinel` topology.
#[derive(Debug, PartialEq, Eq)]
struct SentinelOptions {
    master_name: String,
    /// The master's port (0: free ports for all data nodes).
    port: u16,
    replicas: usize,
    /// The first sentinel's port (0: free ports for all sentinels).
    sentinel_port: u16,
    sentinels: usize,
    quorum: Option<u32>,
    down_after_ms: u64,
    failover_timeout_ms: u64,
    timers_factor: u32,
}

/// A started node as the JSON line describes it.
struct NodeLine {
    role: &'static str,
    addr: String,
    id: String,
    /// A replica's master, or the master a sentinel monitors.
    master: Option<String>,
    /// The name a sentinel monitors its master under.
    master_name: Option<String>,
}

impl NodeLine {
    fn to_json(&self) -> String {
        let mut master = self
            .master_name
            .as_ref()
            .map(|m| format!(",\"master_name\":{}", json_string(m)))
            .unwrap_or_default();
        if let Some(m) = &self.master {
            master.push_str(&format!(",\"master\":{}", json_string(m)));
        }
        format!(
            "{{\"role\":{},\"addr\":{},\"id\":{}{master}}}",
            json_string(self.role),
            json_string(&self.addr),
            json_string(&self.id)
        )
    }
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn parse(args: &[String]) -> Result<Topology, String> {
    let Some((kind, rest)) = args.split_first() else {
        return Err("missing topology".into());
    };
    let sentinel = kind == "sentinel";
    let mut port = 6379;
    let mut replicas = None;
    let mut masters = 3;
    let mut node_timeout = 2000;
    let mut s = SentinelOptions {
        master_name: "mymaster".into(),
        port: 0,
        replicas: 2,
        sentinel_port: 26379,
        sentinels: 3,
        quorum: None,
        down_after_ms: 5000,
        failover_timeout_ms: 10000,
        timers_factor: 10,
    };
    let mut it = rest.iter();
    while let Some(opt) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        fn number<T: std::str::FromStr>(v: &str, what: &str) -> Result<T, String> {
            v.parse().map_err(|_| format!("invalid {what} '{v}'"))
        }
        match opt.as_str() {
            "--port" => port = number(value("--port")?, "port")?,
            "--replicas" if kind == "replication" || kind == "cluster" || sentinel => {
                replicas = Some(number(value("--replicas")?, "replica count")?);
            }
            "--masters" if kind == "cluster" => {
                let v = value("--masters")?;
                masters = v
                    .parse()
                    .ok()
                    .filter(|&m: &usize| m > 0)
                    .ok_or(format!("invalid master count '{v}'"))?;
            }
            "--node-timeout" if kind == "cluster" => {
                let v = value("--node-timeout")?;
                node_timeout = v
                    .parse()
                    .ok()
                    .filter(|&t: &i64| t > 0)
                    .ok_or(format!("invalid node timeout '{v}'"))?;
            }
            "--master-name" if sentinel => s.master_name = value("--master-name")?.clone(),
            "--sentinels" if sentinel => {
                s.sentinels = number(value("--sentinels")?, "sentinel count")?;
                if s.sentinels == 0 {
                    return Err("at least one sentinel".into());
                }
            }
            "--sentinel-port" if sentinel => {
                s.sentinel_port = number(value("--sentinel-port")?, "port")?;
            }
            "--quorum" if sentinel => {
                s.quorum = Some(number(value("--quorum")?, "quorum")?).filter(|&q| q > 0);
                if s.quorum.is_none() {
                    return Err("the quorum must be 1 or greater".into());
                }
            }
            "--down-after-ms" if sentinel => {
                s.down_after_ms = number(value("--down-after-ms")?, "time")?;
            }
            "--failover-timeout-ms" if sentinel => {
                s.failover_timeout_ms = number(value("--failover-timeout-ms")?, "time")?;
            }
            "--timers-factor" if sentinel => {
                s.timers_factor = number(value("--timers-factor")?, "factor")?;
            }
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let fits = |port: u16, n: usize| port == 0 || usize::from(port) + n <= 65535;
    match kind.as_str() {
        "standalone" => Ok(Topology::Standalone { port }),
        "replication" => {
            let replicas = replicas.unwrap_or(1);
            if !fits(port, replicas) {
                return Err(format!("ports {port}..{port}+{replicas} do not fit"));
            }
            Ok(Topology::Replication { port, replicas })
        }
        "cluster" => {
            let replicas = replicas.unwrap_or(1);
            let total = masters * (1 + replicas);
            if port != 0 && usize::from(port) + total > 55536 {
                return Err(format!(
                    "ports {port}..{port}+{total} (and their bus ports +10000) do not fit"
                ));
            }
            Ok(Topology::Cluster {
                port,
                masters,
                replicas,
                node_timeout,
            })
        }
        "sentinel" => {
            s.port = if rest.iter().any(|a| a == "--port") {
                port
            } else {
                6379
            };
            s.replicas = replicas.unwrap_or(s.replicas);
            if s.down_after_ms == 0 || s.failover_timeout_ms == 0 || s.timers_factor == 0 {
                return Err("times and the timers factor must be greater than 0".into());
            }
            if !fits(s.port, s.replicas) || !fits(s.sentinel_port, s.sentinels - 1) {
                return Err("the ports do not fit".into());
            }
            Ok(Topology::Sentinel(s))
        }
        other => Err(format!("unknown topology '{other}'")),
    }
}

/// Starts one node listening on 127.0.0.1:`port`, replicating from `master` if given.
async fn start_node(
    port: u16,
    master: Option<SocketAddr>,
    timers: Timers,
) -> std::io::Result<(Arc<Node>, NodeLine)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let config = Config {
        port: addr.port(),
        replicaof: master.map(|m| (m.ip().to_string(), m.port())),
        timers,
        // In-process nodes save only when asked (no save points), as a TestServer.
        ..Config::in_process()
    };
    let node = Node::new(config);
    let id = node.lock().run_id.clone();
    tokio::spawn(rediscover_testserver::server::run(node.clone(), listener));
    Ok((
        node,
        NodeLine {
            role: if master.is_some() {
                "replica"
            } else {
                "master"
            },
            addr: addr.to_string(),
            id,
            master: master.map(|m| m.to_string()),
            master_name: None,
        },
    ))
}

async fn run(topology: Topology) -> std::io::Result<()> {
    // Handlers go in before READY: a harness may signal as soon as it reads it.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut nodes = Vec::new();
    // Files the nodes keep (the sentinels' config files), removed at exit.
    let mut scratch: Option<std::path::PathBuf> = None;
    match topology {
        Topology::Standalone { port } => {
            let (node, line) = start_node(port, None, Timers::default()).await?;
            println!("{}", line.to_json());
            nodes.push(node);
        }
        Topology::Replication { port, replicas } => {
            let (master, line) = start_node(port, None, Timers::default()).await?;
            println!("{}", line.to_json());
            let master_addr: SocketAddr = line.addr.parse().map_err(std::io::Error::other)?;
            let mut followers = Vec::with_capacity(replicas);
            for i in 1..=replicas {
                let port = if port == 0 { 0 } else { port + i as u16 };
                let (node, line) = start_node(port, Some(master_addr), Timers::default()).await?;
                println!("{}", line.to_json());
                followers.push(node);
            }
            let synced: Vec<&Node> = followers.iter().map(|f| &**f).collect();
            rediscover_testserver::topology::wait_in_sync(
                &master,
                &synced,
                std::time::Duration::from_secs(30),
            )
            .await
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::TimedOut, e))?;
            nodes.push(master);
            nodes.extend(followers);
        }
        Topology::Cluster {
            port,
            masters,
            replicas,
            node_timeout,
        } => {
            let total = masters * (1 + replicas);
            let mut servers = Vec::with_capacity(total);
            for i in 0..total {
                // Cron 10x faster than Redis's: the cluster is ready (and fails over)
                // sooner, with Redis's own formulas.
                let mut config = Config {
                    cluster_enabled: true,
                    cluster_node_timeout: node_timeout,
                    timers: rediscover_testserver::config::Timers::default().faster(10),
                    port: 0,
                    ..Config::default()
                };
                if port != 0 {
                    let p = port + i as u16;
                    config.port = p;
                    config
                        .extra
                        .insert("cluster-port".into(), (p + 10000).to_string());
                }
                servers.push(config);
            }
            let cluster =
                rediscover_testserver::TestCluster::from_configs(servers, masters, replicas)
                    .await
                    .map_err(std::io::Error::other)?;
            for i in 0..total {
                let role = if cluster.masters().contains(&i) {
                    "master"
                } else {
                    "replica"
                };
                let master = cluster
                    .masters()
                    .into_iter()
                    .find(|&m| cluster.replicas_of(m).contains(&i))
                    .map(|m| cluster.node(m).addr().to_string());
                let line = NodeLine {
                    role,
                    addr: cluster.node(i).addr().to_string(),
                    id: cluster.node_id(i),
                    master,
                    master_name: None,
                };
                println!("{}", line.to_json());
            }
            println!("READY");
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            drop(cluster);
            return Ok(());
        }
        Topology::Sentinel(opts) => {
            let (all, dir) = start_sentinel(opts).await?;
            nodes = all;
            scratch = Some(dir);
        }
    }
    println!("READY");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    for node in &nodes {
        node.shutdown();
    }
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// Starts the `sentinel` topology; returns its nodes once the sentinels know everything, and
/// the directory of the sentinels' config files.
async fn start_sentinel(
    o: SentinelOptions,
) -> std::io::Result<(Vec<Arc<Node>>, std::path::PathBuf)> {
    let timers = if o.timers_factor == 1 {
        Timers::default()
    } else {
        Timers::fast(o.timers_factor)
    };
    let (master, line) = start_node(o.port, None, timers.clone()).await?;
    println!("{}", line.to_json());
    let master_addr: SocketAddr = line.addr.parse().map_err(std::io::Error::other)?;
    let mut data = vec![master_addr];
    let mut nodes = vec![master];
    for i in 1..=o.replicas {
        let port = if o.port == 0 { 0 } else { o.port + i as u16 };
        let (node, line) = start_node(port, Some(master_addr), timers.clone()).await?;
        println!("{}", line.to_json());
        data.push(line.addr.parse().map_err(std::io::Error::other)?);
        nodes.push(node);
    }
    let synced: Vec<&Node> = nodes[1..].iter().map(|f| &**f).collect();
    rediscover_testserver::topology::wait_in_sync(&nodes[0], &synced, Duration::from_secs(30))
        .await
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::TimedOut, e))?;
    // Sentinels keep their state in config files, in a directory of their own.
    let dir = std::env::temp_dir().join(format!(
        "rediscover-topology-{}-{}",
        std::process::id(),
        rediscover_testserver::node::random_hex(6)
    ));
    std::fs::create_dir_all(&dir)?;
    let quorum = o.quorum.unwrap_or(o.sentinels as u32 / 2 + 1);
    let name = &o.master_name;
    let mut sentinels = Vec::new();
    for i in 0..o.sentinels {
        let port = if o.sentinel_port == 0 {
            0
        } else {
            o.sentinel_port + i as u16
        };
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let path = dir.join(format!("sentinel-{}.conf", addr.port()));
        std::fs::write(
            &path,
            format!(
                "sentinel monitor {name} {} {} {quorum}\n\
                 sentinel down-after-milliseconds {name} {}\n\
                 sentinel failover-timeout {name} {}\n",
                master_addr.ip(),
                master_addr.port(),
                o.down_after_ms,
                o.failover_timeout_ms
            ),
        )?;
        let mut config = Config {
            port: addr.port(),
            timers: timers.clone(),
            dir: dir.to_string_lossy().into_owned(),
            config_file: Some(path.clone()),
            ..Config::default()
        };
        let conf = rediscover_testserver::sentinel::parse_file(&path, &mut config)
            .map_err(std::io::Error::other)?;
        let node = rediscover_testserver::sentinel::new_node(config, conf, Default::default())
            .map_err(std::io::Error::other)?;
        rediscover_testserver::sentinel::started(&node, addr.port());
        let id = node
            .lock()
            .sentinel
            .as_ref()
            .map(|s| s.id().to_string())
            .unwrap_or_default();
        tokio::spawn(rediscover_testserver::server::run(node.clone(), listener));
        let line = NodeLine {
            role: "sentinel",
            addr: addr.to_string(),
            id,
            master: Some(master_addr.to_string()),
            master_name: Some(name.clone()),
        };
        println!("{}", line.to_json());
        sentinels.push(node);
    }
    let watching: Vec<&Node> = sentinels.iter().map(|s| &**s).collect();
    rediscover_testserver::topology::sentinel::wait_discovered(
        &watching,
        name,
        &data,
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| std::io::Error::new(std::io::ErrorKind::TimedOut, e.to_string()))?;
    nodes.extend(sentinels);
    Ok((nodes, dir))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.first().map(String::as_str), Some("-h" | "--help")) {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let topology = match parse(&args) {
        Ok(t) => t,
        Err(e) => {
            eprint!("rediscover-topology: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rediscover-topology: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(topology)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rediscover-topology: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_escapes() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            parse(&args("standalone --port 0")),
            Ok(Topology::Standalone { port: 0 })
        );
        assert_eq!(
            parse(&args("replication --replicas 2 --port 7000")),
            Ok(Topology::Replication {
                port: 7000,
                replicas: 2
            })
        );
        assert!(parse(&args("standalone --replicas 2")).is_err());
        assert_eq!(
            parse(&args("cluster --masters 3 --replicas 1 --port 0")),
            Ok(Topology::Cluster {
                port: 0,
                masters: 3,
                replicas: 1,
                node_timeout: 2000
            })
        );
        assert!(parse(&args("cluster --masters 0")).is_err());
        assert!(parse(&args("cluster --port 60000")).is_err());
        let Ok(Topology::Sentinel(s)) = parse(&args(
            "sentinel --master-name m --replicas 1 --sentinels 5 --port 0 --sentinel-port 0 --down-after-ms 1000",
        )) else {
            panic!("sentinel options");
        };
        assert_eq!(
            (
                s.master_name.as_str(),
                s.replicas,
                s.sentinels,
                s.port,
                s.down_after_ms
            ),
            ("m", 1, 5, 0, 1000)
        );
        assert!(parse(&args("sentinel --sentinels 0")).is_err());
        assert!(parse(&args("sentinel --quorum 0")).is_err());
        assert!(parse(&args("replication --sentinels 3")).is_err());
        assert!(parse(&args("standalone --port x")).is_err());
        assert_eq!(json_string("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
    }
}
