//! Property: any dataset (both encodings of every type, binary data, TTLs, several
//! databases) survives write + load.

use super::*;

use proptest::collection::vec;
use proptest::prelude::*;
use rediscover_testserver::keyspace::StreamId;
use rediscover_testserver::keyspace::{Hash, HashLimits, List, ListpackLimits, Set, Str, ZSet};

/// Small limits, so both encodings of every type occur.
fn options() -> LoadOptions {
    LoadOptions {
        hash: HashLimits {
            max_entries: 4,
            max_value: 8,
        },
        zset: ListpackLimits {
            entries: 4,
            value: 8,
        },
        set_max_intset_entries: 4,
        ..LoadOptions::default()
    }
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        (-200i64..70_000).prop_map(|n| n.to_string().into_bytes()),
        vec(any::<u8>(), 0..30),
        "[ab]{0,120}".prop_map(String::into_bytes),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("not NaN", |f| !f.is_nan()),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (-1000i32..1000).prop_map(|n| f64::from(n) / 8.0),
    ]
}

#[derive(Debug, Clone)]
enum Spec {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    ZSet(Vec<(Vec<u8>, f64)>),
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        bytes().prop_map(Spec::Str),
        vec(bytes(), 1..12).prop_map(Spec::List),
        vec(bytes(), 1..12).prop_map(Spec::Set),
        vec((bytes(), bytes()), 1..8).prop_map(Spec::Hash),
        vec((bytes(), score()), 1..8).prop_map(Spec::ZSet),
    ]
}

fn build(spec: &Spec, o: &LoadOptions) -> Value {
    match spec {
        Spec::Str(s) => Value::Str(Str::new(Bytes::from(s.clone()))),
        Spec::List(items) => Value::List(List::from_items(items)),
        Spec::Set(members) => {
            let mut set = Set::new();
            for m in members {
                set.insert(m, o.set_max_intset_entries);
            }
            Value::Set(set)
        }
        Spec::Hash(pairs) => {
            let mut h = Hash::new();
            for (f, v) in pairs {
                h.set(f, v, o.hash);
            }
            Value::Hash(h)
        }
        Spec::ZSet(pairs) => {
            let mut z = ZSet::new();
            for (m, s) in pairs {
                z.insert(Bytes::from(m.clone()), *s, &o.zset);
            }
            Value::ZSet(z)
        }
    }
}

fn describe(db: &Db) -> Vec<String> {
    let mut lines: Vec<String> = db
        .iter()
        .map(|(k, v)| {
            let contents = match v {
                Value::Str(s) => format!("{:?}", s.data),
                Value::List(l) => format!("{:?}", l.iter().collect::<Vec<_>>()),
                Value::Set(s) => {
                    let mut m: Vec<Bytes> = s.iter().collect();
                    m.sort();
                    format!("{m:?}")
                }
                Value::Hash(h) => {
                    let mut pairs: Vec<_> = h.iter().collect();
                    if h.encoding() == "hashtable" {
                        pairs.sort();
                    }
                    format!("{pairs:?}")
                }
                Value::ZSet(z) => {
                    let items: Vec<_> = z.iter().map(|(m, s)| (m, s.to_bits())).collect();
                    format!("{items:?}")
                }
                Value::Stream(s) => {
                    let all = s.range(StreamId::MIN, StreamId::MAX, false, 0);
                    let items: Vec<_> = all.iter().map(|e| (e.id, &e.items)).collect();
                    format!("{items:?}")
                }
            };
            format!("{k:?} {:?} {} {contents}", db.expire_at(k), v.encoding())
        })
        .collect();
    lines.sort();
    lines
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn write_then_load_gives_the_same_data(
        keys in vec((bytes(), spec(), proptest::option::of(1i64..10_000_000_000_000), 0usize..3), 0..12)
    ) {
        let o = options();
        let mut dbs: Vec<Db> = (0..16).map(|_| Db::default()).collect();
        for (key, spec, expire, db) in &keys {
            let key = Bytes::from(key.clone());
            dbs[*db].set(key.clone(), build(spec, &o));
            if let Some(at) = expire {
                dbs[*db].set_expire(&key, *at);
            }
        }
        let data = rdb::write(&dbs, &SaveMeta::default());
        let snap = rdb::load(&data, &o).unwrap();
        for (a, b) in dbs.iter().zip(&snap.dbs) {
            prop_assert_eq!(describe(a), describe(b));
        }
    }
}
