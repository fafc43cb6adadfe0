//! DEBUG DIGEST and DEBUG DIGEST-VALUE: Redis's dataset signature (`computeDatasetDigest`,
//! `xorObjectDigest` in debug.c), so that a dataset here and the same dataset in Redis give the
//! same hex string, and tests (and `redis-cli --cluster fix`) can compare nodes by digest.
//!
//! Unordered collections (the keys of a db, set members, hash fields, sorted-set members) are
//! combined with XOR of per-element SHA1s, so their order does not matter; ordered data (list
//! items, stream entries, a key and its value) goes through `mix`, SHA1 of the running digest.

use super::{Db, Value};
use crate::script::sha1::sha1;

/// A 20-byte digest.
pub type Digest = [u8; 20];

/// `xorDigest`: XORs SHA1(`data`) into `digest`.
fn xor(digest: &mut Digest, data: &[u8]) {
    for (d, h) in digest.iter_mut().zip(sha1(data)) {
        *d ^= h;
    }
}

/// `mixDigest`: `digest = SHA1(digest xor SHA1(data))`.
fn mix(digest: &mut Digest, data: &[u8]) {
    xor(digest, data);
    *digest = sha1(&digest[..]);
}

/// Redis's type codes (`OBJ_STRING`...), which start each value's digest.
fn type_code(value: &Value) -> u32 {
    match value {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// `%.17g`, as Redis prints a sorted-set score for the digest.
fn score_text(score: f64) -> String {
    rediscover::resp::format_double(score)
}

/// `xorObjectDigest`: mixes `value` (and whether it has an expiry) into `digest`.
pub fn value_digest(digest: &mut Digest, value: &Value, has_expiry: bool) {
    mix(digest, &type_code(value).to_be_bytes());
    match value {
        Value::Str(s) => mix(digest, &s.data),
        Value::List(l) => {
            for item in l.iter() {
                mix(digest, item);
            }
        }
        Value::Set(s) => {
            for member in s.iter() {
                xor(digest, &member);
            }
        }
        Value::ZSet(z) => {
            for (member, score) in z.iter() {
                let mut element = [0u8; 20];
                mix(&mut element, member);
                mix(&mut element, score_text(score).as_bytes());
                xor(digest, &element);
            }
        }
        Value::Hash(h) => {
            for (field, value) in h.iter() {
                let mut element = [0u8; 20];
                mix(&mut element, field);
                mix(&mut element, value);
                xor(digest, &element);
            }
        }
        Value::Stream(s) => {
            use super::stream::StreamId;
            for entry in s.range(StreamId::MIN, StreamId::MAX, false, 0) {
                mix(
                    digest,
                    format!("{}.{}", entry.id.ms, entry.id.seq).as_bytes(),
                );
                for item in &entry.items {
                    mix(digest, item);
                }
            }
        }
    }
    if has_expiry {
        xor(digest, b"!!expire!!");
    }
}

/// DEBUG DIGEST-VALUE of one key: zeros when it does not exist (expired keys still count, as
/// Redis looks the dict up directly).
pub fn key_digest(db: &Db, key: &[u8]) -> Digest {
    let mut digest = [0u8; 20];
    if let Some(value) = db.peek(key) {
        value_digest(&mut digest, value, db.expire_at(key).is_some());
    }
    digest
}

/// `computeDatasetDigest`: every non-empty db's index, then the XOR of its keys' digests.
pub fn dataset_digest(dbs: &[Db]) -> Digest {
    let mut out = [0u8; 20];
    for (index, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix(&mut out, &(index as u32).to_be_bytes());
        for (key, value) in db.iter() {
            let mut digest = [0u8; 20];
            mix(&mut digest, key);
            value_digest(&mut digest, value, db.expire_at(key).is_some());
            xor(&mut out, &digest);
        }
    }
    out
}

/// The digest as Redis prints it: 40 lowercase hex digits.
pub fn hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
