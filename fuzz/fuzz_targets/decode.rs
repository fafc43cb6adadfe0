//! `rediscover::resp::decode` on arbitrary bytes: it must never panic, never take a frame
//! without consuming bytes, and must re-encode what it decoded to bytes that decode the same way.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rediscover::resp::{decode, encode_frame, Limits};

/// Small limits so the fuzzer reaches the limit checks.
const LIMITS: Limits = Limits {
    max_bulk_len: 4096,
    max_array_len: 256,
    max_depth: 16,
    max_inline_len: 1024,
};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.len();
        match decode(&mut buf, &LIMITS) {
            Ok(Some(frame)) => {
                assert!(buf.len() < before, "a frame must consume bytes");
                let mut again = BytesMut::new();
                encode_frame(&mut again, &frame);
                let back = decode(&mut again, &Limits::default())
                    .expect("re-encoded frame decodes")
                    .expect("re-encoded frame is complete");
                // NaN != NaN: compare the encodings instead of the frames.
                let mut a = BytesMut::new();
                let mut b = BytesMut::new();
                encode_frame(&mut a, &frame);
                encode_frame(&mut b, &back);
                assert_eq!(a, b);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "an incomplete frame stays in the buffer");
                break;
            }
            Err(_) => break,
        }
    }
});
