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

/// Scripts whose replies depend on conversions and error texts, run on a real redis-server and
/// on ours, over RESP2 and RESP3, compared byte for byte: `redis.setresp(3)` conversions both
/// ways, `redis.log`, `redis.error_reply`/`status_reply`, `error()` with odd values, and the
/// errors of common script mistakes.
#[tokio::test]
async fn conversions_and_errors_match_real_redis() {
    let Some(binary) = real_redis() else { return };
    let real = Real::start(&binary, &[]).await;
    let ours = TestServer::start().await.unwrap();
    const SETUP: &[&[&str]] = &[
        &["HSET", "h", "f", "v", "g", "1"],
        &["SADD", "s", "m"],
        &["ZADD", "z", "1.5", "a", "2", "b"],
        &["SET", "str", "hello"],
        &["RPUSH", "l", "x", "y"],
    ];
    const SCRIPTS: &[&str] = &[
        "redis.setresp(3) return redis.call('hgetall', 'h')",
        "redis.setresp(3) local r = redis.call('hgetall', 'h') return {type(r), type(r.map), r.map.f}",
        "redis.setresp(3) return redis.call('smembers', 's')",
        "redis.setresp(3) local r = redis.call('smembers', 's') return {type(r.set), tostring(r.set.m)}",
        "redis.setresp(3) return redis.call('zscore', 'z', 'a')",
        "redis.setresp(3) local r = redis.call('zscore', 'z', 'a') return {type(r), tostring(r.double)}",
        "redis.setresp(3) return redis.call('zrange', 'z', 0, -1, 'withscores')",
        "redis.setresp(3) return redis.call('get', 'nokey')",
        "redis.setresp(3) return {redis.call('get', 'nokey') == nil, type(redis.call('get', 'nokey'))}",
        "redis.setresp(3) return redis.call('exists', 'str')",
        "redis.setresp(3) return redis.call('ping')",
        "redis.setresp(3) return redis.call('lrange', 'l', 0, -1)",
        "redis.setresp(3) return redis.pcall('incr', 'str')",
        "redis.setresp(2) return redis.call('hgetall', 'h')",
        "return redis.call('zscore', 'z', 'a')",
        "return {map={a=1, b={1, 2}}}",
        "return {set={a=true, b=true}}",
        "return {double=3.5}",
        "return {double='x'}",
        "return {big_number='12345678901234567890'}",
        "return {verbatim_string={format='txt', string='hi'}}",
        "return true",
        "return false",
        "return nil",
        "return {1, false, 'x', {err='E nested'}}",
        "return {ok='fine'}",
        "return 7.9",
        "return -0.5",
        "return redis.log(redis.LOG_WARNING, 'from a script')",
        "return redis.log(redis.LOG_DEBUG, 'a', 'b', 3)",
        "return redis.log(redis.LOG_WARNING)",
        "return redis.log('x', 'y')",
        "return redis.log(99, 'x')",
        "return redis.log(redis.LOG_NOTICE, {})",
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
        "return redis.error_reply('MY error')",
        "return redis.error_reply()",
        "return redis.error_reply(12)",
        "return redis.status_reply()",
        "return redis.status_reply(12)",
        // Not `error({})`: it crashes Redis 7.0.15 (a NULL `err` field).
        "error()",
        "error(123)",
        "error({err=123})",
        "error('with level', 2)",
        "return redis.call('incr')",
        "return redis.call()",
        "return redis.call(nil)",
        "return redis.call('get', {})",
        "return redis.call('get', nil)",
        "return redis.call('get', 1.5)",
        "return redis.call('set', 'k', true)",
        "redis.call('set', 'num', 1e17) return redis.call('get', 'num')",
        "redis.call('set', 'num', 123456789012) return redis.call('get', 'num')",
        "redis.call('set', 'num', -0.1) return redis.call('get', 'num')",
        "return redis.pcall('nosuch')",
        "return redis.pcall('incr', 'str')",
        "return {redis.pcall('incr', 'str')}",
        "local ok, e = pcall(redis.call, 'incr', 'str') return e",
        "local ok, e = pcall(error, 'x') return e",
        "return redis.setresp()",
        "return redis.setresp('3')",
        "return redis.set_repl(99)",
        "return redis.breakpoint()",
        "return redis.debug('x')",
        "return redis.sha1hex(1)",
        "return redis.sha1hex(1e15)",
        "return redis.sha1hex(0.1)",
        "return redis.sha1hex({})",
        "return tostring(nil) .. nil",
        "local t = setmetatable({}, {__index = function() error('meta') end}) return t.x",
        "return string.rep('x', -1)",
        "return #KEYS, #ARGV",
        "return math.huge",
        "return -math.huge",
        "return 0/0",
        "return {1, 2, nil, 4}",
        "return {[1]=1, [3]=3}",
        "return {a=1}",
    ];
    for resp3 in [false, true] {
        let mut r = real.conn().await;
        let mut o = connect(&ours).await;
        if resp3 {
            // The HELLO replies differ (server name, id): only the protocol switch matters.
            assert!(r.call(&["HELLO", "3"]).await.starts_with(b"%7"));
            assert!(o.call(&["HELLO", "3"]).await.starts_with(b"%7"));
        }
        for argv in SETUP {
            r.call(argv).await;
            o.call(argv).await;
        }
        for script in SCRIPTS {
            let argv = ["EVAL", script, "0"];
            let want = r.call(&argv).await;
            let got = o.call(&argv).await;
            assert_eq!(
                got.escape_ascii().to_string(),
                want.escape_ascii().to_string(),
                "RESP{}: {script}",
                if resp3 { 3 } else { 2 }
            );
        }
    }
}
