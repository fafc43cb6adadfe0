//! Codec micro-benchmarks: encoding commands, decoding replies.

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rediscover::resp::{decode, encode_command, encode_frame, Frame, Limits};
use rediscover::Cmd;

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    let value = vec![b'x'; 64];
    g.bench_function("encode_command SET 64B", |b| {
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            encode_command(&mut buf, &[&b"SET"[..], b"key:12345", &value]);
            black_box(&buf);
        })
    });
    g.bench_function("Cmd builder SET 64B", |b| {
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            let cmd = Cmd::new("SET").arg("key:12345").arg(&value[..]);
            cmd.encode(&mut buf);
            black_box(&buf);
        })
    });
    g.finish();
}

fn decode_replies(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    let limits = Limits::default();
    let cases: Vec<(&str, Frame)> = vec![
        ("simple OK", Frame::simple("OK")),
        ("bulk 64B", Frame::bulk(vec![b'v'; 64])),
        ("bulk 16KiB", Frame::bulk(vec![b'v'; 16 * 1024])),
        (
            "array of 100 bulks",
            Frame::Array(
                (0..100)
                    .map(|i| Frame::bulk(format!("member:{i}")))
                    .collect(),
            ),
        ),
        (
            "map of 50 pairs",
            Frame::Map(
                (0..50)
                    .map(|i| (Frame::bulk(format!("f{i}")), Frame::Integer(i)))
                    .collect(),
            ),
        ),
    ];
    for (name, frame) in cases {
        let mut encoded = BytesMut::new();
        encode_frame(&mut encoded, &frame);
        g.throughput(Throughput::Bytes(encoded.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut buf = encoded.clone();
                black_box(decode(&mut buf, &limits).unwrap());
            })
        });
    }
    // 100 pipelined replies in one buffer, as the driver sees them after one read.
    let mut batch = BytesMut::new();
    for i in 0..100 {
        encode_frame(&mut batch, &Frame::bulk(format!("value-{i}")));
    }
    g.throughput(Throughput::Elements(100));
    g.bench_function("100 pipelined bulk replies", |b| {
        b.iter(|| {
            let mut buf = batch.clone();
            while let Some(f) = decode(&mut buf, &limits).unwrap() {
                black_box(f);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, encode, decode_replies);
criterion_main!(benches);
