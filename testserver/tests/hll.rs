//! HyperLogLog commands (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST's errors), byte for byte
//! as Redis 7.0.15 answers them: counts, the sparse and dense strings GET returns (recorded
//! from a real Redis, as exact bytes or as an FNV-1a hash of the bytes), the errors for
//! corrupt strings, what replicas receive, and a randomized comparison with a real Redis when
//! `REDISCOVER_REAL_REDIS=host:port` is set.

mod common;

use std::net::ToSocketAddrs;
use std::time::Duration;

use common::{connect, start, RawConn, Rng, TestServer};
use rediscover_testserver::topology::ReplicationSet;

const HLL_WRONGTYPE: &[u8] = b"-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const CORRUPT: &[u8] = b"-INVALIDOBJ Corrupted HLL object detected\r\n";

/// An HLL header: sparse or dense, cached cardinality stale.
fn header(encoding: u8) -> Vec<u8> {
    let mut h = b"HYLL".to_vec();
    h.extend_from_slice(&[encoding, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
    h
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The payload of a bulk reply.
fn bulk_body(reply: &[u8]) -> &[u8] {
    assert_eq!(reply[0], b'$', "not a bulk: {}", reply.escape_ascii());
    let nl = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    &reply[nl + 2..reply.len() - 2]
}

async fn expect(c: &mut RawConn, argv: &[&[u8]], want: &[u8]) {
    let got = call(c, argv).await;
    assert_eq!(
        got.escape_ascii().to_string(),
        want.escape_ascii().to_string(),
        "reply to {:?}",
        argv.iter()
            .map(|a| a.escape_ascii().to_string())
            .collect::<Vec<_>>()
    );
}

async fn call(c: &mut RawConn, argv: &[&[u8]]) -> Vec<u8> {
    let mut buf = bytes::BytesMut::new();
    rediscover::resp::encode_command(&mut buf, argv);
    c.send_raw(&buf).await;
    c.read_raw().await
}

/// Adds `el:from` .. `el:to-1` in batches of 500, as the recording did.
async fn add_range(c: &mut RawConn, key: &str, from: usize, to: usize) {
    let mut i = from;
    while i < to {
        let end = to.min(i + 500);
        let mut argv: Vec<Vec<u8>> = vec![b"PFADD".to_vec(), key.as_bytes().to_vec()];
        argv.extend((i..end).map(|j| format!("el:{j}").into_bytes()));
        let refs: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
        let r = call(c, &refs).await;
        assert!(r == b":1\r\n" || r == b":0\r\n", "{}", r.escape_ascii());
        i = end;
    }
}

#[tokio::test]
async fn the_same_elements_give_redis_counts_and_bytes() {
    // (elements, PFCOUNT, encoding, hash of GET before PFCOUNT, after it, length), recorded
    // from Redis 7.0.15: sparse up to the 3000-byte limit, then dense.
    let golden: &[(usize, i64, &str, u64, u64, usize)] = &[
        (1, 1, "sparse", 0xdb51255458759aef, 0xcf17af4ce8329168, 21),
        (10, 10, "sparse", 0xc2dd351744c12b12, 0xf09b0b0c434960b4, 48),
        (
            100,
            100,
            "sparse",
            0x184f75b6da991433,
            0xa521bddb7ddeb587,
            289,
        ),
        (
            500,
            504,
            "sparse",
            0x9f6dfce7fd0bcd21,
            0x66344e723ef27f4a,
            1038,
        ),
        (
            1000,
            999,
            "sparse",
            0x007d6275b67df980,
            0x5037165bdd54d0fa,
            1892,
        ),
        (
            2000,
            1987,
            "dense",
            0x69190976a9c70b7e,
            0x9355a8cb3876c858,
            12304,
        ),
        (
            5000,
            4959,
            "dense",
            0x6fb8e866361bbd85,
            0x7c74678fbb78dab7,
            12304,
        ),
        (
            100000,
            98893,
            "dense",
            0xcb0c9bd85defa544,
            0x44f403e1c04b3f92,
            12304,
        ),
    ];
    let (_server, mut c) = start().await;
    for &(n, count, enc, before, after, len) in golden {
        let key = format!("n{n}");
        add_range(&mut c, &key, 0, n).await;
        let got = call(&mut c, &[b"GET", key.as_bytes()]).await;
        assert_eq!(bulk_body(&got).len(), len, "{n} elements");
        assert_eq!(
            fnv1a(bulk_body(&got)),
            before,
            "{n} elements: bytes before PFCOUNT"
        );
        expect(
            &mut c,
            &[b"PFCOUNT", key.as_bytes()],
            format!(":{count}\r\n").as_bytes(),
        )
        .await;
        let got = call(&mut c, &[b"GET", key.as_bytes()]).await;
        assert_eq!(fnv1a(bulk_body(&got)), after, "{n} elements: cached count");
        expect(
            &mut c,
            &[b"PFDEBUG", b"ENCODING", key.as_bytes()],
            format!("+{enc}\r\n").as_bytes(),
        )
        .await;
    }
    // The union of several, and merges into a new key (sparse + dense gives dense).
    expect(
        &mut c,
        &[b"PFCOUNT", b"n100", b"n1000", b"n5000"],
        b":4959\r\n",
    )
    .await;
    expect(&mut c, &[b"PFMERGE", b"m", b"n100", b"n1000"], b"+OK\r\n").await;
    let got = call(&mut c, &[b"GET", b"m"]).await;
    assert_eq!(fnv1a(bulk_body(&got)), 0x007d6275b67df980);
    expect(&mut c, &[b"PFCOUNT", b"m"], b":999\r\n").await;
    expect(
        &mut c,
        &[b"PFMERGE", b"m2", b"n100", b"n100000"],
        b"+OK\r\n",
    )
    .await;
    let got = call(&mut c, &[b"GET", b"m2"]).await;
    assert_eq!(fnv1a(bulk_body(&got)), 0xcb0c9bd85defa544);
    expect(&mut c, &[b"PFCOUNT", b"m2"], b":98893\r\n").await;
}

#[tokio::test]
async fn sparse_bytes_cache_and_decode() {
    let (_server, mut c) = start().await;
    expect(&mut c, &[b"PFADD", b"s", b"a", b"b", b"c"], b":1\r\n").await;
    expect(&mut c, &[b"PFADD", b"s", b"a", b"b"], b":0\r\n").await;
    expect(
        &mut c,
        &[b"GET", b"s"],
        b"$27\r\nHYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ\r\n",
    )
    .await;
    expect(&mut c, &[b"PFCOUNT", b"s"], b":3\r\n").await;
    // The count is cached in the header (little endian, top bit clear: valid).
    expect(
        &mut c,
        &[b"GET", b"s"],
        b"$27\r\nHYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00`\xf3\x80P\xb1\x84K\xfb\x80BZ\r\n",
    )
    .await;
    expect(
        &mut c,
        &[b"PFDEBUG", b"DECODE", b"s"],
        b"$44\r\nZ:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603\r\n",
    )
    .await;
    // A cached count is answered as stored, even when it is not the estimate.
    let mut forged = header(1);
    forged[8] = 7;
    forged[15] = 0;
    forged.extend_from_slice(&[0x7f, 0xff]);
    expect(&mut c, &[b"SET", b"f", &forged], b"+OK\r\n").await;
    expect(&mut c, &[b"PFCOUNT", b"f"], b":7\r\n").await;
    expect(&mut c, &[b"PFADD", b"f"], b":0\r\n").await;
    expect(&mut c, &[b"PFCOUNT", b"f"], b":7\r\n").await;
    // An empty PFADD creates an empty sparse HLL with a stale cache.
    expect(&mut c, &[b"PFADD", b"e"], b":1\r\n").await;
    expect(
        &mut c,
        &[b"GET", b"e"],
        b"$18\r\nHYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\r\n",
    )
    .await;
    expect(&mut c, &[b"PFCOUNT", b"e", b"missing"], b":0\r\n").await;
    expect(&mut c, &[b"PFCOUNT", b"missing"], b":0\r\n").await;
    expect(&mut c, &[b"OBJECT", b"ENCODING", b"e"], b"$3\r\nraw\r\n").await;
}

#[tokio::test]
async fn promotion_follows_hll_sparse_max_bytes() {
    let (_server, mut c) = start().await;
    expect(
        &mut c,
        &[b"CONFIG", b"SET", b"hll-sparse-max-bytes", b"60"],
        b"+OK\r\n",
    )
    .await;
    add_range(&mut c, "t", 0, 30).await;
    expect(&mut c, &[b"PFDEBUG", b"ENCODING", b"t"], b"+dense\r\n").await;
    let got = call(&mut c, &[b"GET", b"t"]).await;
    assert_eq!(fnv1a(bulk_body(&got)), 0x136717da0d95a0f0);
    // TODENSE converts once; GETREG reads the registers (and converts a sparse HLL too).
    expect(&mut c, &[b"PFADD", b"u", b"x"], b":1\r\n").await;
    expect(&mut c, &[b"PFDEBUG", b"TODENSE", b"u"], b":1\r\n").await;
    expect(&mut c, &[b"PFDEBUG", b"TODENSE", b"u"], b":0\r\n").await;
    expect(&mut c, &[b"PFDEBUG", b"ENCODING", b"u"], b"+dense\r\n").await;
    let regs = call(&mut c, &[b"PFDEBUG", b"GETREG", b"u"]).await;
    assert!(regs.starts_with(b"*16384\r\n"));
    assert_eq!(regs.windows(4).filter(|w| w == b"\n:0\r").count(), 16383);
    expect(
        &mut c,
        &[b"PFDEBUG", b"DECODE", b"u"],
        b"-ERR HLL encoding is not sparse\r\n",
    )
    .await;
}

#[tokio::test]
async fn errors_are_redis_texts() {
    let (_server, mut c) = start().await;
    expect(&mut c, &[b"SET", b"str", b"hello"], b"+OK\r\n").await;
    expect(&mut c, &[b"LPUSH", b"list", b"a"], b":1\r\n").await;
    expect(&mut c, &[b"PFADD", b"h", b"a"], b":1\r\n").await;
    for argv in [
        &[&b"PFADD"[..], b"str", b"a"][..],
        &[b"PFCOUNT", b"str"],
        &[b"PFCOUNT", b"h", b"str"],
        &[b"PFMERGE", b"h", b"str"],
        &[b"PFMERGE", b"str", b"h"],
        &[b"PFDEBUG", b"GETREG", b"str"],
    ] {
        expect(&mut c, argv, HLL_WRONGTYPE).await;
    }
    for argv in [
        &[&b"PFADD"[..], b"list", b"a"][..],
        &[b"PFCOUNT", b"list"],
        &[b"PFCOUNT", b"h", b"list"],
        &[b"PFMERGE", b"h", b"list"],
        &[b"PFDEBUG", b"GETREG", b"list"],
    ] {
        expect(&mut c, argv, WRONGTYPE).await;
    }
    // A dense HLL must have exactly the dense length; an unknown encoding is not an HLL.
    let mut short_dense = header(0);
    short_dense.extend_from_slice(&[0x7f, 0xff]);
    expect(&mut c, &[b"SET", b"d", &short_dense], b"+OK\r\n").await;
    expect(&mut c, &[b"PFCOUNT", b"d"], HLL_WRONGTYPE).await;
    let mut odd = header(2);
    odd.extend_from_slice(&[0x7f, 0xff]);
    expect(&mut c, &[b"SET", b"d", &odd], b"+OK\r\n").await;
    expect(&mut c, &[b"PFCOUNT", b"d"], HLL_WRONGTYPE).await;

    expect(
        &mut c,
        &[b"PFDEBUG", b"GETREG", b"missing"],
        b"-ERR The specified key does not exist\r\n",
    )
    .await;
    expect(
        &mut c,
        &[b"PFDEBUG", b"Nope", b"h"],
        b"-ERR Unknown PFDEBUG subcommand 'Nope'\r\n",
    )
    .await;
    expect(
        &mut c,
        &[b"PFDEBUG", b"Nope", b"missing"],
        b"-ERR The specified key does not exist\r\n",
    )
    .await;
    expect(
        &mut c,
        &[b"PFDEBUG", b"GETREG"],
        b"-ERR wrong number of arguments for 'pfdebug' command\r\n",
    )
    .await;
    expect(
        &mut c,
        &[b"PFADD"],
        b"-ERR wrong number of arguments for 'pfadd' command\r\n",
    )
    .await;
    expect(
        &mut c,
        &[b"PFSELFTEST", b"x"],
        b"-ERR wrong number of arguments for 'pfselftest' command\r\n",
    )
    .await;
}

#[tokio::test]
async fn corrupt_sparse_strings_are_reported() {
    // (opcodes after the header, replies to PFCOUNT k / PFCOUNT k none / PFMERGE / TODENSE),
    // as the Redis 7.0.15 binary answers them (patched for CVE-2025-32023: any run past the
    // last register is corrupt). PFADD only walks to its register: it answers 1 but for the empty
    // opcode stream.
    let cases: &[&[u8]] = &[
        b"\x7f\xff\x80",     // XZERO 16384 + VAL: one register too many
        b"\x7f\xff\x00",     // XZERO 16384 + ZERO
        b"\x7f\xfe\x81",     // XZERO 16383 + VAL of 2
        b"\x7f\xfe\x00\x00", // 16385 registers of zeros
        b"\x7f",             // XZERO cut short
        b"",                 // no opcodes
        b"\x80\x7f\xfe\x84", // a trailing VAL
        b"\x7f\xfe\x7f\xfe", // two long runs
    ];
    let (_server, mut c) = start().await;
    for body in cases {
        let mut s = header(1);
        s.extend_from_slice(body);
        for argv in [
            &[&b"PFCOUNT"[..], b"k"][..],
            &[b"PFCOUNT", b"k", b"none"],
            &[b"PFMERGE", b"dst", b"k"],
            &[b"PFDEBUG", b"TODENSE", b"k"],
            &[b"PFDEBUG", b"GETREG", b"k"],
        ] {
            expect(&mut c, &[b"SET", b"k", &s], b"+OK\r\n").await;
            expect(&mut c, argv, CORRUPT).await;
            expect(&mut c, &[b"EXISTS", b"dst"], b":0\r\n").await;
        }
        expect(&mut c, &[b"SET", b"k", &s], b"+OK\r\n").await;
        let added: &[u8] = if body.is_empty() { CORRUPT } else { b":1\r\n" };
        expect(&mut c, &[b"PFADD", b"k", b"a"], added).await;
    }
    // A valid one next to them still works.
    let mut s = header(1);
    s.extend_from_slice(b"\x80\x7f\xfe");
    expect(&mut c, &[b"SET", b"k", &s], b"+OK\r\n").await;
    expect(&mut c, &[b"PFCOUNT", b"k"], b":1\r\n").await;
    expect(&mut c, &[b"PFMERGE", b"dst", b"k"], b"+OK\r\n").await;
}

#[tokio::test]
async fn replicas_get_the_same_bytes() {
    let master = TestServer::start().await.unwrap();
    let replica = TestServer::builder()
        .replica_of(master.addr())
        .start()
        .await
        .unwrap();
    let set = ReplicationSet {
        master,
        replicas: vec![replica],
    };
    set.wait_in_sync(Duration::from_secs(10)).await.unwrap();
    let mut m = connect(&set.master).await;
    add_range(&mut m, "a", 0, 100).await;
    add_range(&mut m, "b", 50, 3000).await;
    expect(&mut m, &[b"PFCOUNT", b"a"], b":100\r\n").await;
    expect(&mut m, &[b"PFMERGE", b"c", b"a", b"b"], b"+OK\r\n").await;
    expect(&mut m, &[b"PFADD", b"d", b"x"], b":1\r\n").await;
    expect(&mut m, &[b"PFDEBUG", b"TODENSE", b"d"], b":1\r\n").await;
    set.wait_in_sync(Duration::from_secs(10)).await.unwrap();
    let mut r = connect(&set.replicas[0]).await;
    for key in ["a", "b", "c", "d"] {
        let ours = call(&mut m, &[b"GET", key.as_bytes()]).await;
        let theirs = call(&mut r, &[b"GET", key.as_bytes()]).await;
        assert_eq!(ours, theirs, "{key}");
    }
    // PFCOUNT's cached value reached the replica: the top bit of the count is clear there.
    let a = call(&mut r, &[b"GET", b"a"]).await;
    assert_eq!(bulk_body(&a)[15], 0);
}

/// Random PFADD/PFCOUNT/PFMERGE/PFDEBUG sequences, compared reply by reply (GET included) with
/// a real Redis when `REDISCOVER_REAL_REDIS=host:port` is set.
#[tokio::test]
async fn randomized_against_real_redis() {
    let Ok(target) = std::env::var("REDISCOVER_REAL_REDIS") else {
        eprintln!("real-Redis comparison SKIPPED: set REDISCOVER_REAL_REDIS=host:port");
        return;
    };
    let addr = target
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .expect("REDISCOVER_REAL_REDIS is host:port");
    let (_server, mut ours) = start().await;
    let mut real = RawConn::connect(addr).await;
    expect(&mut real, &[b"SELECT", b"13"], b"+OK\r\n").await;
    expect(&mut real, &[b"FLUSHDB"], b"+OK\r\n").await;
    expect(&mut ours, &[b"SELECT", b"13"], b"+OK\r\n").await;
    let mut rng = Rng(0x5eed_4c11);
    let keys = ["h0", "h1", "h2", "h3", "h4"];
    for step in 0..600 {
        let key = rng.pick(&keys);
        let mut argv: Vec<Vec<u8>> = match rng.below(10) {
            0..=4 => {
                let n = [1, 3, 20, 200][rng.below(4) as usize];
                let range = [50, 1000, 100_000][rng.below(3) as usize];
                let mut a = vec![b"PFADD".to_vec(), key.as_bytes().to_vec()];
                a.extend((0..n).map(|_| format!("m{}", rng.below(range)).into_bytes()));
                a
            }
            5 => vec![b"PFCOUNT".to_vec(), key.as_bytes().to_vec()],
            6 => vec![
                b"PFCOUNT".to_vec(),
                key.as_bytes().to_vec(),
                rng.pick(&keys).as_bytes().to_vec(),
            ],
            7 => vec![
                b"PFMERGE".to_vec(),
                key.as_bytes().to_vec(),
                rng.pick(&keys).as_bytes().to_vec(),
                rng.pick(&keys).as_bytes().to_vec(),
            ],
            8 => vec![
                b"PFDEBUG".to_vec(),
                b"ENCODING".to_vec(),
                key.as_bytes().to_vec(),
            ],
            _ => vec![b"GET".to_vec(), key.as_bytes().to_vec()],
        };
        if step % 150 == 149 {
            let size = ["100", "3000", "10000"][rng.below(3) as usize];
            argv = vec![
                b"CONFIG".to_vec(),
                b"SET".to_vec(),
                b"hll-sparse-max-bytes".to_vec(),
                size.as_bytes().to_vec(),
            ];
        }
        let refs: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
        let want = call(&mut real, &refs).await;
        let got = call(&mut ours, &refs).await;
        assert_eq!(
            got.escape_ascii().to_string(),
            want.escape_ascii().to_string(),
            "step {step}: {:?}",
            argv.iter()
                .map(|a| a.escape_ascii().to_string())
                .collect::<Vec<_>>()
        );
    }
    for key in keys {
        let want = call(&mut real, &[b"GET", key.as_bytes()]).await;
        let got = call(&mut ours, &[b"GET", key.as_bytes()]).await;
        assert_eq!(got, want, "{key}");
    }
    call(
        &mut real,
        &[b"CONFIG", b"SET", b"hll-sparse-max-bytes", b"3000"],
    )
    .await;
    expect(&mut real, &[b"FLUSHDB"], b"+OK\r\n").await;
}
