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
        // `$<len>\r\n` then exactly len bytes of RDB, with no CRLF after it.
        let header = replica.line().await;
        let len: usize = header.strip_prefix('$').unwrap().parse().unwrap();
        let rdb = replica.take(len).await;
        assert_eq!(&rdb[..9], b"REDIS0009");
        replica
    }

    async fn fill(&mut self, want: usize) {
        while self.buf.len() < want {
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), self.conn.stream.read(&mut chunk))
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "stream stalled; have {:?}",
                        String::from_utf8_lossy(&self.buf)
                    )
                })
                .unwrap();
            assert!(n > 0, "master closed the link");
            self.buf.extend_from_slice(&chunk[..n]);
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
