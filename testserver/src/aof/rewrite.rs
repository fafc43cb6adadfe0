//! The BASE file a rewrite writes: an RDB (`aof-use-rdb-preamble yes`) or the commands that
//! rebuild the dataset (Redis's `rewriteAppendOnlyFileRio`), from a snapshot of the keyspace.

use bytes::{Bytes, BytesMut};
use rediscover::resp::{encode_command, format_double};

use crate::keyspace::stream::{Stream, StreamId};
use crate::keyspace::{Db, Value};

/// Items per variadic command (`AOF_REWRITE_ITEMS_PER_CMD`).
const ITEMS_PER_CMD: usize = 64;

/// What a rewrite needs, taken under the node lock; written off it.
#[derive(Debug)]
pub struct BaseJob {
    /// The databases' snapshot.
    pub dbs: Vec<Db>,
    /// Function libraries' code.
    pub functions: Vec<Bytes>,
    /// `aof-use-rdb-preamble`: how the RDB is written, or `None` for command form.
    pub rdb: Option<crate::rdb::SaveMeta>,
    /// `aof-timestamp-enabled`: a `#TS:` annotation first (command form).
    pub timestamp: bool,
}

impl BaseJob {
    /// The job for `st` now: its data copied (values shared), in the form the config asks.
    pub fn of(st: &crate::node::NodeState, now_ms: i64) -> BaseJob {
        let preamble = st.config.extra_or("aof-use-rdb-preamble", "yes") == "yes";
        BaseJob {
            dbs: st.dbs.iter().map(Db::snapshot).collect(),
            functions: st.scripts.library_codes(),
            rdb: preamble.then(|| {
                let mut meta = crate::rdb::persist::save_meta(st, now_ms, Vec::new());
                meta.aof_base = true;
                meta
            }),
            timestamp: st.config.extra_or("aof-timestamp-enabled", "no") == "yes",
        }
    }

    /// The BASE file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match &self.rdb {
            Some(meta) => crate::rdb::write(&self.dbs, meta),
            None => self.commands().to_vec(),
        }
    }

    fn commands(&self) -> BytesMut {
        let mut out = BytesMut::new();
        if self.timestamp {
            out.extend_from_slice(format!("#TS:{}\r\n", crate::node::unix_ms() / 1000).as_bytes());
        }
        for code in &self.functions {
            encode_command(&mut out, &[&b"FUNCTION"[..], b"LOAD", code]);
        }
        for (index, db) in self.dbs.iter().enumerate() {
            if db.is_empty() {
                continue;
            }
            encode_command(&mut out, &[&b"SELECT"[..], index.to_string().as_bytes()]);
            for (key, value) in db.iter() {
                rewrite_value(&mut out, key, value);
                if let Some(at) = db.expire_at(key) {
                    encode_command(
                        &mut out,
                        &[&b"PEXPIREAT"[..], key, at.to_string().as_bytes()],
                    );
                }
            }
        }
        out
    }
}

/// Emits `cmd key` followed by `items` in batches of [`ITEMS_PER_CMD`] (each item being
/// `per` arguments).
fn batched(out: &mut BytesMut, cmd: &[u8], key: &[u8], items: Vec<Vec<Bytes>>) {
    for chunk in items.chunks(ITEMS_PER_CMD) {
        let mut argv: Vec<Bytes> = Vec::with_capacity(2 + chunk.len() * 2);
        argv.push(Bytes::copy_from_slice(cmd));
        argv.push(Bytes::copy_from_slice(key));
        for item in chunk {
            argv.extend(item.iter().cloned());
        }
        encode_command(out, &argv);
    }
}

fn rewrite_value(out: &mut BytesMut, key: &Bytes, value: &Value) {
    match value {
        Value::Str(s) => encode_command(out, &[&b"SET"[..], key, &s.data]),
        Value::List(l) => batched(
            out,
            b"RPUSH",
            key,
            l.iter().map(|v| vec![Bytes::copy_from_slice(v)]).collect(),
        ),
        Value::Set(s) => batched(out, b"SADD", key, s.iter().map(|m| vec![m]).collect()),
        Value::ZSet(z) => batched(
            out,
            b"ZADD",
            key,
            z.iter()
                .map(|(m, score)| vec![Bytes::from(format_double(score)), m.clone()])
                .collect(),
        ),
        Value::Hash(h) => batched(
            out,
            b"HMSET",
            key,
            h.iter().map(|(f, v)| vec![f.clone(), v.clone()]).collect(),
        ),
        Value::Stream(s) => rewrite_stream(out, key, s),
    }
}

/// Redis's `rewriteStreamObject`: XADDs (or the `XADD MAXLEN 0` trick for an empty stream),
/// XSETID, then per group XGROUP CREATE and XCLAIM ... JUSTID FORCE for each pending entry
/// (XGROUP CREATECONSUMER for a consumer with none).
fn rewrite_stream(out: &mut BytesMut, key: &Bytes, s: &Stream) {
    let all = s.range(
        StreamId { ms: 0, seq: 0 },
        StreamId {
            ms: u64::MAX,
            seq: u64::MAX,
        },
        false,
        0,
    );
    if all.is_empty() {
        encode_command(
            out,
            &[&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"],
        );
    } else {
        for e in all {
            let mut argv: Vec<Bytes> =
                vec![Bytes::from_static(b"XADD"), key.clone(), e.id.to_bytes()];
            argv.extend(e.items.iter().cloned());
            encode_command(out, &argv);
        }
    }
    encode_command(
        out,
        &[
            &b"XSETID"[..],
            key,
            &s.last_id.to_bytes(),
            b"ENTRIESADDED",
            s.entries_added.to_string().as_bytes(),
            b"MAXDELETEDID",
            &s.max_deleted_entry_id.to_bytes(),
        ],
    );
    for (name, group) in &s.groups {
        encode_command(
            out,
            &[
                &b"XGROUP"[..],
                b"CREATE",
                key,
                name,
                &group.last_id.to_bytes(),
                b"ENTRIESREAD",
                group.entries_read.to_string().as_bytes(),
            ],
        );
        for (cname, consumer) in &group.consumers {
            if consumer.pel.is_empty() {
                encode_command(out, &[&b"XGROUP"[..], b"CREATECONSUMER", key, name, cname]);
                continue;
            }
            for id in &consumer.pel {
                let Some(nack) = group.pel.get(id) else {
                    continue;
                };
                encode_command(
                    out,
                    &[
                        &b"XCLAIM"[..],
                        key,
                        name,
                        cname,
                        b"0",
                        &id.to_bytes(),
                        b"TIME",
                        nack.delivery_time.to_string().as_bytes(),
                        b"RETRYCOUNT",
                        nack.delivery_count.to_string().as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}
