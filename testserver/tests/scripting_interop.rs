//! Scripts and functions between our server and a real redis-server 7.0, both ways: a real
//! replica of our master gets our libraries in its full sync (RDB_OPCODE_FUNCTION2) and our
//! scripts' effects; our replica of a real master loads the real RDB's libraries and applies
//! the real master's effects and FUNCTION commands.
//!
//! Runs only when REDISCOVER_REAL_REDIS_SERVER names a redis-server binary (7.0):
//!
//! ```text
//! REDISCOVER_REAL_REDIS_SERVER=/usr/bin/redis-server \
//!     cargo test -p rediscover-testserver --test scripting_interop
//! ```

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::dataset::TempDir;
use common::*;

const DEADLINE: Duration = Duration::from_secs(20);

const LIB: &str = "#!lua name=interop\nredis.register_function('setboth', function(k, a) redis.call('set', k[1], a[1]) redis.call('set', k[2], a[1]) return 'ok' end)\nredis.register_function{function_name='peek', callback=function(k) return redis.call('get', k[1]) end, flags={'no-writes'}}";

fn real_redis() -> Option<String> {
    match std::env::var("REDISCOVER_REAL_REDIS_SERVER") {
        Ok(path) if !path.is_empty() => Some(path),
        _ => {
            eprintln!("skipped: set REDISCOVER_REAL_REDIS_SERVER=/path/to/redis-server to run");
            None
        }
    }
}

/// A real redis-server on a free port, killed on drop.
struct Real {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Real {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Real {
    async fn start(binary: &str, extra: &[&str]) -> Real {
        let dir = TempDir::new("script-interop");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir", dir.str()])
            .args(["--repl-diskless-sync-delay", "0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let real = Real {
            child,
            port,
            _dir: dir,
        };
        let up = wait_until(DEADLINE, || async {
            match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(_) => real.conn().await.call(&["PING"]).await == b"+PONG\r\n",
                Err(_) => false,
            }
        })
        .await;
        assert!(up, "redis-server did not start");
        real
    }

    async fn conn(&self) -> RawConn {
        RawConn::connect(([127, 0, 0, 1], self.port).into()).await
    }
}

#[tokio::test]
async fn real_replica_of_our_master() {
    let Some(binary) = real_redis() else { return };
    let master = TestServer::start().await.unwrap();
    let mut m = connect(&master).await;
    assert_eq!(
        m.call(&["FUNCTION", "LOAD", LIB]).await,
        b"$7\r\ninterop\r\n"
    );
    assert_eq!(m.call(&["SET", "before", "1"]).await, b"+OK\r\n");
    let port = master.addr().port().to_string();
    let real = Real::start(&binary, &["--replicaof", "127.0.0.1", &port]).await;
    // The full sync carried the library: the real replica runs it.
    let peek = wait_until(DEADLINE, || async {
        let mut c = real.conn().await;
        c.call(&["FCALL_RO", "peek", "1", "before"]).await == b"$1\r\n1\r\n"
    })
    .await;
    assert!(peek, "the real replica did not load our library");
    // Scripts and functions reach it as their effects.
    assert_eq!(
        m.call(&[
            "EVAL",
            "redis.call('set', KEYS[1], ARGV[1]) return redis.call('incr', KEYS[2])",
            "2",
            "s",
            "n",
            "v"
        ])
        .await,
        b":1\r\n"
    );
    assert_eq!(
        m.call(&["FCALL", "setboth", "2", "a", "b", "x"]).await,
        b"$2\r\nok\r\n"
    );
    let mut r = real.conn().await;
    let caught_up = wait_until(DEADLINE, || async {
        let mut r = real.conn().await;
        r.call(&["GET", "b"]).await == b"$1\r\nx\r\n"
    })
    .await;
    assert!(caught_up, "the real replica did not get the effects");
    assert_eq!(r.call(&["GET", "s"]).await, b"$1\r\nv\r\n");
    assert_eq!(r.call(&["GET", "n"]).await, b"$1\r\n1\r\n");
    assert_eq!(m.call(&["FUNCTION", "DELETE", "interop"]).await, b"+OK\r\n");
    let deleted = wait_until(DEADLINE, || async {
        let mut c = real.conn().await;
        c.call(&["FUNCTION", "LIST"]).await == b"*0\r\n"
    })
    .await;
    assert!(deleted, "FUNCTION DELETE did not reach the real replica");
}

#[tokio::test]
async fn our_replica_of_a_real_master() {
    let Some(binary) = real_redis() else { return };
    let real = Real::start(&binary, &[]).await;
    let mut m = real.conn().await;
    assert_eq!(
        m.call(&["FUNCTION", "LOAD", LIB]).await,
        b"$7\r\ninterop\r\n"
    );
    assert_eq!(m.call(&["SET", "before", "1"]).await, b"+OK\r\n");
    let replica = TestServer::start().await.unwrap();
    let mut r = connect(&replica).await;
    let port = real.port.to_string();
    assert_eq!(r.call(&["REPLICAOF", "127.0.0.1", &port]).await, b"+OK\r\n");
    let peek = wait_until(DEADLINE, || async {
        let mut c = connect(&replica).await;
        c.call(&["FCALL_RO", "peek", "1", "before"]).await == b"$1\r\n1\r\n"
    })
    .await;
    assert!(peek, "our replica did not load the real master's library");
    assert_eq!(
        m.call(&[
            "EVAL",
            "redis.call('set', KEYS[1], ARGV[1]) return redis.call('incr', KEYS[2])",
            "2",
            "s",
            "n",
            "v"
        ])
        .await,
        b":1\r\n"
    );
    assert_eq!(
        m.call(&["FCALL", "setboth", "2", "a", "b", "x"]).await,
        b"$2\r\nok\r\n"
    );
    let caught_up = wait_until(DEADLINE, || async {
        let mut c = connect(&replica).await;
        c.call(&["GET", "b"]).await == b"$1\r\nx\r\n"
    })
    .await;
    assert!(
        caught_up,
        "our replica did not apply the real master's effects"
    );
    assert_eq!(r.call(&["GET", "s"]).await, b"$1\r\nv\r\n");
    assert_eq!(r.call(&["GET", "n"]).await, b"$1\r\n1\r\n");
    assert_eq!(m.call(&["FUNCTION", "LOAD", "REPLACE", "#!lua name=interop\nredis.register_function{function_name='peek2', callback=function(k) return 'v2' end, flags={'no-writes'}}"]).await, b"$7\r\ninterop\r\n");
    let replaced = wait_until(DEADLINE, || async {
        let mut c = connect(&replica).await;
        c.call(&["FCALL_RO", "peek2", "0"]).await == b"$2\r\nv2\r\n"
    })
    .await;
    assert!(replaced, "FUNCTION LOAD REPLACE did not reach our replica");
}
