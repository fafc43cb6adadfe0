//! The replication stream byte for byte, as a replica receives it. Expected bytes were captured
//! from a real Redis 7.0.15 master with a raw fake replica (the same handshake as below).

mod common;

use std::time::Duration;

use common::{connect, RawConn, TestServer};
use tokio::io::AsyncReadExt;

/// A fake replica: handshake, PSYNC, snapshot skipped; then exact stream bytes.
struct FakeReplica {
    conn: RawConn,
    buf: Vec<u8>,
}

impl FakeReplica {
    async fn attach(master: &TestServer) -> FakeReplica {
        let mut conn = connect(master).await;
        assert_eq!(conn.call(&["PING"]).await, b"+PONG\r\n");
        assert_eq!(
            conn.call(&["REPLCONF", "listening-port", "9999"]).await,
            b"+OK\r\n"
        );
        assert_eq!(
            conn.call(&["REPLCONF", "capa", "eof", "capa", "psync2"])
                .await,
            b"+OK\r\n"
        );
        conn.send(&["PSYNC", "?", "-1"]).await;
        let mut replica = FakeReplica {
            conn,
            buf: Vec::new(),
        };
        let line = replica.line().await;
        assert!(line.starts_with("+FULLRESYNC "), "{line}");
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "{line}");
        assert_eq!(parts[1].len(), 40, "{line}");
        // Redis's default (repl-diskless-sync yes) for a replica with `capa eof`:
        // `$EOF:<40 chars>\r\n<rdb><the same 40 chars>`, nothing in between.
        let header = replica.line().await;
        let mark = header.strip_prefix("$EOF:").expect("EOF framing");
        assert_eq!(mark.len(), 40, "{header}");
        let rdb = loop {
            if let Some(end) = replica.buf.windows(40).position(|w| w == mark.as_bytes()) {
                let rdb = replica.take(end).await;
                replica.take(40).await;
                break rdb;
            }
            let have = replica.buf.len();
            replica.fill(have + 1).await;
        };
        assert_eq!(&rdb[..9], b"REDIS0009");
        assert_eq!(
            rediscover_testserver::rdb::crc64(&rdb[..rdb.len() - 8]).to_le_bytes(),
            rdb[rdb.len() - 8..]
        );
        // As with Redis, nothing follows an end-mark snapshot until the replica's first ACK.
        assert!(replica.buf.is_empty());
        let offset = parts[2].to_string();
        replica.conn.send(&["REPLCONF", "ACK", &offset]).await;
        replica
    }

    async fn fill(&mut self, want: usize) {
        while self.buf.len() < want {
            let chunk = self.conn.read_unframed().await;
            self.buf.extend_from_slice(&chunk);
        }
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(nl) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.buf[..nl].to_vec()).unwrap();
                self.buf.drain(..nl + 2);
                return line;
            }
            let have = self.buf.len();
            self.fill(have + 1).await;
        }
    }

    async fn take(&mut self, n: usize) -> Vec<u8> {
        self.fill(n).await;
        self.buf.drain(..n).collect()
    }

    /// The next `expected.len()` stream bytes must be `expected`.
    async fn expect(&mut self, what: &str, expected: &[u8]) {
        let got = self.take(expected.len()).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "stream after {what}"
        );
    }
}

/// Runs `argv` on `client`, then a marker write; the stream must carry `expected` and then
/// the marker (so "nothing" is checked too).
async fn check(client: &mut RawConn, replica: &mut FakeReplica, argv: &[&str], expected: &[u8]) {
    for part in argv.split(|a| *a == "|") {
        client.call(part).await;
    }
    client.call(&["SET", "marker", "m"]).await;
    let mut want = expected.to_vec();
    want.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$6\r\nmarker\r\n$1\r\nm\r\n");
    replica.expect(&argv.join(" "), &want).await;
}

