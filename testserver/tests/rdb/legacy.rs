//! Encodings Redis 7.0 no longer writes but still loads (ziplist, zipmap, intset, quicklist,
//! text scores, expiry in seconds), and function libraries, in hand-built files.

use super::*;

/// A ziplist or listpack entry for hand-built blobs.
enum Entry<'a> {
    S(&'a [u8]),
    I(i64),
}

/// A ziplist (strings under 64 bytes, integers as int8 or int16).
fn ziplist(entries: &[Entry]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    for e in entries {
        let mut entry = vec![prev as u8];
        match e {
            Entry::S(s) => {
                entry.push(s.len() as u8);
                entry.extend_from_slice(s);
            }
            Entry::I(n) => match i8::try_from(*n) {
                Ok(v) => entry.extend_from_slice(&[0xFE, v as u8]),
                Err(_) => {
                    entry.push(0xC0);
                    entry.extend_from_slice(&(*n as i16).to_le_bytes());
                }
            },
        }
        prev = entry.len();
        body.extend_from_slice(&entry);
    }
    let total = 10 + body.len() + 1;
    let mut out = (total as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xFF);
    out
}

/// An RDB built by hand, byte by byte.
struct RdbBuilder(Vec<u8>);

impl RdbBuilder {
    fn new(version: u32) -> Self {
        RdbBuilder(format!("REDIS{version:04}").into_bytes())
    }

    fn op(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }

    /// A raw string with a 6- or 14-bit length.
    fn str(mut self, s: &[u8]) -> Self {
        if s.len() < 64 {
            self.0.push(s.len() as u8);
        } else {
            self.0.push(0x40 | (s.len() >> 8) as u8);
            self.0.push(s.len() as u8);
        }
        self.0.extend_from_slice(s);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.push(0xFF);
        let crc = rdb::crc64(&self.0);
        self.0.extend_from_slice(&crc.to_le_bytes());
        self.0
    }
}

#[test]
fn loads_legacy_encodings() {
    use Entry::{I, S};
    let zipmap = [2, 1, b'a', 1, 0, b'x', 1, b'b', 2, 1, b'y', b'z', 0, 0xFF];
    let mut intset = vec![4, 0, 0, 0, 2, 0, 0, 0];
    intset.extend_from_slice(&(-70_000i32).to_le_bytes());
    intset.extend_from_slice(&5i32.to_le_bytes());
    let data = RdbBuilder::new(6)
        .op(b"\xfa")
        .str(b"lua")
        .str(b"return 1")
        .op(b"\xfe\x00\xfb\x08\x01")
        // FD: expiry in seconds.
        .op(b"\xfd")
        .op(&2_000_000_000i32.to_le_bytes())
        .op(&[10])
        .str(b"zl:list")
        .str(&ziplist(&[S(b"a"), I(7), I(300)]))
        .op(&[13])
        .str(b"zl:hash")
        .str(&ziplist(&[S(b"f"), S(b"v"), S(b"n"), I(12)]))
        .op(&[12])
        .str(b"zl:zset")
        .str(&ziplist(&[S(b"m"), S(b"1.5"), S(b"n"), I(-2)]))
        .op(&[14])
        .str(b"ql:list")
        .op(&[2])
        .str(&ziplist(&[S(b"x"), S(b"y")]))
        .str(&ziplist(&[I(1)]))
        .op(&[9])
        .str(b"zm:hash")
        .str(&zipmap)
        .op(&[11])
        .str(b"is:set")
        .str(&intset)
        // LRU and LFU hints before a key.
        .op(b"\xf8\x05\xf9\x07")
        .op(&[3])
        .str(b"txt:zset")
        .op(&[2])
        .str(b"a")
        .op(b"\x042.25")
        .str(b"b")
        .op(&[254])
        .finish();
    let snap = rdb::load(&data, &LoadOptions::default()).unwrap();
    assert_eq!(snap.version, 6);
    assert_eq!(snap.aux("lua").unwrap(), "return 1");
    let db = &snap.dbs[0];
    assert_eq!(db.len(), 7);
    assert_eq!(db.expire_at(b"zl:list"), Some(2_000_000_000_000));
    let list = |key: &[u8]| match db.peek(key) {
        Some(Value::List(l)) => l.iter().map(Bytes::copy_from_slice).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(list(b"zl:list"), ["a", "7", "300"]);
    assert_eq!(list(b"ql:list"), ["x", "y", "1"]);
    for (key, fields) in [
        (&b"zl:hash"[..], [("f", "v"), ("n", "12")]),
        (b"zm:hash", [("a", "x"), ("b", "yz")]),
    ] {
        let Some(Value::Hash(h)) = db.peek(key) else {
            panic!("{key:?}")
        };
        assert_eq!(h.encoding(), "listpack");
        let got: Vec<_> = h.iter().map(|(f, v)| (f.clone(), v.clone())).collect();
        let want: Vec<_> = fields
            .iter()
            .map(|(f, v)| (Bytes::from(*f), Bytes::from(*v)))
            .collect();
        assert_eq!(got, want);
    }
    let Some(Value::ZSet(z)) = db.peek(b"zl:zset") else {
        panic!()
    };
    assert_eq!((z.score(b"m"), z.score(b"n")), (Some(1.5), Some(-2.0)));
    let Some(Value::ZSet(z)) = db.peek(b"txt:zset") else {
        panic!()
    };
    assert_eq!(
        (z.score(b"a"), z.score(b"b")),
        (Some(2.25), Some(f64::INFINITY))
    );
    let Some(Value::Set(s)) = db.peek(b"is:set") else {
        panic!()
    };
    assert_eq!(s.encoding(), "intset");
    assert_eq!(s.iter().collect::<Vec<_>>(), ["-70000", "5"]);
}

#[test]
fn skips_function_libraries() {
    let data = RdbBuilder::new(10)
        .op(b"\xf5")
        .str(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
        .op(b"\xfe\x00\x00")
        .str(b"k")
        .str(b"v")
        .finish();
    let snap = rdb::load(&data, &LoadOptions::default()).unwrap();
    assert_eq!(snap.dbs[0].len(), 1);
}
