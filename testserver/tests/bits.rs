//! Bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO), byte for
//! byte as Redis 7.0.15 answers them (expected replies were recorded from a real Redis), and
//! what they replicate.

mod common;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{connect, encoding, hello3, put_list, start, RawConn, TestServer};
use rediscover::resp::encode_command;
use rediscover_testserver::keyspace::Value;
use tokio::io::AsyncReadExt;

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const BAD_OFFSET: &[u8] = b"-ERR bit offset is not an integer or out of range\r\n";
const BAD_BIT: &[u8] = b"-ERR bit is not an integer or out of range\r\n";
const NOT_INT: &[u8] = b"-ERR value is not an integer or out of range\r\n";
const SYNTAX: &[u8] = b"-ERR syntax error\r\n";
const BAD_TYPE: &[u8] = b"-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 \
                           is not supported but i64 is.\r\n";

/// Stores raw bytes as a string in db 0 (the helpers in `common` take text).
fn put_bytes(server: &TestServer, key: &str, data: &[u8]) {
    server.node().lock().dbs[0].set(
        Bytes::copy_from_slice(key.as_bytes()),
        Value::from_bytes(Bytes::copy_from_slice(data)),
    );
}

/// The reply to `argv` must be exactly `want` (compared as bytes: values may not be UTF-8).
async fn expect(c: &mut RawConn, argv: &[&str], want: &[u8]) {
    let got = c.call(argv).await;
    assert_eq!(
        got.escape_ascii().to_string(),
        want.escape_ascii().to_string(),
        "reply to {argv:?}"
    );
}

/// Runs `(argv, reply)` pairs in order on one connection.
async fn script(c: &mut RawConn, steps: &[(&[&str], &[u8])]) {
    for (argv, want) in steps {
        expect(c, argv, want).await;
    }
}

#[tokio::test]
async fn setbit_and_getbit() {
    let (server, mut c) = start().await;
    script(
        &mut c,
        &[
            (&["SETBIT", "k", "7", "1"], b":0\r\n"),
            (&["GETBIT", "k", "7"], b":1\r\n"),
            (&["GETBIT", "k", "100"], b":0\r\n"),
            (&["GETBIT", "missing", "3"], b":0\r\n"),
            (&["SETBIT", "k", "7", "1"], b":1\r\n"),
            (&["SETBIT", "k", "7", "0"], b":1\r\n"),
            // The string grows with zero bytes up to the bit's byte.
            (&["SETBIT", "k", "20", "1"], b":0\r\n"),
            (&["GET", "k"], b"$3\r\n\x00\x00\x08\r\n"),
            (&["OBJECT", "ENCODING", "k"], b"$3\r\nraw\r\n"),
            (&["SET", "e", "a"], b"+OK\r\n"),
            (&["SETBIT", "e", "100", "0"], b":0\r\n"),
            (
                &["GET", "e"],
                b"$13\r\na\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\r\n",
            ),
            // An integer-encoded string is unshared (raw) even when no bit changes.
            (&["SET", "s", "1"], b"+OK\r\n"),
            (&["SETBIT", "s", "0", "0"], b":0\r\n"),
            (&["OBJECT", "ENCODING", "s"], b"$3\r\nraw\r\n"),
            (&["GET", "s"], b"$1\r\n1\r\n"),
            (&["GETBIT", "s", "2"], b":1\r\n"),
        ],
    )
    .await;
    // SETBIT keeps the TTL.
    expect(&mut c, &["EXPIRE", "k", "100"], b":1\r\n").await;
    expect(&mut c, &["SETBIT", "k", "0", "1"], b":0\r\n").await;
    expect(&mut c, &["TTL", "k"], b":100\r\n").await;
    put_list(&server, "l", &["a"]);
    expect(&mut c, &["SETBIT", "l", "0", "1"], WRONGTYPE).await;
    expect(&mut c, &["GETBIT", "l", "0"], WRONGTYPE).await;
}

