//! Corrupt and truncated input: clear errors, never a panic, never a half-loaded dataset.

use super::*;

/// A valid file with a bit of everything, written by our writer.
fn sample_file() -> Vec<u8> {
    let data = std::fs::read(Path::new(FIXTURES).join("types.rdb")).unwrap();
    let snap = rdb::load(&data, &LoadOptions::default()).unwrap();
    rdb::write(&snap.dbs, &SaveMeta::default())
}

#[test]
fn truncated_files_are_rejected() {
    for data in [
        sample_file(),
        std::fs::read(Path::new(FIXTURES).join("types.rdb")).unwrap(),
    ] {
        assert!(rdb::load(&data, &LoadOptions::default()).is_ok());
        // Every cut point would be slow on 20 KB in a debug build: every one in the header,
        // aux fields and first keys, then a stride, then every one around the trailer.
        let n = data.len();
        let cuts = (0..300).chain((300..n - 9).step_by(61)).chain(n - 9..n);
        for cut in cuts {
            match rdb::load(&data[..cut], &LoadOptions::default()) {
                Err(RdbError::Truncated { .. }) | Err(RdbError::Corrupt { .. }) => {}
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn corrupt_files_are_rejected_with_clear_errors() {
    let data = sample_file();
    let err = |d: &[u8]| {
        rdb::load(d, &LoadOptions::default())
            .unwrap_err()
            .to_string()
    };

    let mut flipped = data.clone();
    flipped[100] ^= 0x01;
    assert!(rdb::load(&flipped, &LoadOptions::default()).is_err());

    // A changed value that still parses is caught by the checksum.
    let at = data
        .windows(5)
        .position(|w| w == b"hello")
        .expect("str:small");
    let mut changed = data.clone();
    changed[at] = b'j';
    assert!(err(&changed).starts_with("Wrong RDB checksum expected: ("));

    // A zero trailer means "not checked".
    let n = changed.len();
    changed[n - 8..].fill(0);
    let snap = rdb::load(&changed, &LoadOptions::default()).unwrap();
    assert!(matches!(snap.dbs[0].peek(b"str:small"), Some(Value::Str(s)) if s.data == "jello"));

    assert_eq!(
        err(b"RIDES0009\xff"),
        "Corrupt RDB at offset 0: Wrong signature trying to load DB from file"
    );
    assert_eq!(
        err(b"REDIS0011\xff"),
        "Unsupported RDB content at offset 5: Can't handle RDB format version 11"
    );
    assert_eq!(
        err(b"REDIS"),
        "Unexpected EOF reading RDB file (at offset 0)"
    );
    // No EOF opcode.
    assert!(err(b"REDIS0009").starts_with("Unexpected EOF"));
    // Unknown value type.
    assert_eq!(
        err(b"REDIS0009\x08\x01k\x00\xff"),
        "Corrupt RDB at offset 9: Unknown RDB encoding type 8"
    );
    // A database beyond `databases`.
    assert!(err(b"REDIS0009\xfe\x10\xff").contains("more than 16 databases"));
    // Duplicated key.
    assert_eq!(
        err(b"REDIS0009\x00\x01k\x01v\x00\x01k\x01w\xff"),
        "Corrupt RDB at offset 14: RDB has duplicated key 'k' in DB 0"
    );
    // A truncated stream is refused; Redis 7.2's stream type is not loaded.
    assert!(err(b"REDIS0010\x13\x01s\x00\xff").starts_with("Corrupt RDB"));
    assert!(err(b"REDIS0010\x15\x01s\x00\xff").contains("are not supported"));
    // Module data names the module.
    assert!(
        err(b"REDIS0009\xf7\x81\x00\x00\x00\x00\x00\x00\x04\x00\x02\x00\xff")
            .contains("AUX module data")
    );
    // An LZF string claiming an impossible size.
    assert_eq!(
        err(b"REDIS0009\x00\x01k\xc3\x02\x80\x7f\xff\xff\xff\x00a\xff"),
        "Corrupt RDB at offset 13: Invalid LZF compressed string"
    );
    // Empty collections are skipped, as Redis does.
    let snap = rdb::load(
        b"REDIS0009\x02\x01s\x00\xff\0\0\0\0\0\0\0\0",
        &LoadOptions::default(),
    )
    .unwrap();
    assert!(snap.dbs[0].is_empty());
}

#[test]
fn mutated_files_never_panic() {
    let data = sample_file();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut d = data.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() % (d.len() as u64 - 8)) as usize;
            d[i] = next() as u8;
        }
        // Without a checksum the parser itself has to catch every inconsistency.
        let n = d.len();
        d[n - 8..].fill(0);
        let _ = rdb::load(&d, &LoadOptions::default());
    }
}

#[tokio::test]
async fn debug_reload_of_a_corrupt_file_keeps_the_data() {
    let dir = TempDir::new("corrupt");
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    let mut data = sample_file();
    let n = data.len();
    data.truncate(n / 2);
    std::fs::write(dir.file("dump.rdb"), &data).unwrap();
    assert_reply!(
        c,
        ["DEBUG", "RELOAD", "NOSAVE"],
        b"-ERR Error trying to load the RDB dump\r\n"
    );
    assert_reply!(c, ["GET", "a"], b"$1\r\n1\r\n");
    srv.shutdown().await;
}
