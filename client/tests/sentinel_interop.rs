//! `SentinelClient` and `SentinelPool` against Redis 7.0's own `redis-server` and
//! `redis-sentinel` processes: the failover scenario of `tests/sentinel.rs` (master SIGKILLed
//! under a write loop; unavailability next to the sentinels' own failover time; writes
//! confirmed by `WAIT 1` kept; the old master, back, never written to).
//!
//! Runs only when the environment names both binaries (skipped otherwise):
//!
//! ```text
//! REDISCOVER_REAL_SENTINEL=/usr/bin/redis-sentinel \
//! REDISCOVER_REAL_REDIS_SERVER=/usr/bin/redis-server \
//!     cargo test -p rediscover --test sentinel_interop -- --nocapture
//! ```
//!
//! The sentinels get `down-after-milliseconds 1000` and shorter periods through
//! `SENTINEL DEBUG` (as `testserver/tests/sentinel_interop.rs` does); their 1 s INFO period
//! for replicas of a failing master is a literal in sentinel.c, so a failover takes them
//! about two seconds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rediscover::sentinel::{NodeAddr, SentinelEvent};
use rediscover::{Commands, Config, Connection, SentinelClient, SentinelConfig, SentinelPool};

const DEADLINE: Duration = Duration::from_secs(30);

