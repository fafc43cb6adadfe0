//! The server's `CommandDecoder` on arbitrary bytes (multibulk and inline commands, before and
//! after authentication): it must never panic or loop, and every command it returns must have
//! consumed input.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rediscover::resp::{CommandDecoder, Limits};

const LIMITS: Limits = Limits {
    max_bulk_len: 4096,
    max_array_len: 256,
    max_depth: 16,
    max_inline_len: 1024,
};

fuzz_target!(|data: &[u8]| {
    for unauthenticated in [false, true] {
        let mut dec = CommandDecoder::new(LIMITS);
        dec.unauthenticated = unauthenticated;
        let mut buf = BytesMut::from(data);
        let mut argv = Vec::new();
        loop {
            let before = buf.len();
            match dec.decode(&mut buf, &mut argv) {
                Ok(true) => {
                    assert!(buf.len() < before, "a command must consume bytes");
                    assert!(!argv.is_empty(), "empty commands are skipped");
                }
                Ok(false) | Err(_) => break,
            }
        }
    }
});