#[tokio::test]
async fn stream_bytes_match_redis() {
    let master = TestServer::start().await.unwrap();
    let mut c = connect(&master).await;
    let mut r = FakeReplica::attach(&master).await;

    // The first op after a sync selects its database.
    check(
        &mut c,
        &mut r,
        &["SET", "k", "v"],
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
    )
    .await;
    let cases: &[(&[&str], &[u8])] = &[
        (
            &["SET", "k", "v", "EXAT", "4102444800"],
            b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$13\r\n4102444800000\r\n",
        ),
        (
            &["SET", "k", "v", "PXAT", "4102444800123"],
            b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$13\r\n4102444800123\r\n",
        ),
        (
            &["SET", "k", "v2", "KEEPTTL"],
            b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv2\r\n$7\r\nKEEPTTL\r\n",
        ),
        (
            &["SET", "k", "v3", "GET"],
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv3\r\n",
        ),
        (
            &["SET", "k", "v3", "XX", "GET"],
            b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv3\r\n$2\r\nXX\r\n",
        ),
        (&["SET", "nokey", "v", "XX"], b""),
        (&["SETNX", "k", "zz"], b""),
        (
            &["GETSET", "k2", "yy"],
            b"*3\r\n$3\r\nSET\r\n$2\r\nk2\r\n$2\r\nyy\r\n",
        ),
        (
            &["EXPIREAT", "k", "4102444800"],
            b"*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$13\r\n4102444800000\r\n",
        ),
        (
            &["EXPIREAT", "k", "4102444801", "GT"],
            b"*4\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$13\r\n4102444801000\r\n$2\r\nGT\r\n",
        ),
        (&["EXPIRE", "k", "100", "NX"], b""),
        (&["PERSIST", "k"], b"*2\r\n$7\r\nPERSIST\r\n$1\r\nk\r\n"),
        (&["PERSIST", "k"], b""),
        (
            &["GETEX", "k", "EXAT", "4102444800"],
            b"*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$13\r\n4102444800000\r\n",
        ),
        (&["GETEX", "k", "PERSIST"], b"*2\r\n$7\r\nPERSIST\r\n$1\r\nk\r\n"),
        (&["GETEX", "k"], b""),
        (&["EXPIREAT", "k", "1"], b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"),
        (&["GETDEL", "k2"], b"*2\r\n$3\r\nDEL\r\n$2\r\nk2\r\n"),
        (&["GETDEL", "k2"], b""),
        (
            &["INCRBYFLOAT", "f", "1.5"],
            b"*4\r\n$3\r\nSET\r\n$1\r\nf\r\n$3\r\n1.5\r\n$7\r\nKEEPTTL\r\n",
        ),
        (
            &["HINCRBYFLOAT", "h", "f", "1.5"],
            b"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$3\r\n1.5\r\n",
        ),
        (&["DEL", "missing"], b""),
        (
            &["SELECT", "3", "|", "SET", "k3", "v", "|", "SELECT", "0"],
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nSET\r\n$2\r\nk3\r\n$1\r\nv\r\n\
              *2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n",
        ),
        (
            &["SADD", "s1", "a", "|", "SPOP", "s1", "100"],
            b"*3\r\n$4\r\nSADD\r\n$2\r\ns1\r\n$1\r\na\r\n*2\r\n$3\r\nDEL\r\n$2\r\ns1\r\n",
        ),
        (
            &["SADD", "s1", "a", "|", "SPOP", "s1"],
            b"*3\r\n$4\r\nSADD\r\n$2\r\ns1\r\n$1\r\na\r\n*3\r\n$4\r\nSREM\r\n$2\r\ns1\r\n$1\r\na\r\n",
        ),
        (&["SPOP", "s1", "0"], b""),
        (
            &["LPUSH", "l", "a", "|", "BLPOP", "l", "0"],
            b"*3\r\n$5\r\nLPUSH\r\n$1\r\nl\r\n$1\r\na\r\n*2\r\n$4\r\nLPOP\r\n$1\r\nl\r\n",
        ),
        (
            &["LPUSH", "l", "a", "b", "|", "BLMOVE", "l", "l2", "LEFT", "RIGHT", "0"],
            b"*4\r\n$5\r\nLPUSH\r\n$1\r\nl\r\n$1\r\na\r\n$1\r\nb\r\n\
              *5\r\n$5\r\nLMOVE\r\n$1\r\nl\r\n$2\r\nl2\r\n$4\r\nLEFT\r\n$5\r\nRIGHT\r\n",
        ),
        (
            &["BRPOPLPUSH", "l", "l2", "0"],
            b"*3\r\n$9\r\nRPOPLPUSH\r\n$1\r\nl\r\n$2\r\nl2\r\n",
        ),
        (
            &["LMPOP", "1", "l2", "LEFT", "COUNT", "5"],
            b"*3\r\n$4\r\nLPOP\r\n$2\r\nl2\r\n$1\r\n2\r\n",
        ),
        (&["LPOP", "nolist"], b""),
        (
            &["ZADD", "z", "1", "a", "2", "b", "|", "BZPOPMIN", "z", "0"],
            b"*6\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n\
              *2\r\n$7\r\nZPOPMIN\r\n$1\r\nz\r\n",
        ),
        (
            &["ZMPOP", "1", "z", "MAX", "COUNT", "3"],
            b"*3\r\n$7\r\nZPOPMAX\r\n$1\r\nz\r\n$1\r\n1\r\n",
        ),
        (
            &["MULTI", "|", "SET", "a", "1", "|", "SET", "b", "2", "|", "EXEC"],
            b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n\
              *3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n*1\r\n$4\r\nEXEC\r\n",
        ),
        (
            &["MULTI", "|", "SET", "a", "1", "|", "EXEC"],
            b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
        (&["MULTI", "|", "GET", "a", "|", "EXEC"], b""),
        (
            &["MULTI", "|", "SELECT", "5", "|", "SET", "a", "1", "|", "SELECT", "0", "|", "EXEC"],
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n5\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n\
              *2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n",
        ),
        (
            &["PUBLISH", "ch", "msg"],
            b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$3\r\nmsg\r\n",
        ),
        (&["FLUSHALL"], b"*1\r\n$8\r\nFLUSHALL\r\n"),
        (&["PING"], b""),
    ];
    for (argv, expected) in cases {
        check(&mut c, &mut r, argv, expected).await;
    }
    // Offsets count every byte sent.
    let offset = master.repl_offset();
    assert!(offset > 0);
}

#[tokio::test]
async fn blocked_clients_expired_keys_and_acks_in_the_stream() {
    let master = TestServer::start().await.unwrap();
    master.node().lock().config.active_expire_enabled = false;
    let mut c = connect(&master).await;
    let mut r = FakeReplica::attach(&master).await;
    check(
        &mut c,
        &mut r,
        &["SET", "k", "v"],
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
    )
    .await;

    // A client blocked in BLMOVE, served by a later LPUSH: the push, then the move (Redis
    // spells the ends in lower case on this path).
    let mut blocked = connect(&master).await;
    blocked
        .send(&["BLMOVE", "bm", "bmd", "RIGHT", "LEFT", "0"])
        .await;
    common::wait_until(Duration::from_secs(5), || async {
        master.node().lock().waiters.len() == 1
    })
    .await;
    check(
        &mut c,
        &mut r,
        &["LPUSH", "bm", "q"],
        b"*3\r\n$5\r\nLPUSH\r\n$2\r\nbm\r\n$1\r\nq\r\n\
          *5\r\n$5\r\nLMOVE\r\n$2\r\nbm\r\n$3\r\nbmd\r\n$5\r\nright\r\n$4\r\nleft\r\n",
    )
    .await;
    assert_eq!(blocked.read_raw().await, b"$1\r\nq\r\n");

    // A write to a key found expired: DEL and the write, wrapped. A read: a bare DEL.
    for key in ["e1", "e2"] {
        c.call(&["SET", key, "1", "PX", "1"]).await;
    }
    r.take(2 * 58).await; // the two `SET eN 1 PXAT <13 digits>`
    common::wait_until(Duration::from_secs(5), || async {
        let now = rediscover_testserver::node::unix_ms();
        master.node().lock().dbs[0].is_expired(b"e2", now)
    })
    .await;
    check(
        &mut c,
        &mut r,
        &["INCR", "e1"],
        b"*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$2\r\ne1\r\n*2\r\n$4\r\nINCR\r\n$2\r\ne1\r\n\
          *1\r\n$4\r\nEXEC\r\n",
    )
    .await;
    check(
        &mut c,
        &mut r,
        &["GET", "e2"],
        b"*2\r\n$3\r\nDEL\r\n$2\r\ne2\r\n",
    )
    .await;

    // WAIT asks replicas for their offset through the stream.
    c.call(&["SET", "w", "1"]).await;
    assert_eq!(c.call(&["WAIT", "1", "10"]).await, b":0\r\n");
    r.expect(
        "WAIT",
        b"*3\r\n$3\r\nSET\r\n$1\r\nw\r\n$1\r\n1\r\n*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n",
    )
    .await;
    // Once acknowledged, WAIT answers at once.
    let offset = master.repl_offset().to_string();
    r.conn.send(&["REPLCONF", "ACK", &offset]).await;
    common::wait_until(Duration::from_secs(5), || async {
        master.node().lock().repl.acked(1) == 1
    })
    .await;
    assert_eq!(c.call(&["WAIT", "1", "0"]).await, b":1\r\n");
}

#[tokio::test]
async fn replconf_psync_and_replicaof_errors_are_redis_texts() {
    let master = TestServer::start().await.unwrap();
    let mut c = connect(&master).await;
    let cases: &[(&[&str], &[u8])] = &[
        (&["REPLCONF"], b"+OK\r\n"),
        (&["REPLCONF", "listening-port"], b"-ERR syntax error\r\n"),
        (
            &["REPLCONF", "foo", "bar"],
            b"-ERR Unrecognized REPLCONF option: foo\r\n",
        ),
        (
            &["REPLCONF", "listening-port", "abc"],
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (&["REPLCONF", "capa", "foo"], b"+OK\r\n"),
        (&["REPLCONF", "rdb-only", "0"], b"+OK\r\n"),
        (&["REPLCONF", "rdb-filter-only", ""], b"+OK\r\n"),
        (&["REPLCONF", "rdb-filter-only", "functions"], b"+OK\r\n"),
        (
            &["REPLCONF", "rdb-filter-only", "foo"],
            b"-ERR Unsupported rdb-filter-only option: foo\r\n",
        ),
        (
            &["PSYNC", "a"],
            b"-ERR wrong number of arguments for 'psync' command\r\n",
        ),
        (
            &["PSYNC", "?", "abc"],
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (
            &["REPLICAOF", "127.0.0.1", "abc"],
            b"-ERR Invalid master port\r\n",
        ),
        (
            &["REPLICAOF", "127.0.0.1", "99999"],
            b"-ERR Invalid master port\r\n",
        ),
        (&["REPLICAOF", "NO", "TWO"], b"-ERR Invalid master port\r\n"),
        (&["REPLICAOF", "no", "one"], b"+OK\r\n"),
        (&["SLAVEOF", "NO", "ONE"], b"+OK\r\n"),
        (
            &["WAIT", "abc", "0"],
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (&["WAIT", "0", "0"], b":0\r\n"),
        (&["ROLE"], b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"),
    ];
    for (argv, expected) in cases {
        assert_eq!(
            String::from_utf8_lossy(&c.call(argv).await),
            String::from_utf8_lossy(expected),
            "{argv:?}"
        );
    }
    // REPLCONF ACK and GETACK from a client that is not a replica get no reply at all.
    c.send(&["REPLCONF", "ACK", "5"]).await;
    c.send(&["REPLCONF", "GETACK", "*"]).await;
    assert_eq!(c.call(&["PING"]).await, b"+PONG\r\n");

    // A replica whose link is down cannot serve replicas; REPLICAOF to the same master again
    // is a no-op.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port().to_string();
    drop(dead);
    assert_eq!(c.call(&["REPLICAOF", "127.0.0.1", &port]).await, b"+OK\r\n");
    assert_eq!(
        c.call(&["REPLICAOF", "127.0.0.1", &port]).await,
        b"+OK Already connected to specified master\r\n"
    );
    assert_eq!(
        c.call(&["PSYNC", "?", "-1"]).await,
        b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n"
    );
    assert_eq!(
        c.call(&["PSYNC", "abc", "1", "FAILOVER"]).await,
        b"-ERR PSYNC FAILOVER replid must match my replid.\r\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&c.call(&["ROLE"]).await),
        format!("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{port}\r\n$7\r\nconnect\r\n:-1\r\n")
    );
}

#[tokio::test]
async fn rdb_only_sync_sends_the_snapshot_and_closes() {
    // What `redis-cli --rdb` does.
    let master = TestServer::start().await.unwrap();
    let mut c = connect(&master).await;
    c.call(&["SET", "k", "v"]).await;
    let mut conn = connect(&master).await;
    assert_eq!(conn.call(&["REPLCONF", "rdb-only", "1"]).await, b"+OK\r\n");
    conn.send(&["SYNC"]).await;
    let mut got = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), conn.stream.read(&mut chunk))
            .await
            .expect("the master closes after the snapshot")
            .unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
    }
    let nl = got.windows(2).position(|w| w == b"\r\n").unwrap();
    let len: usize = std::str::from_utf8(&got[1..nl]).unwrap().parse().unwrap();
    assert_eq!(got.len(), nl + 2 + len, "nothing follows the snapshot");
    assert_eq!(&got[nl + 2..nl + 11], b"REDIS0009");
}

#[tokio::test]
async fn disk_style_framing_without_diskless_sync() {
    let master = TestServer::start().await.unwrap();
    let mut c = connect(&master).await;
    assert_eq!(
        c.call(&["CONFIG", "SET", "repl-diskless-sync", "no"]).await,
        b"+OK\r\n"
    );
    c.call(&["SET", "k", "v"]).await;
    let mut conn = connect(&master).await;
    conn.call(&["REPLCONF", "capa", "eof", "capa", "psync2"])
        .await;
    conn.send(&["PSYNC", "?", "-1"]).await;
    let mut replica = FakeReplica {
        conn,
        buf: Vec::new(),
    };
    assert!(replica.line().await.starts_with("+FULLRESYNC "));
    // `$<len>\r\n` then exactly len bytes of RDB, with no CRLF after it.
    let header = replica.line().await;
    let len: usize = header.strip_prefix('$').unwrap().parse().unwrap();
    let rdb = replica.take(len).await;
    assert_eq!(&rdb[..9], b"REDIS0009");
    check(
        &mut c,
        &mut replica,
        &["SET", "a", "1"],
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n",
    )
    .await;
}
