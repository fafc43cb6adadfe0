//! `rediscover-topology`: starts a whole Redis topology in one process for tests in other
//! languages or processes.
//!
//! It prints one JSON line per node (`{"role":"master","addr":"127.0.0.1:6379","id":"..."}`),
//! then `READY`, and runs until SIGINT or SIGTERM.
//!
//! ```text
//! rediscover-topology standalone --port 0
//! ```

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
}

/// A started node as the JSON line describes it.
struct NodeLine {
    role: &'static str,
    addr: String,
    id: String,
}

impl NodeLine {
    fn to_json(&self) -> String {
        format!(
            "{{\"role\":{},\"addr\":{},\"id\":{}}}",
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
    match kind.as_str() {
        "standalone" => {
            let mut port = 6379;
            let mut it = rest.iter();
            while let Some(opt) = it.next() {
                match opt.as_str() {
                    "--port" => {
                        let v = it.next().ok_or("--port needs a value")?;
                        port = v.parse().map_err(|_| format!("invalid port '{v}'"))?;
                    }
                    other => return Err(format!("unknown option '{other}'")),
                }
            }
            Ok(Topology::Standalone { port })
        }
        other => Err(format!("unknown topology '{other}'")),
    }
}

/// Starts one node listening on 127.0.0.1:`port`.
async fn start_node(port: u16) -> std::io::Result<(Arc<Node>, NodeLine)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let config = Config {
        port: addr.port(),
        ..Config::default()
    };
    let node = Node::new(config);
    let id = node.lock().run_id.clone();
    tokio::spawn(rediscover_testserver::server::run(node.clone(), listener));
    Ok((
        node,
        NodeLine {
            role: "master",
            addr: addr.to_string(),
            id,
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
            let (node, line) = start_node(port).await?;
            println!("{}", line.to_json());
            nodes.push(node);
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
        assert!(parse(&args("cluster")).is_err());
        assert!(parse(&args("standalone --port x")).is_err());
        assert_eq!(json_string("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
    }
}
