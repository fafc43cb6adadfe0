//! Property tests for the RESP codec: encode/decode round trips, incremental decoding at every
//! split point, and no panic on arbitrary input.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use rediscover::resp::{
    decode, encode_command, encode_frame, CommandDecoder, Frame, FrameDecoder, Limits,
};

/// Bytes for a line-typed frame (`+`, `-`): anything but CR and LF.
fn line_bytes() -> impl Strategy<Value = Bytes> {
    vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..24,
    )
    .prop_map(Bytes::from)
}

fn any_bytes() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..48).prop_map(Bytes::from)
}

/// Doubles as RESP3 carries them: finite values (RESP writes them with 17 significant digits,
/// enough to round-trip exactly), infinities, and NaN (compared specially).
fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => any::<f64>().prop_filter("finite", |d| d.is_finite()),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::NAN),
        2 => (-1000i32..1000).prop_map(|i| f64::from(i) / 8.0),
    ]
}

fn leaf() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line_bytes().prop_map(Frame::Simple),
        line_bytes().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        any_bytes().prop_map(Frame::Bulk),
        Just(Frame::Null),
        double().prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        "-?[0-9]{1,40}".prop_map(|s| Frame::BigNumber(Bytes::from(s))),
        (any::<[u8; 3]>(), any_bytes()).prop_map(|(format, text)| Frame::Verbatim { format, text }),
        any_bytes().prop_map(Frame::BulkError),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        let pairs = vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Frame::Array),
            vec(inner.clone(), 0..6).prop_map(Frame::Set),
            vec(inner.clone(), 0..6).prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            (pairs, inner).prop_map(|(attributes, data)| Frame::Attribute {
                attributes,
                data: Box::new(data),
            }),
        ]
    })
}

/// Frame equality where NaN equals NaN (the wire cannot tell NaNs apart).
fn same(a: &Frame, b: &Frame) -> bool {
    let all =
        |x: &[Frame], y: &[Frame]| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q));
    let pairs = |x: &[(Frame, Frame)], y: &[(Frame, Frame)]| {
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
    };
    match (a, b) {
        (Frame::Double(x), Frame::Double(y)) => (x.is_nan() && y.is_nan()) || x == y,
        (Frame::Array(x), Frame::Array(y))
        | (Frame::Set(x), Frame::Set(y))
        | (Frame::Push(x), Frame::Push(y)) => all(x, y),
        (Frame::Map(x), Frame::Map(y)) => pairs(x, y),
        (
            Frame::Attribute {
                attributes: x,
                data: d1,
            },
            Frame::Attribute {
                attributes: y,
                data: d2,
            },
        ) => pairs(x, y) && same(d1, d2),
        _ => a == b,
    }
}

fn encoded(frame: &Frame) -> BytesMut {
    let mut buf = BytesMut::new();
    encode_frame(&mut buf, frame);
    buf
}

