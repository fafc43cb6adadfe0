//! What replicas get from RESTORE: the stream bytes Redis 7.0.15 sends, absolute TTLs, DEL for
//! an expired RESTORE REPLACE, and a replica's own handling of expired RESTOREs.

use super::*;

#[tokio::test]
async fn replicas_get_absolute_ttls_and_deletes() {
    let master = TestServer::start().await.unwrap();
    let replica = TestServer::builder()
        .replica_of(master.addr())
        .start()
        .await
        .unwrap();
    let mut c = connect(&master).await;
    assert!(
        wait_until(Duration::from_secs(10), || {
            let node = master.node().clone();
            async move { !node.lock().repl.replicas.is_empty() }
        })
        .await
    );
    let p = fixture("zset_lp");
    assert_eq!(restore(&mut c, "z", "100000", &p, &[]).await, b"+OK\r\n");
    assert_reply!(c, ["SET", "old", "v"], b"+OK\r\n");
    assert_eq!(
        restore(&mut c, "old", "1", &p, &["ABSTTL", "REPLACE"]).await,
        b"+OK\r\n"
    );
    assert_reply!(c, ["SET", "done", "1"], b"+OK\r\n");
    assert!(
        wait_until(Duration::from_secs(10), || {
            let node = replica.node().clone();
            async move { node.lock().dbs[0].peek(b"done").is_some() }
        })
        .await
    );
    let master_at = master.node().lock().dbs[0].expire_at(b"z");
    let replica_node = replica.node().lock();
    let db = &replica_node.dbs[0];
    // The same absolute expiry: the relative TTL was rewritten as `<unix ms> ... ABSTTL`.
    assert!(master_at.is_some());
    assert_eq!(db.expire_at(b"z"), master_at);
    assert_eq!(db.peek(b"z").map(|v| v.encoding()), Some("listpack"));
    // The expired RESTORE REPLACE went out as DEL.
    assert!(db.peek(b"old").is_none());
}

/// On a replica an already expired RESTORE still creates the key (Redis's `checkAlreadyExpired`
/// is false with a master): the master's DEL removes it.
#[tokio::test]
async fn writable_replica_keeps_an_expired_restore() {
    let master = TestServer::start().await.unwrap();
    let config = rediscover_testserver::config::Config {
        replica_read_only: false,
        ..Default::default()
    };
    let replica = TestServer::builder()
        .config(config)
        .replica_of(master.addr())
        .start()
        .await
        .unwrap();
    // Synced first, so no full sync replaces the data under the test.
    let mut m = connect(&master).await;
    assert_reply!(m, ["SET", "synced", "1"], b"+OK\r\n");
    let node = replica.node().clone();
    let synced = || {
        let node = node.clone();
        async move { node.lock().dbs[0].peek(b"synced").is_some() }
    };
    assert!(wait_until(Duration::from_secs(10), synced).await);
    let mut r = connect(&replica).await;
    let p = fixture("str_int");
    assert_eq!(restore(&mut r, "k", "1", &p, &["ABSTTL"]).await, b"+OK\r\n");
    assert_eq!(replica.node().lock().dbs[0].expire_at(b"k"), Some(1));
}

/// A replica's view of the stream: SYNC, skip the snapshot, then raw bytes.
struct StreamReader {
    conn: RawConn,
    buf: Vec<u8>,
}

impl StreamReader {
    async fn attach(master: &TestServer) -> StreamReader {
        let mut conn = connect(master).await;
        conn.send_raw(b"SYNC\r\n").await;
        let mut r = StreamReader {
            conn,
            buf: Vec::new(),
        };
        // Plain SYNC without `capa eof`: `$<len>\r\n<rdb>` (newlines may precede it).
        loop {
            r.fill(r.buf.len() + 1).await;
            while r.buf.first() == Some(&b'\n') {
                r.buf.remove(0);
            }
            if let Some(nl) = r.buf.windows(2).position(|w| w == b"\r\n") {
                let len: usize = std::str::from_utf8(&r.buf[1..nl]).unwrap().parse().unwrap();
                r.fill(nl + 2 + len).await;
                r.buf.drain(..nl + 2 + len);
                return r;
            }
        }
    }

    async fn fill(&mut self, want: usize) {
        use tokio::io::AsyncReadExt;
        while self.buf.len() < want {
            let mut chunk = [0u8; 4096];
            let read = self.conn.stream.read(&mut chunk);
            let n = tokio::time::timeout(Duration::from_secs(5), read)
                .await
                .expect("stream stalled")
                .unwrap();
            assert!(n > 0, "master closed the link");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next stream bytes must be `want`.
    async fn expect(&mut self, want: &[u8]) {
        self.fill(want.len()).await;
        let got: Vec<u8> = self.buf.drain(..want.len()).collect();
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
    }
}

/// What Redis 7.0.15 propagates (recorded with a fake replica on a real master): RESTORE
/// verbatim without a TTL or with ABSTTL; a relative TTL as `<unix ms>` plus a trailing ABSTTL;
/// DEL for an expired RESTORE REPLACE over a key; nothing for an expired one that creates nothing.
#[tokio::test]
async fn propagated_stream_matches_redis() {
    let master = TestServer::start().await.unwrap();
    let mut c = connect(&master).await;
    let mut r = StreamReader::attach(&master).await;
    let p = fixture("str_embstr");
    assert_eq!(restore(&mut c, "a", "0", &p, &[]).await, b"+OK\r\n");
    r.expect(&resp(&[b"SELECT", b"0"])).await;
    r.expect(&resp(&[b"RESTORE", b"a", b"0", &p])).await;
    assert_eq!(
        restore(&mut c, "b", "100000", &p, &["replace", "FREQ", "3"]).await,
        b"+OK\r\n"
    );
    let at = master.node().lock().dbs[0]
        .expire_at(b"b")
        .unwrap()
        .to_string();
    let b_op = [
        b"RESTORE".as_slice(),
        b"b",
        at.as_bytes(),
        &p,
        b"replace",
        b"FREQ",
        b"3",
        b"ABSTTL",
    ];
    r.expect(&resp(&b_op)).await;
    assert_eq!(restore(&mut c, "c", &at, &p, &["ABSTTL"]).await, b"+OK\r\n");
    r.expect(&resp(&[b"RESTORE", b"c", at.as_bytes(), &p, b"ABSTTL"]))
        .await;
    assert_eq!(restore(&mut c, "e", "1", &p, &["ABSTTL"]).await, b"+OK\r\n");
    assert_eq!(
        restore(&mut c, "a", "1", &p, &["ABSTTL", "REPLACE"]).await,
        b"+OK\r\n"
    );
    r.expect(&resp(&[b"DEL", b"a"])).await;
    // Errors propagate nothing.
    assert_eq!(
        restore(&mut c, "b", "0", &p, &[]).await,
        b"-BUSYKEY Target key name already exists.\r\n"
    );
    assert_reply!(c, ["SET", "marker", "m"], b"+OK\r\n");
    r.expect(&resp(&[b"SET", b"marker", b"m"])).await;
}