fn binary(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(path) if !path.is_empty() => Some(path),
        _ => {
            eprintln!("skipped: set {var} to run");
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A real process on a free port in its own directory; killed (SIGKILL) and the directory
/// removed on drop.
struct Real {
    binary: String,
    args: Vec<String>,
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Real {
    async fn start(binary: &str, conf: &str, extra: &[&str]) -> Real {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "rediscover-sentinel-interop-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.conf");
        std::fs::write(&path, format!("port {port}\ndir {}\n{conf}", dir.display())).unwrap();
        let mut args = vec![
            path.display().to_string(),
            "--logfile".into(),
            dir.join("node.log").display().to_string(),
            "--save".into(),
            String::new(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut real = Real {
            binary: binary.into(),
            args,
            child: None,
            port,
            dir,
        };
        real.spawn().await;
        real
    }

    async fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(c) = Connection::connect(&config_at(self.addr())).await {
                let pong: rediscover::Result<String> = c.cmd("PING").query().await;
                if pong.is_ok() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not start:\n{}",
                self.binary,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGKILL.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default()
    }
}

impl Drop for Real {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config_at(addr: SocketAddr) -> Config {
    Config::default()
        .host(addr.ip().to_string())
        .port(addr.port())
        .connect_timeout(Duration::from_millis(500))
}

async fn raw(addr: SocketAddr) -> Connection {
    Connection::connect(&config_at(addr)).await.unwrap()
}

async fn role(addr: SocketAddr) -> Option<String> {
    let conn = Connection::connect(&config_at(addr)).await.ok()?;
    let reply: Vec<rediscover::resp::Frame> = conn.cmd("ROLE").query().await.ok()?;
    conn.close();
    reply.into_iter().next()?.convert().ok()
}

async fn poll<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A master, two replicas and three sentinels, all real.
struct Deployment {
    servers: Vec<Real>,
    sentinels: Vec<Real>,
}

impl Deployment {
    async fn start(server_bin: &str, sentinel_bin: &str) -> Deployment {
        let fast = ["--repl-diskless-sync-delay", "0"];
        let master = Real::start(server_bin, "", &fast).await;
        let port = master.port.to_string();
        let mut servers = vec![master];
        for _ in 0..2 {
            let mut args = vec!["--replicaof", "127.0.0.1", &port];
            args.extend(fast);
            servers.push(Real::start(server_bin, "", &args).await);
        }
        let m = servers[0].addr();
        for r in &servers[1..] {
            wait_replica_of(r.addr(), m).await;
        }
        let conf = format!(
            "sentinel monitor mymaster {} {} 2\n\
             sentinel down-after-milliseconds mymaster 1000\n\
             sentinel failover-timeout mymaster 3000\n",
            m.ip(),
            m.port()
        );
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            let s = Real::start(sentinel_bin, &conf, &[]).await;
            let c = raw(s.addr()).await;
            let () = c
                .cmd("SENTINEL")
                .arg("DEBUG")
                .arg([
                    "info-period",
                    "500",
                    "publish-period",
                    "200",
                    "ask-period",
                    "100",
                ])
                .query()
                .await
                .unwrap();
            sentinels.push(s);
        }
        let d = Deployment { servers, sentinels };
        d.wait_discovered().await;
        d
    }

    /// Until every sentinel knows both replicas and both other sentinels.
    async fn wait_discovered(&self) {
        for s in &self.sentinels {
            let c = raw(s.addr()).await;
            poll("the sentinels to discover everyone", || async {
                let m: std::collections::HashMap<String, String> = c
                    .cmd("SENTINEL")
                    .arg("MASTER")
                    .arg("mymaster")
                    .query()
                    .await
                    .ok()?;
                (m.get("num-slaves")? == "2" && m.get("num-other-sentinels")? == "2").then_some(())
            })
            .await;
        }
    }

    fn config(&self) -> SentinelConfig {
        SentinelConfig::new("mymaster", self.sentinels.iter().map(|s| s.addr()))
            .node(Config::default().client_name("interop-client"))
    }
}

async fn wait_replica_of(replica: SocketAddr, master: SocketAddr) {
    let want = format!(
        "master_host:{}\r\nmaster_port:{}\r\nmaster_link_status:up",
        master.ip(),
        master.port()
    );
    poll("a replica to follow its master", || async {
        let info: String = raw(replica)
            .await
            .cmd("INFO")
            .arg("replication")
            .query()
            .await
            .ok()?;
        info.contains(&want).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_sentinels_failover_under_a_write_loop() {
    let (Some(server_bin), Some(sentinel_bin)) = (
        binary("REDISCOVER_REAL_REDIS_SERVER"),
        binary("REDISCOVER_REAL_SENTINEL"),
    ) else {
        return;
    };
    let mut d = Deployment::start(&server_bin, &sentinel_bin).await;
    let old = d.servers[0].addr();
    let client = SentinelClient::connect(d.config()).await.unwrap();
    let pool = SentinelPool::connect(d.config()).await.unwrap();
    assert_eq!(client.master().addr, NodeAddr::from(old));
    let mut events = client.events();
    let sentinels: Vec<Connection> = {
        let mut v = Vec::new();
        for s in &d.sentinels {
            v.push(raw(s.addr()).await);
        }
        v
    };

    // SET then WAIT 1, recording when each write was sent and acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    type Acked = Vec<(u64, bool, Instant, Instant)>;
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let writer = {
        let (client, stop, acked) = (client.clone(), stop.clone(), acked.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                if client.set(format!("w:{i}"), i).await.is_ok() {
                    let at = Instant::now();
                    let confirmed = matches!(
                        client.cmd("WAIT").arg(1).arg(50).query::<i64>().await,
                        Ok(n) if n >= 1
                    );
                    acked.lock().unwrap().push((i, confirmed, sent, at));
                } else {
                    errors += 1;
                }
                i += 1;
            }
            errors
        })
    };
    poll("confirmed writes", || async {
        (acked.lock().unwrap().iter().filter(|w| w.1).count() >= 50).then_some(())
    })
    .await;

    let killed = Instant::now();
    d.servers[0].kill();
    let new = poll("a sentinel to name the new master", || async {
        for c in &sentinels {
            let a: Option<(String, String)> = c
                .cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg("mymaster")
                .query()
                .await
                .ok()
                .flatten();
            if let Some(a) = a.and_then(|(h, p)| format!("{h}:{p}").parse::<SocketAddr>().ok()) {
                if a != old && role(a).await.as_deref() == Some("master") {
                    return Some(a);
                }
            }
        }
        None
    })
    .await;
    let server_time = killed.elapsed();
    let first = poll("a write on the new master", || async {
        acked
            .lock()
            .unwrap()
            .iter()
            .find(|w| w.2 > killed)
            .map(|w| w.3)
    })
    .await;
    let gap = first - killed;
    // More confirmed writes on the new master (its other replica resynchronised).
    let before = acked.lock().unwrap().len();
    poll("confirmed writes on the new master", || async {
        let w = acked.lock().unwrap();
        (w[before..].iter().filter(|w| w.1).count() >= 20).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let errors = writer.await.unwrap();
    eprintln!(
        "REAL: sentinels named the new master {:.3} s after the kill; the client's first write \
         there was acknowledged {:.3} s after the kill ({:+.1} ms; {errors} errors meanwhile); \
         stats {:?}",
        server_time.as_secs_f64(),
        gap.as_secs_f64(),
        (gap.as_secs_f64() - server_time.as_secs_f64()) * 1000.0,
        client.stats()
    );
    assert_eq!(client.master().addr, NodeAddr::from(new));
    assert!(
        gap <= server_time + Duration::from_millis(100),
        "client-visible unavailability {gap:?}, server failover {server_time:?}"
    );
    let on_new = raw(new).await;
    let acked = acked.lock().unwrap().clone();
    let mut missing = Vec::new();
    for (i, confirmed, ..) in &acked {
        if *confirmed {
            let v: Option<u64> = on_new.get(format!("w:{i}")).await.unwrap();
            if v != Some(*i) {
                missing.push(*i);
            }
        }
    }
    assert!(missing.is_empty(), "confirmed writes lost: {missing:?}");
    let switched = loop {
        match events.try_recv() {
            Ok(SentinelEvent::Switched { to, cause, .. }) => break (to, cause),
            Ok(_) => {}
            Err(e) => panic!("no Switched event: {e:?}"),
        }
    };
    assert_eq!(switched.0, NodeAddr::from(new));
    eprintln!("REAL: switched by {:?}", switched.1);
    // The pool followed too.
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.connection().peer_addr(), new);
    conn.set("from-pool", 1).await.unwrap();
    drop(conn);

    // The old master comes back, empty and a master until the sentinels convert it.
    d.servers[0].spawn().await;
    let mut k = 0u64;
    let mut checks_as_master = 0;
    loop {
        client.set(format!("back:{k}"), k).await.unwrap();
        k += 1;
        let Ok(conn) = Connection::connect(&config_at(old)).await else {
            continue;
        };
        let mut p = rediscover::Pipeline::new();
        p.cmd("ROLE");
        p.cmd("CLIENT").arg("LIST");
        p.cmd("DBSIZE");
        let Ok((role, clients, keys)) = p
            .query::<(Vec<rediscover::resp::Frame>, String, i64), _>(&conn)
            .await
        else {
            continue;
        };
        conn.close();
        assert!(
            !clients.contains("name=interop-client"),
            "the client connected to the old master:\n{clients}"
        );
        let role: String = role[0].clone().convert().unwrap();
        if role != "master" {
            break;
        }
        checks_as_master += 1;
        assert_eq!(keys, 0, "a write reached the returned master");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    wait_replica_of(old, new).await;
    assert_eq!(client.connection().unwrap().peer_addr(), new);
    eprintln!(
        "REAL: {k} writes while the old master came back ({checks_as_master} checks while it \
         was a master): none reached it"
    );
}
