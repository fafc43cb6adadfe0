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
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use rediscover_testserver::config::Config;
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
}

/// A started node as the JSON line describes it.
struct NodeLine {
    role: &'static str,
    addr: String,
    id: String,
    /// A replica's master.
    master: Option<String>,
}

impl NodeLine {
    fn to_json(&self) -> String {
        let master = self
            .master
            .as_ref()
            .map(|m| format!(",\"master\":{}", json_string(m)))
            .unwrap_or_default();
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
    let mut port = 6379;
    let mut replicas = None;
    let mut masters = 3;
    let mut node_timeout = 2000;
    let mut it = rest.iter();
    while let Some(opt) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match opt.as_str() {
            "--port" => {
                let v = value("--port")?;
                port = v.parse().map_err(|_| format!("invalid port '{v}'"))?;
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
            "--replicas" if kind == "replication" || kind == "cluster" => {
                let v = value("--replicas")?;
                replicas = Some(
                    v.parse()
                        .map_err(|_| format!("invalid replica count '{v}'"))?,
                );
            }
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    match kind.as_str() {
        "standalone" => Ok(Topology::Standalone { port }),
        "replication" => {
            let replicas = replicas.unwrap_or(1);
            if port != 0 && usize::from(port) + replicas > 65535 {
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
        other => Err(format!("unknown topology '{other}'")),
    }
}

/// Starts one node listening on 127.0.0.1:`port`, replicating from `master` if given.
async fn start_node(
    port: u16,
    master: Option<SocketAddr>,
) -> std::io::Result<(Arc<Node>, NodeLine)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let config = Config {
        port: addr.port(),
        replicaof: master.map(|m| (m.ip().to_string(), m.port())),
        ..Config::default()
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
        },
    ))
}

async fn run(topology: Topology) -> std::io::Result<()> {
    // Handlers go in before READY: a harness may signal as soon as it reads it.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut nodes = Vec::new();
    match topology {
        Topology::Standalone { port } => {
            let (node, line) = start_node(port, None).await?;
            println!("{}", line.to_json());
            nodes.push(node);
        }
        Topology::Replication { port, replicas } => {
            let (master, line) = start_node(port, None).await?;
            println!("{}", line.to_json());
            let master_addr: SocketAddr = line.addr.parse().map_err(std::io::Error::other)?;
            let mut followers = Vec::with_capacity(replicas);
            for i in 1..=replicas {
                let port = if port == 0 { 0 } else { port + i as u16 };
                let (node, line) = start_node(port, Some(master_addr)).await?;
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
    }
    println!("READY");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    for node in &nodes {
        node.shutdown();
    }
    Ok(())
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
        assert!(parse(&args("standalone --port x")).is_err());
        assert_eq!(json_string("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
    }
}