fn small_limits() -> Limits {
    Limits {
        max_bulk_len: 1024,
        max_array_len: 64,
        max_depth: 8,
        max_inline_len: 256,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn frame_round_trips(f in frame()) {
        let mut buf = encoded(&f);
        let back = decode(&mut buf, &Limits::default()).unwrap().unwrap();
        prop_assert!(same(&f, &back), "{:?} came back as {:?}", f, back);
        prop_assert!(buf.is_empty(), "bytes left over");
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..256)) {
        let mut buf = BytesMut::from(&data[..]);
        // Take frames off the front until the decoder needs more or refuses.
        while let Ok(Some(_)) = decode(&mut buf, &small_limits()) {}
        let mut buf = BytesMut::from(&data[..]);
        let mut dec = CommandDecoder::new(small_limits());
        let mut argv = Vec::new();
        while let Ok(true) = dec.decode(&mut buf, &mut argv) {}
        let mut buf = BytesMut::from(&data[..]);
        dec.unauthenticated = true;
        while let Ok(true) = dec.decode(&mut buf, &mut argv) {}
    }

    #[test]
    fn resp_shaped_garbage_never_panics(parts in vec(prop_oneof![
        Just(&b"*"[..]), Just(&b"$"[..]), Just(&b"%"[..]), Just(&b"|"[..]), Just(&b">"[..]),
        Just(&b"~"[..]), Just(&b"="[..]), Just(&b"!"[..]), Just(&b","[..]), Just(&b"("[..]),
        Just(&b"#"[..]), Just(&b"_"[..]), Just(&b":"[..]), Just(&b"+"[..]), Just(&b"-1"[..]),
        Just(&b"3"[..]), Just(&b"2"[..]), Just(&b"0"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..]),
        Just(&b"\n"[..]), Just(&b"x"[..]), Just(&b"nan"[..]), Just(&b"99999999999999999999"[..]),
    ], 0..40)) {
        let data: Vec<u8> = parts.concat();
        let mut buf = BytesMut::from(&data[..]);
        while let Ok(Some(_)) = decode(&mut buf, &small_limits()) {}
        let mut buf = BytesMut::from(&data[..]);
        let mut dec = CommandDecoder::new(small_limits());
        let mut argv = Vec::new();
        while let Ok(true) = dec.decode(&mut buf, &mut argv) {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn incomplete_prefixes_decode_to_none(f in frame()) {
        let full = encoded(&f);
        for cut in 0..full.len() {
            let mut part = BytesMut::from(&full[..cut]);
            let got = decode(&mut part, &Limits::default());
            prop_assert_eq!(got, Ok(None), "prefix of {} bytes of {:?}", cut, &full[..]);
            prop_assert_eq!(part.len(), cut, "an incomplete frame must stay in the buffer");
        }
        let mut whole = full.clone();
        let back = decode(&mut whole, &Limits::default()).unwrap().unwrap();
        prop_assert!(same(&f, &back));
    }

    #[test]
    fn command_decoder_returns_the_argv(argv in vec(vec(any::<u8>(), 0..32), 1..8)) {
        let mut buf = BytesMut::new();
        encode_command(&mut buf, &argv);
        encode_command(&mut buf, &argv);
        let total = buf.len();
        let mut dec = CommandDecoder::new(Limits::default());
        let mut out = Vec::new();
        for _ in 0..2 {
            prop_assert_eq!(dec.decode(&mut buf, &mut out), Ok(true));
            let got: Vec<&[u8]> = out.iter().map(|b| &b[..]).collect();
            let want: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
            prop_assert_eq!(got, want);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(dec.decode(&mut buf, &mut out), Ok(false));

        // Fed byte by byte, the command appears exactly when its last byte arrives.
        let one = total / 2;
        let mut full = BytesMut::new();
        encode_command(&mut full, &argv);
        let mut feed = BytesMut::new();
        for (i, &b) in full.iter().enumerate() {
            feed.extend_from_slice(&[b]);
            let done = dec.decode(&mut feed, &mut out);
            prop_assert_eq!(done, Ok(i + 1 == one), "after {} of {} bytes", i + 1, one);
        }
    }
}

/// Found by `arbitrary_bytes_never_panic`: a NUL in an inline command made the splitter loop
/// forever, pushing empty arguments until memory ran out. Redis looks for the line end with
/// `strchr`, which stops at the NUL: the command never completes, and the connection is refused
/// once the line passes the inline limit. Config lines (`split_args`) end at a NUL.
#[test]
fn inline_command_with_nul_never_completes() {
    let limits = Limits {
        max_inline_len: 64,
        ..Limits::default()
    };
    let mut dec = CommandDecoder::new(limits);
    let mut buf = BytesMut::from(&b"PING a\0b c\r\n"[..]);
    let mut argv = Vec::new();
    assert_eq!(dec.decode(&mut buf, &mut argv), Ok(false));
    buf.extend_from_slice(&[b'x'; 100]);
    assert!(dec.decode(&mut buf, &mut argv).is_err());
    assert_eq!(
        rediscover::resp::split_args(b"set a\0b c"),
        Some(vec![b"set".to_vec(), b"a".to_vec()])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A frame fed in arbitrary pieces to one `FrameDecoder` (which keeps its progress between
    /// reads) comes out whole, exactly once, when its last byte arrives.
    #[test]
    fn frame_decoder_resumes_across_any_split(f in frame(), cuts in vec(1usize..16, 1..64)) {
        let full = encoded(&f);
        let mut dec = FrameDecoder::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let mut cuts = cuts.into_iter().cycle();
        while fed < full.len() {
            let n = cuts.next().unwrap().min(full.len() - fed);
            buf.extend_from_slice(&full[fed..fed + n]);
            fed += n;
            let got = dec.decode(&mut buf).unwrap();
            if fed < full.len() {
                prop_assert!(got.is_none(), "complete after {} of {} bytes", fed, full.len());
            } else {
                prop_assert!(same(&f, &got.unwrap()));
                prop_assert!(buf.is_empty());
            }
        }
    }
}

/// Parsing is linear in the input however it is split: a command of a million arguments that
/// arrives in 4 KiB reads is scanned once, not once per read (which made it quadratic).
#[test]
fn a_million_argument_command_in_small_reads_is_parsed_in_linear_work() {
    let argv: Vec<Vec<u8>> = (0..1_000_000u32)
        .map(|i| i.to_string().into_bytes())
        .collect();
    let mut full = BytesMut::new();
    encode_command(&mut full, &argv);
    let mut dec = CommandDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut done = false;
    for piece in full.chunks(4096) {
        assert!(!done);
        buf.extend_from_slice(piece);
        done = dec.decode(&mut buf, &mut out).unwrap();
    }
    assert!(done);
    assert_eq!(out.len(), argv.len());
    assert_eq!(&out[999_999][..], b"999999");
    let work = dec.work();
    assert!(
        work <= 2 * full.len() as u64,
        "decoder examined {work} bytes for {} of input",
        full.len()
    );
}

/// The same for a reply: a million-element array arriving in 4 KiB reads.
#[test]
fn a_million_element_reply_in_small_reads_is_scanned_in_linear_work() {
    let items: Vec<Frame> = (0..1_000_000i64).map(Frame::Integer).collect();
    let full = encoded(&Frame::Array(items));
    let mut dec = FrameDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut got = None;
    for piece in full.chunks(4096) {
        assert!(got.is_none());
        buf.extend_from_slice(piece);
        got = dec.decode(&mut buf).unwrap();
    }
    match got {
        Some(Frame::Array(items)) => assert_eq!(items[999_999], Frame::Integer(999_999)),
        other => panic!("{other:?}"),
    }
    assert!(
        dec.work() <= 2 * full.len() as u64,
        "decoder examined {} bytes for {} of input",
        dec.work(),
        full.len()
    );
}