#[tokio::test]
async fn bit_offsets_and_values_are_checked() {
    let (_server, mut c) = start().await;
    script(
        &mut c,
        &[
            (&["SETBIT", "k", "-1", "1"], BAD_OFFSET),
            // 2^32 bits is one byte past 512 MB.
            (&["SETBIT", "k", "4294967296", "1"], BAD_OFFSET),
            // The offset is checked before the value (a 2^32-1 offset would allocate 512 MB).
            (&["SETBIT", "k", "4294967295", "2"], BAD_BIT),
            (&["SETBIT", "k", "x", "1"], BAD_OFFSET),
            (&["SETBIT", "k", "#1", "1"], BAD_OFFSET),
            (&["SETBIT", "k", "1", "-1"], BAD_BIT),
            (&["SETBIT", "k", "1", "x"], BAD_BIT),
            (&["GETBIT", "k", "#1"], BAD_OFFSET),
            (&["GETBIT", "k", "4294967296"], BAD_OFFSET),
            (&["GETBIT", "k", "-1"], BAD_OFFSET),
            (&["GETBIT", "k", "4294967295"], b":0\r\n"),
            (&["EXISTS", "k"], b":0\r\n"),
            (
                &["SETBIT", "k"],
                b"-ERR wrong number of arguments for 'setbit' command\r\n",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn bitcount_ranges() {
    let (server, mut c) = start().await;
    script(
        &mut c,
        &[
            // A missing key is 0 before the arguments are even read.
            (&["BITCOUNT", "missing"], b":0\r\n"),
            (&["BITCOUNT", "missing", "a", "b"], b":0\r\n"),
            (&["BITCOUNT", "missing", "1"], b":0\r\n"),
            (&["SET", "foobar", "foobar"], b"+OK\r\n"),
            (&["BITCOUNT", "foobar"], b":26\r\n"),
            (&["BITCOUNT", "foobar", "0", "0"], b":4\r\n"),
            (&["BITCOUNT", "foobar", "1", "1"], b":6\r\n"),
            (&["BITCOUNT", "foobar", "1", "1", "BYTE"], b":6\r\n"),
            (&["BITCOUNT", "foobar", "5", "30", "BIT"], b":17\r\n"),
            (&["BITCOUNT", "foobar", "-1", "-1"], b":4\r\n"),
            (&["BITCOUNT", "foobar", "-3", "-1", "BIT"], b":1\r\n"),
            // Both negative and inverted: 0, before the unit is looked at.
            (&["BITCOUNT", "foobar", "-1", "-3", "xx"], b":0\r\n"),
            (&["BITCOUNT", "foobar", "-1", "-3"], b":0\r\n"),
            (&["BITCOUNT", "foobar", "1"], SYNTAX),
            (&["BITCOUNT", "foobar", "1", "2", "3", "4"], SYNTAX),
            (&["BITCOUNT", "foobar", "1", "2", "foo"], SYNTAX),
            (&["BITCOUNT", "foobar", "a", "2"], NOT_INT),
            (&["BITCOUNT", "foobar", "1", "a"], NOT_INT),
            (&["BITCOUNT", "foobar", "-100", "100"], b":26\r\n"),
            (&["BITCOUNT", "foobar", "100", "200"], b":0\r\n"),
            (&["BITCOUNT", "foobar", "0", "-100"], b":4\r\n"),
            (&["BITCOUNT", "foobar", "0", "-100", "BIT"], b":0\r\n"),
            (&["BITCOUNT", "foobar", "3", "3", "bit"], b":0\r\n"),
            (
                &[
                    "BITCOUNT",
                    "foobar",
                    "-9223372036854775808",
                    "9223372036854775807",
                    "bit",
                ],
                b":26\r\n",
            ),
            (&["SET", "empty", ""], b"+OK\r\n"),
            (&["BITCOUNT", "empty"], b":0\r\n"),
            (&["BITCOUNT", "empty", "0", "-1", "bit"], b":0\r\n"),
            (&["SET", "n", "12345"], b"+OK\r\n"),
            (&["BITCOUNT", "n"], b":17\r\n"),
        ],
    )
    .await;
    put_list(&server, "l", &["a"]);
    expect(&mut c, &["BITCOUNT", "l"], WRONGTYPE).await;
    expect(&mut c, &["BITCOUNT", "l", "x"], WRONGTYPE).await;
}

#[tokio::test]
async fn bitpos_ranges_and_the_zero_padding_rule() {
    let (server, mut c) = start().await;
    put_bytes(&server, "a", b"\xff\xf0\x00");
    put_bytes(&server, "ff", b"\xff\xff");
    put_bytes(&server, "z", b"\0\0\0\0\0\0\0\0\0\0\0\0\0\x01");
    script(
        &mut c,
        &[
            (&["BITPOS", "a", "0"], b":12\r\n"),
            (&["BITPOS", "a", "1"], b":0\r\n"),
            (&["BITPOS", "a", "0", "1"], b":12\r\n"),
            (&["BITPOS", "a", "0", "2"], b":16\r\n"),
            (&["BITPOS", "a", "0", "3"], b":-1\r\n"),
            (&["BITPOS", "a", "1", "2"], b":-1\r\n"),
            (&["BITPOS", "a", "0", "0", "0"], b":-1\r\n"),
            (&["BITPOS", "a", "0", "0", "11", "BIT"], b":-1\r\n"),
            (&["BITPOS", "a", "0", "0", "12", "BIT"], b":12\r\n"),
            (&["BITPOS", "a", "1", "12", "23", "BIT"], b":-1\r\n"),
            (&["BITPOS", "a", "1", "3", "10", "BIT"], b":3\r\n"),
            (&["BITPOS", "a", "1", "9", "10", "BIT"], b":9\r\n"),
            (&["BITPOS", "a", "0", "9", "14", "BIT"], b":12\r\n"),
            (&["BITPOS", "a", "0", "-1"], b":16\r\n"),
            (&["BITPOS", "a", "0", "-1", "-1", "BIT"], b":23\r\n"),
            (&["BITPOS", "a", "1", "-100", "-1", "bit"], b":0\r\n"),
            (
                &[
                    "BITPOS",
                    "a",
                    "1",
                    "-9223372036854775808",
                    "9223372036854775807",
                    "BIT",
                ],
                b":0\r\n",
            ),
            (&["BITPOS", "a", "0", "9223372036854775807"], b":-1\r\n"),
            // All ones: without an end the first clear bit is just past the string...
            (&["BITPOS", "ff", "0"], b":16\r\n"),
            (&["BITPOS", "ff", "0", "0"], b":16\r\n"),
            (&["BITPOS", "ff", "0", "1"], b":16\r\n"),
            // ...with an explicit end there is none.
            (&["BITPOS", "ff", "0", "0", "-1"], b":-1\r\n"),
            (&["BITPOS", "ff", "0", "2"], b":-1\r\n"),
            (&["BITPOS", "ff", "0", "5", "3"], b":-1\r\n"),
            (&["BITPOS", "ff", "0", "3", "9", "BIT"], b":-1\r\n"),
            (&["BITPOS", "ff", "1", "3", "9", "BIT"], b":3\r\n"),
            (&["BITPOS", "ff", "1", "9", "3", "BIT"], b":-1\r\n"),
            (&["BITPOS", "z", "1"], b":111\r\n"),
            (&["BITPOS", "z", "1", "3"], b":111\r\n"),
            (&["BITPOS", "z", "1", "3", "12"], b":-1\r\n"),
            (&["BITPOS", "z", "0", "3"], b":24\r\n"),
            (&["BITPOS", "z", "1", "0", "-1", "BIT"], b":111\r\n"),
            (&["BITPOS", "z", "1", "0", "110", "BIT"], b":-1\r\n"),
            (&["BITPOS", "z", "1", "0", "111", "BIT"], b":111\r\n"),
            (&["SET", "empty", ""], b"+OK\r\n"),
            (&["BITPOS", "empty", "0"], b":-1\r\n"),
            (&["BITPOS", "empty", "1"], b":-1\r\n"),
            (&["BITPOS", "empty", "0", "0"], b":-1\r\n"),
            (&["BITPOS", "missing", "0"], b":0\r\n"),
            (&["BITPOS", "missing", "1"], b":-1\r\n"),
            (
                &["BITPOS", "missing", "1", "a", "b", "c", "d", "e"],
                b":-1\r\n",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn bitpos_errors_in_redis_order() {
    let (server, mut c) = start().await;
    put_bytes(&server, "a", b"\xff\xf0\x00");
    put_list(&server, "l", &["a"]);
    let must_be = b"-ERR The bit argument must be 1 or 0.\r\n";
    script(
        &mut c,
        &[
            (&["BITPOS", "a", "2"], must_be),
            (&["BITPOS", "missing", "2"], must_be),
            (&["BITPOS", "a", "x"], NOT_INT),
            (&["BITPOS", "a", "0", "x"], NOT_INT),
            (&["BITPOS", "a", "0", "0", "x"], NOT_INT),
            // The unit is read before the end.
            (&["BITPOS", "a", "0", "0", "x", "foo"], SYNTAX),
            (&["BITPOS", "a", "0", "x", "1", "foo"], NOT_INT),
            (&["BITPOS", "a", "0", "0", "1", "foo"], SYNTAX),
            (&["BITPOS", "a", "0", "0", "1", "bit", "extra"], SYNTAX),
            (&["BITPOS", "l", "0"], WRONGTYPE),
            (&["BITPOS", "l", "2"], must_be),
        ],
    )
    .await;
}

#[tokio::test]
async fn bitop_combines_and_deletes() {
    let (server, mut c) = start().await;
    put_bytes(&server, "a", b"\x0f\xf0\xaa");
    put_bytes(&server, "b", b"\xff");
    script(
        &mut c,
        &[
            (&["BITOP", "AND", "d", "a", "b"], b":3\r\n"),
            (&["GET", "d"], b"$3\r\n\x0f\x00\x00\r\n"),
            (&["OBJECT", "ENCODING", "d"], b"$3\r\nraw\r\n"),
            (&["BITOP", "OR", "d", "a", "b"], b":3\r\n"),
            (&["GET", "d"], b"$3\r\n\xff\xf0\xaa\r\n"),
            (&["BITOP", "XOR", "d", "a", "b"], b":3\r\n"),
            (&["GET", "d"], b"$3\r\n\xf0\xf0\xaa\r\n"),
            (&["BITOP", "NOT", "d", "a"], b":3\r\n"),
            (&["GET", "d"], b"$3\r\n\xf0\x0fU\r\n"),
            (&["BITOP", "and", "d", "a", "missing"], b":3\r\n"),
            (&["GET", "d"], b"$3\r\n\x00\x00\x00\r\n"),
            (
                &["BITOP", "NOT", "d", "a", "b"],
                b"-ERR BITOP NOT must be called with a single source key.\r\n",
            ),
            (
                &["BITOP", "NOT", "d"],
                b"-ERR wrong number of arguments for 'bitop' command\r\n",
            ),
            (&["BITOP", "nand", "d", "a"], SYNTAX),
            // An empty result deletes the destination.
            (&["BITOP", "AND", "d", "missing1", "missing2"], b":0\r\n"),
            (&["EXISTS", "d"], b":0\r\n"),
            (&["SET", "e", ""], b"+OK\r\n"),
            (&["SET", "d", "x"], b"+OK\r\n"),
            (&["BITOP", "NOT", "d", "e"], b":0\r\n"),
            (&["EXISTS", "d"], b":0\r\n"),
            // A stored result drops the destination's TTL.
            (&["SET", "d", "x"], b"+OK\r\n"),
            (&["EXPIRE", "d", "100"], b":1\r\n"),
            (&["BITOP", "OR", "d", "a"], b":3\r\n"),
            (&["TTL", "d"], b":-1\r\n"),
            (&["SET", "s", "1"], b"+OK\r\n"),
            (&["BITOP", "OR", "d", "s"], b":1\r\n"),
            (&["OBJECT", "ENCODING", "d"], b"$3\r\nraw\r\n"),
            (&["GET", "d"], b"$1\r\n1\r\n"),
            // A source may be the destination.
            (&["BITOP", "OR", "a", "a", "b"], b":3\r\n"),
            (&["GET", "a"], b"$3\r\n\xff\xf0\xaa\r\n"),
        ],
    )
    .await;
    put_list(&server, "l", &["x"]);
    expect(&mut c, &["BITOP", "OR", "d", "a", "l"], WRONGTYPE).await;
    expect(&mut c, &["BITOP", "OR", "d", "missing", "l"], WRONGTYPE).await;
    // The destination may hold any type: it is replaced.
    expect(&mut c, &["BITOP", "OR", "l", "a"], b":3\r\n").await;
    expect(&mut c, &["TYPE", "l"], b"+string\r\n").await;
    assert_eq!(encoding(&server, "l"), Some("raw"));
}

#[tokio::test]
async fn bitfield_get_set_incrby() {
    let (_server, mut c) = start().await;
    script(
        &mut c,
        &[
            (&["BITFIELD", "k"], b"*0\r\n"),
            (&["BITFIELD", "k", "GET", "u8", "0"], b"*1\r\n:0\r\n"),
            (&["EXISTS", "k"], b":0\r\n"),
            (
                &["BITFIELD", "k", "SET", "u8", "0", "255", "GET", "u8", "0"],
                b"*2\r\n:0\r\n:255\r\n",
            ),
            (
                &["BITFIELD", "k", "INCRBY", "u8", "0", "10", "GET", "i8", "0"],
                b"*2\r\n:9\r\n:9\r\n",
            ),
            (
                &["BITFIELD", "k", "SET", "i5", "7", "23", "GET", "i5", "7", "GET", "u5", "7"],
                b"*3\r\n:-16\r\n:-9\r\n:23\r\n",
            ),
            (
                &["BITFIELD", "k", "SET", "i64", "0", "-1", "GET", "i64", "0", "GET", "u63", "0", "GET", "u63", "1"],
                b"*4\r\n:680043543732944896\r\n:-1\r\n:9223372036854775807\r\n:9223372036854775807\r\n",
            ),
            // #N offsets count in units of the type's width.
            (&["DEL", "k"], b":1\r\n"),
            (
                &["BITFIELD", "k", "SET", "u8", "#2", "7", "GET", "u8", "16", "GET", "u4", "#5"],
                b"*3\r\n:0\r\n:7\r\n:7\r\n",
            ),
            (&["GET", "k"], b"$3\r\n\x00\x00\x07\r\n"),
            (&["BITFIELD", "k", "GET", "u8", "4294967295"], b"*1\r\n:0\r\n"),
            (&["BITFIELD", "k", "GET", "u8", "#536870911"], b"*1\r\n:0\r\n"),
            // #N * bits wraps as in C: 2^61 * 8 is offset 0.
            (
                &["BITFIELD", "k", "GET", "u8", "#2305843009213693952"],
                b"*1\r\n:0\r\n",
            ),
            // The string grows to the farthest written bit; a write to a grown string counts
            // as a change even when the value is 0.
            (&["BITFIELD", "n2", "SET", "u8", "100", "0"], b"*1\r\n:0\r\n"),
            (&["STRLEN", "n2"], b":14\r\n"),
            (&["SET", "s", "12"], b"+OK\r\n"),
            (&["BITFIELD", "s", "GET", "u8", "0"], b"*1\r\n:49\r\n"),
            (&["OBJECT", "ENCODING", "s"], b"$3\r\nint\r\n"),
            (&["BITFIELD", "s", "SET", "u8", "0", "49"], b"*1\r\n:49\r\n"),
            (&["OBJECT", "ENCODING", "s"], b"$3\r\nraw\r\n"),
            (
                &["BITFIELD", "s", "SET", "u4", "62", "15", "GET", "u4", "62", "GET", "i4", "62"],
                b"*3\r\n:0\r\n:15\r\n:-1\r\n",
            ),
            (&["GET", "s"], b"$9\r\n12\x00\x00\x00\x00\x00\x03\xc0\r\n"),
            (
                &["BITFIELD", "w", "SET", "i3", "0", "4", "SET", "i3", "3", "-5", "INCRBY", "i3", "0", "-1", "INCRBY", "u2", "6", "5", "GET", "i9", "0"],
                b"*5\r\n:0\r\n:0\r\n:3\r\n:1\r\n:218\r\n",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn bitfield_overflow_modes() {
    let (_server, mut c) = start().await;
    script(
        &mut c,
        &[
            (&["BITFIELD", "k", "SET", "u8", "0", "255"], b"*1\r\n:0\r\n"),
            (
                &[
                    "BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "300", "INCRBY", "u8",
                    "0", "-1000",
                ],
                b"*2\r\n:255\r\n:0\r\n",
            ),
            (
                &[
                    "BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300", "GET", "u8",
                    "0", "INCRBY", "u8", "0", "-1",
                ],
                b"*3\r\n$-1\r\n:0\r\n$-1\r\n",
            ),
            // Redis's quirk: SET u8 -1 is an overflow (255 when wrapped or saturated).
            (
                &["BITFIELD", "k", "SET", "u8", "0", "-1", "GET", "u8", "0"],
                b"*2\r\n:0\r\n:255\r\n",
            ),
            (
                &[
                    "BITFIELD", "k", "OVERFLOW", "SAT", "SET", "u8", "0", "-1", "GET", "u8", "0",
                ],
                b"*2\r\n:255\r\n:255\r\n",
            ),
            (
                &[
                    "BITFIELD", "k", "OVERFLOW", "SAT", "SET", "i8", "0", "200", "GET", "i8", "0",
                    "SET", "i8", "0", "-200", "GET", "i8", "0",
                ],
                b"*4\r\n:-1\r\n:127\r\n:127\r\n:-128\r\n",
            ),
            (
                &[
                    "BITFIELD", "k", "OVERFLOW", "WRAP", "SET", "i8", "0", "200", "GET", "i8", "0",
                    "SET", "i8", "0", "-200", "GET", "i8", "0",
                ],
                b"*4\r\n:-128\r\n:-56\r\n:-56\r\n:56\r\n",
            ),
            (
                &[
                    "BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "i8", "0", "200", "SET", "i8", "0",
                    "-128", "SET", "u8", "0", "256", "SET", "u8", "0", "-1",
                ],
                b"*4\r\n$-1\r\n:56\r\n$-1\r\n$-1\r\n",
            ),
            (
                &["BITFIELD", "k", "SET", "i64", "0", "-1"],
                b"*1\r\n:-9223372036854775808\r\n",
            ),
            (
                &[
                    "BITFIELD",
                    "k",
                    "INCRBY",
                    "i64",
                    "0",
                    "9223372036854775807",
                    "INCRBY",
                    "i64",
                    "0",
                    "1",
                ],
                b"*2\r\n:9223372036854775806\r\n:9223372036854775807\r\n",
            ),
            (
                &[
                    "BITFIELD",
                    "k",
                    "OVERFLOW",
                    "SAT",
                    "INCRBY",
                    "i64",
                    "0",
                    "9223372036854775807",
                    "INCRBY",
                    "i64",
                    "0",
                    "-9223372036854775808",
                    "INCRBY",
                    "i64",
                    "0",
                    "-9223372036854775808",
                ],
                b"*3\r\n:9223372036854775807\r\n:-1\r\n:-9223372036854775808\r\n",
            ),
            (
                &[
                    "BITFIELD",
                    "k",
                    "OVERFLOW",
                    "WRAP",
                    "INCRBY",
                    "i64",
                    "0",
                    "-9223372036854775808",
                ],
                b"*1\r\n:0\r\n",
            ),
            (
                &[
                    "BITFIELD",
                    "k",
                    "SET",
                    "u63",
                    "3",
                    "9223372036854775807",
                    "INCRBY",
                    "u63",
                    "3",
                    "1",
                    "OVERFLOW",
                    "SAT",
                    "INCRBY",
                    "u63",
                    "3",
                    "-5",
                    "INCRBY",
                    "u63",
                    "3",
                    "9223372036854775807",
                ],
                b"*4\r\n:0\r\n:0\r\n:0\r\n:9223372036854775807\r\n",
            ),
            // OVERFLOW applies to what follows, case-insensitively.
            (
                &[
                    "BITFIELD", "k", "overflow", "Sat", "get", "u8", "0", "set", "u8", "0", "1",
                    "incrby", "u8", "0", "1",
                ],
                b"*3\r\n:31\r\n:31\r\n:2\r\n",
            ),
            // A FAIL that creates the key still leaves it (zero-filled).
            (
                &["BITFIELD", "n", "OVERFLOW", "FAIL", "SET", "u2", "0", "5"],
                b"*1\r\n$-1\r\n",
            ),
            (&["GET", "n"], b"$1\r\n\x00\r\n"),
        ],
    )
    .await;
    // RESP3: the null of FAIL is `_`.
    hello3(&mut c).await;
    expect(
        &mut c,
        &[
            "BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300", "GET", "u8", "0",
        ],
        b"*2\r\n_\r\n:2\r\n",
    )
    .await;
}

#[tokio::test]
async fn bitfield_errors() {
    let (server, mut c) = start().await;
    let u8_nul = "u8\0zz";
    script(
        &mut c,
        &[
            (&["BITFIELD", "k", "GET", "u64", "0"], BAD_TYPE),
            (&["BITFIELD", "k", "GET", "i65", "0"], BAD_TYPE),
            (&["BITFIELD", "k", "GET", "i0", "0"], BAD_TYPE),
            (&["BITFIELD", "k", "GET", "I8", "0"], BAD_TYPE),
            (&["BITFIELD", "k", "GET", "x8", "0"], BAD_TYPE),
            (&["BITFIELD", "k", "GET", "u", "0"], BAD_TYPE),
            (&["BITFIELD", "k", "GET", "", "0"], BAD_TYPE),
            (&["BITFIELD", "k", "GET", "u-1", "0"], BAD_TYPE),
            (&["BITFIELD", "k", "GET", "u+8", "0"], BAD_TYPE),
            (&["BITFIELD", "k", "GET", "u08", "0"], BAD_TYPE),
            // Redis reads the width with strlen: it stops at a NUL.
            (&["BITFIELD", "k", "GET", u8_nul, "0"], b"*1\r\n:0\r\n"),
            (&["BITFIELD", "k", "GET", "u8", "-1"], BAD_OFFSET),
            (&["BITFIELD", "k", "GET", "u8", "4294967296"], BAD_OFFSET),
            (&["BITFIELD", "k", "GET", "u8", "#536870912"], BAD_OFFSET),
            (&["BITFIELD", "k", "GET", "u8", "#-1"], BAD_OFFSET),
            (&["BITFIELD", "k", "GET", "u8", "##1"], BAD_OFFSET),
            (&["BITFIELD", "k", "GET", "u8", "#"], BAD_OFFSET),
            (&["BITFIELD", "k", "GET", "u8", "x"], BAD_OFFSET),
            (&["BITFIELD", "k", "SET", "u8", "0", "x"], NOT_INT),
            (&["BITFIELD", "k", "SET", "u8", "0"], SYNTAX),
            (&["BITFIELD", "k", "GET", "u8"], SYNTAX),
            (&["BITFIELD", "k", "INCRBY", "u8", "0"], SYNTAX),
            (&["BITFIELD", "k", "OVERFLOW"], SYNTAX),
            (
                &["BITFIELD", "k", "OVERFLOW", "foo", "GET", "u8", "0"],
                b"-ERR Invalid OVERFLOW type specified\r\n",
            ),
            (&["BITFIELD", "k", "OVERFLOW", "fail"], b"*0\r\n"),
            (&["BITFIELD", "k", "FOO"], SYNTAX),
            (&["BITFIELD", "k", "GET", "u8", "0", "FOO"], SYNTAX),
            // Everything is parsed before anything runs.
            (
                &["BITFIELD", "k", "SET", "i8", "0", "1", "GET", "u9", "x"],
                BAD_OFFSET,
            ),
            (&["EXISTS", "k"], b":0\r\n"),
        ],
    )
    .await;
    put_list(&server, "l", &["x"]);
    let ro_only = b"-ERR BITFIELD_RO only supports the GET subcommand\r\n";
    script(
        &mut c,
        &[
            (&["BITFIELD", "l", "GET", "u8", "0"], WRONGTYPE),
            (&["BITFIELD", "l", "SET", "u8", "0", "1"], WRONGTYPE),
            (&["BITFIELD", "l"], WRONGTYPE),
            (&["BITFIELD_RO", "l", "GET", "u8", "0"], WRONGTYPE),
            (&["BITFIELD_RO", "l", "SET", "u8", "0", "1"], ro_only),
            (&["SET", "k", "\x02"], b"+OK\r\n"),
            (
                &["BITFIELD_RO", "k", "GET", "u8", "0", "GET", "i4", "4"],
                b"*2\r\n:2\r\n:2\r\n",
            ),
            (
                &["BITFIELD_RO", "k", "GET", "u8", "0", "SET", "u8", "0", "1"],
                ro_only,
            ),
            (&["BITFIELD_RO", "k", "SET", "u8", "0", "x"], NOT_INT),
            (&["BITFIELD_RO", "k", "OVERFLOW", "SAT"], b"*0\r\n"),
            (&["BITFIELD_RO", "k"], b"*0\r\n"),
            (
                &["BITFIELD_RO", "missing", "GET", "u8", "0"],
                b"*1\r\n:0\r\n",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn only_real_changes_touch_watched_keys() {
    let (server, mut c) = start().await;
    let mut other = connect(&server).await;
    expect(&mut c, &["SETBIT", "k", "3", "1"], b":0\r\n").await;
    let no_ops: &[&[&str]] = &[
        &["SETBIT", "k", "3", "1"],
        &["SETBIT", "k", "1", "0"],
        &["BITFIELD", "k", "GET", "u8", "0"],
        &["BITFIELD", "k", "SET", "u4", "0", "1"],
        &[
            "BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u4", "0", "100",
        ],
        &["BITOP", "AND", "k2", "missing"],
    ];
    for cmd in no_ops {
        expect(&mut c, &["WATCH", "k", "k2"], b"+OK\r\n").await;
        other.call(cmd).await;
        expect(&mut c, &["MULTI"], b"+OK\r\n").await;
        expect(&mut c, &["EXEC"], b"*0\r\n").await;
    }
    let writes: &[&[&str]] = &[
        &["SETBIT", "k", "3", "0"],
        &["SETBIT", "k", "100", "0"],
        &["BITFIELD", "k", "SET", "u4", "0", "2"],
        &["BITOP", "NOT", "k2", "k"],
        &["BITOP", "AND", "k2", "missing"],
    ];
    for cmd in writes {
        expect(&mut c, &["WATCH", "k", "k2"], b"+OK\r\n").await;
        other.call(cmd).await;
        expect(&mut c, &["MULTI"], b"+OK\r\n").await;
        expect(&mut c, &["EXEC"], b"*-1\r\n").await;
    }
}

/// A fake replica attached to `master`: handshake, snapshot skipped, first ACK sent.
async fn attach_replica(master: &TestServer) -> RawConn {
    let mut conn = connect(master).await;
    expect(
        &mut conn,
        &["REPLCONF", "capa", "eof", "capa", "psync2"],
        b"+OK\r\n",
    )
    .await;
    conn.send(&["PSYNC", "?", "-1"]).await;
    let mut buf = Vec::new();
    let header_end = loop {
        if let Some(eof) = buf.windows(5).position(|w| w == b"$EOF:") {
            if let Some(nl) = buf[eof..].windows(2).position(|w| w == b"\r\n") {
                break eof + nl + 2;
            }
        }
        read_more(&mut conn, &mut buf).await;
    };
    let first = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let offset = first
        .split(' ')
        .nth(2)
        .expect("offset")
        .split("\r\n")
        .next();
    let mark = first[first.find("$EOF:").expect("mark") + 5..]
        .trim_end()
        .to_string();
    // The snapshot ends with the 40-byte mark repeated.
    while !buf[header_end..].windows(40).any(|w| w == mark.as_bytes()) {
        read_more(&mut conn, &mut buf).await;
    }
    conn.send(&["REPLCONF", "ACK", offset.expect("offset")])
        .await;
    conn
}

async fn read_more(conn: &mut RawConn, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.stream.read(&mut chunk))
        .await
        .expect("replication stream stalled")
        .expect("read");
    assert!(n > 0, "master closed the link");
    buf.extend_from_slice(&chunk[..n]);
}

fn resp(argv: &[&str]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_command(&mut out, argv);
    out.to_vec()
}

/// What Redis 7.0.15 propagated for these commands (checked with a real replica's MONITOR):
/// writes verbatim, no-ops (and a BITFIELD FAIL that only created the key) nothing.
#[tokio::test]
async fn replication_stream() {
    let master = TestServer::start().await.unwrap();
    let mut c = connect(&master).await;
    let mut replica = attach_replica(&master).await;
    let commands: &[(&[&str], bool)] = &[
        (&["SETBIT", "r", "3", "1"], true),
        (&["SETBIT", "r", "3", "1"], false),
        (&["SETBIT", "r", "3", "0"], true),
        (&["BITFIELD", "r", "GET", "u8", "0"], false),
        (
            &["BITFIELD", "r", "SET", "u8", "0", "1", "GET", "u8", "0"],
            true,
        ),
        (&["BITFIELD", "r", "SET", "u8", "0", "1"], false),
        (
            &[
                "BITFIELD", "r", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300",
            ],
            false,
        ),
        (
            &["BITFIELD", "nn", "OVERFLOW", "FAIL", "SET", "u2", "0", "5"],
            false,
        ),
        (
            &[
                "BITFIELD", "r", "INCRBY", "u8", "0", "1", "INCRBY", "u8", "8", "0",
            ],
            true,
        ),
        (&["BITFIELD_RO", "r", "GET", "u8", "0"], false),
        (&["BITOP", "NOT", "d", "r"], true),
        (&["BITOP", "AND", "d", "none"], true),
        (&["BITOP", "AND", "d", "none"], false),
        (&["SET", "end", "1"], true),
    ];
    let mut want = resp(&["SELECT", "0"]);
    for (argv, propagated) in commands {
        c.call(argv).await;
        if *propagated {
            want.extend(resp(argv));
        }
    }
    let mut got = Vec::new();
    while got.len() < want.len() {
        read_more(&mut replica, &mut got).await;
    }
    assert_eq!(
        got.escape_ascii().to_string(),
        want.escape_ascii().to_string()
    );
}

/// A tiny deterministic generator (xorshift), so the random test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// Up to 5 runs of 1 to 30 equal bytes (0x00, 0xFF or random); possibly empty.
fn runs(rng: &mut Rng) -> Vec<u8> {
    let mut data = Vec::new();
    for _ in 0..rng.below(6) {
        let byte = match rng.below(3) {
            0 => 0,
            1 => 0xFF,
            _ => rng.below(256) as u8,
        };
        data.extend(std::iter::repeat(byte).take(rng.range(1, 30) as usize));
    }
    data
}

/// The obvious bit-by-bit model of BITCOUNT/BITPOS over a string's bits.
fn model_bits(data: &[u8]) -> Vec<bool> {
    (0..data.len() * 8)
        .map(|i| data[i / 8] & (0x80 >> (i % 8)) != 0)
        .collect()
}

/// Normalises a BITCOUNT/BITPOS range the way Redis documents it: negative indexes from the
/// end, clamped; `None` when empty. Units of `unit` bits.
fn model_range(start: i64, end: i64, len_bits: usize, unit: usize) -> Option<(usize, usize)> {
    let total = (len_bits / unit) as i64;
    let fix = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (s, e) = (fix(start), fix(end).min(total - 1));
    (s <= e).then(|| (s as usize * unit, e as usize * unit + unit - 1))
}

/// Random SETBIT/GETBIT/BITCOUNT/BITPOS against a naive model of the bits.
#[tokio::test]
async fn random_bit_commands_match_a_model() {
    let (server, mut c) = start().await;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut data: Vec<u8> = Vec::new();
    let mut exists = false;
    for _ in 0..3000 {
        let unit_bit = rng.below(2) == 0;
        let unit = if unit_bit { 1 } else { 8 };
        let (start, end) = (rng.range(-90, 90), rng.range(-90, 90));
        let (s, e) = (start.to_string(), end.to_string());
        let unit_word = if unit_bit { "BIT" } else { "BYTE" };
        let bits = model_bits(&data);
        if rng.below(40) == 0 {
            // Runs of zeros and ones, so the word-at-a-time paths see whole words.
            data = runs(&mut rng);
            put_bytes(&server, "k", &data);
            exists = true;
            continue;
        }
        match rng.below(4) {
            0 => {
                let (off, on) = (rng.below(600) as usize, rng.below(2) == 1);
                exists = true;
                if data.len() <= off / 8 {
                    data.resize(off / 8 + 1, 0);
                }
                let old = data[off / 8] & (0x80 >> (off % 8)) != 0;
                if on {
                    data[off / 8] |= 0x80 >> (off % 8);
                } else {
                    data[off / 8] &= !(0x80 >> (off % 8));
                }
                let want = format!(":{}\r\n", u8::from(old));
                let argv = ["SETBIT", "k", &off.to_string(), if on { "1" } else { "0" }];
                expect(&mut c, &argv, want.as_bytes()).await;
            }
            1 => {
                let off = rng.below(620) as usize;
                let want = format!(":{}\r\n", u8::from(bits.get(off) == Some(&true)));
                expect(&mut c, &["GETBIT", "k", &off.to_string()], want.as_bytes()).await;
            }
            2 => {
                let n = if start < 0 && end < 0 && start > end {
                    0
                } else {
                    model_range(start, end, bits.len(), unit)
                        .map_or(0, |(a, b)| bits[a..=b].iter().filter(|&&x| x).count())
                };
                let want = format!(":{n}\r\n");
                let argv = ["BITCOUNT", "k", &s, &e, unit_word];
                expect(&mut c, &argv, want.as_bytes()).await;
            }
            _ => {
                let bit = rng.below(2) == 1;
                let with_end = rng.below(2) == 0;
                let (unit, end) = if with_end { (unit, end) } else { (8, -1) };
                let pos = match model_range(start, end, bits.len(), unit) {
                    // A missing key is an endless run of zeros.
                    _ if !exists => -i64::from(bit),
                    None => -1,
                    Some((a, b)) => match (a..=b).find(|&i| bits[i] == bit) {
                        Some(i) => i as i64,
                        None if !bit && !with_end => b as i64 + 1,
                        None => -1,
                    },
                };
                let want = format!(":{pos}\r\n");
                let b = if bit { "1" } else { "0" };
                if with_end {
                    expect(
                        &mut c,
                        &["BITPOS", "k", b, &s, &e, unit_word],
                        want.as_bytes(),
                    )
                    .await;
                } else {
                    expect(&mut c, &["BITPOS", "k", b, &s], want.as_bytes()).await;
                }
            }
        }
    }
}

/// A random bitmap command line (ASCII arguments) over keys `k1`, `k2` and `missing`.
fn random_command(rng: &mut Rng) -> Vec<String> {
    let keys = ["k1", "k2", "missing"];
    let key = keys[rng.below(3) as usize].to_string();
    let index = |rng: &mut Rng| match rng.below(4) {
        0 => rng.range(-300, 300).to_string(),
        1 => rng.range(-3, 3).to_string(),
        2 => i64::MIN.to_string(),
        _ => i64::MAX.to_string(),
    };
    let ty = |rng: &mut Rng| {
        let signed = rng.below(2) == 0;
        let bits = rng.range(1, if signed { 64 } else { 63 });
        format!("{}{bits}", if signed { "i" } else { "u" })
    };
    let value = |rng: &mut Rng| match rng.below(4) {
        0 => rng.range(-300, 300).to_string(),
        1 => (rng.next() as i64).to_string(),
        2 => i64::MIN.to_string(),
        _ => i64::MAX.to_string(),
    };
    let mut cmd: Vec<String> = Vec::new();
    let mut push = |parts: &[&str]| cmd.extend(parts.iter().map(|p| p.to_string()));
    match rng.below(7) {
        0 => push(&[
            "SETBIT",
            &key,
            &rng.below(300).to_string(),
            &rng.below(2).to_string(),
        ]),
        1 => push(&["GETBIT", &key, &rng.below(310).to_string()]),
        2 => {
            push(&["BITCOUNT", &key]);
            if rng.below(5) > 0 {
                push(&[&index(rng), &index(rng)]);
            }
            if rng.below(2) == 0 {
                push(&[["BIT", "BYTE", "bit"][rng.below(3) as usize]]);
            }
        }
        3 => {
            push(&["BITPOS", &key, &rng.below(2).to_string()]);
            let n = rng.below(4);
            if n >= 1 {
                push(&[&index(rng)]);
            }
            if n >= 2 {
                push(&[&index(rng)]);
            }
            if n >= 3 {
                push(&[["BIT", "BYTE"][rng.below(2) as usize]]);
            }
        }
        4 => {
            let op = ["AND", "OR", "XOR", "NOT"][rng.below(4) as usize];
            push(&["BITOP", op, keys[rng.below(3) as usize]]);
            let n = if op == "NOT" { 1 } else { rng.range(1, 4) };
            for _ in 0..n {
                push(&[keys[rng.below(3) as usize]]);
            }
        }
        _ => {
            push(&[
                ["BITFIELD", "BITFIELD_RO"][rng.below(3).min(1) as usize],
                &key,
            ]);
            for _ in 0..rng.below(5) {
                let offset = match rng.below(5) {
                    0 => format!("#{}", rng.below(6)),
                    _ => rng.below(200).to_string(),
                };
                match rng.below(7) {
                    0 | 1 => push(&["GET", &ty(rng), &offset]),
                    2 | 3 => push(&["SET", &ty(rng), &offset, &value(rng)]),
                    4 | 5 => push(&["INCRBY", &ty(rng), &offset, &value(rng)]),
                    _ => push(&["OVERFLOW", ["WRAP", "SAT", "FAIL"][rng.below(3) as usize]]),
                }
            }
        }
    }
    cmd
}

/// Random bitmap commands against a real Redis 7.0 when `REDISCOVER_REAL_REDIS=host:port` is
/// set (in its database 13, flushed first): every reply must be byte-identical. Skipped
/// otherwise.
#[tokio::test]
async fn random_commands_match_real_redis() {
    let Ok(target) = std::env::var("REDISCOVER_REAL_REDIS") else {
        eprintln!("real-Redis comparison SKIPPED: set REDISCOVER_REAL_REDIS=host:port");
        return;
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&target)
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("REDISCOVER_REAL_REDIS={target:?} is not host:port"));
    let mut real = RawConn::connect(addr).await;
    let (_server, mut ours) = start().await;
    for c in [&mut real, &mut ours] {
        assert_eq!(c.call(&["SELECT", "13"]).await, b"+OK\r\n");
        assert_eq!(c.call(&["FLUSHDB"]).await, b"+OK\r\n");
    }
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for i in 0..4000 {
        let cmd = random_command(&mut rng);
        let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let want = real.call(&argv).await;
        let got = ours.call(&argv).await;
        assert_eq!(
            got.escape_ascii().to_string(),
            want.escape_ascii().to_string(),
            "step {i}: {argv:?}"
        );
        if i % 50 == 0 {
            for key in ["k1", "k2"] {
                assert_eq!(
                    ours.call(&["GET", key]).await,
                    real.call(&["GET", key]).await
                );
            }
        }
    }
}
