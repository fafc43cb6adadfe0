//! DUMP/RESTORE payloads (Redis's `createDumpPayload` / `verifyDumpPayload`): one value in RDB
//! form, then the RDB version (2 bytes, little-endian) and the CRC-64 of everything before it
//! (8 bytes, little-endian).

use crate::keyspace::Value;

use super::{crc64, read, write, LoadOptions, DUMP_VERSION, MAX_READ_VERSION};

/// Why a payload cannot be restored; the texts are RESTORE's error replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Too short, from a newer RDB version, or the checksum does not match.
    #[error("ERR DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    /// The value itself cannot be parsed (or is an empty collection, or a type this server
    /// does not have).
    #[error("ERR Bad data format")]
    BadData,
}

/// The DUMP payload of `value`, with RDB version [`DUMP_VERSION`] in its footer (LZF-compressing
/// long strings when `compression`, as `rdbcompression yes` does): Redis 7.0's bytes for the
/// values this server encodes as Redis does (strings, HyperLogLogs among them).
pub fn payload(value: &Value, compression: bool) -> Vec<u8> {
    let mut out = write::value_bytes(value, compression);
    out.extend_from_slice(&(DUMP_VERSION as u16).to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks a payload's trailer: an RDB version this server reads and a matching checksum.
pub fn verify(data: &[u8]) -> Result<(), PayloadError> {
    let Some(body_len) = data.len().checked_sub(10) else {
        return Err(PayloadError::VersionOrChecksum);
    };
    let version = u16::from_le_bytes([data[body_len], data[body_len + 1]]);
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&data[body_len + 2..]);
    if u32::from(version) > MAX_READ_VERSION
        || u64::from_le_bytes(crc) != crc64(&data[..body_len + 2])
    {
        return Err(PayloadError::VersionOrChecksum);
    }
    Ok(())
}

/// The value a payload holds, after [`verify`]ing it. Values get the encodings this server
/// would give them under `opts`' limits, as Redis converts them on RESTORE.
pub fn parse(data: &[u8], opts: &LoadOptions) -> Result<Value, PayloadError> {
    verify(data)?;
    match read::value_only(data, opts) {
        Ok(Some(value)) => Ok(value),
        // Redis refuses an empty collection too (RDB_LOAD_ERR_EMPTY_KEY).
        Ok(None) | Err(_) => Err(PayloadError::BadData),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Str;
    use bytes::Bytes;

    #[test]
    fn string_payload_like_redis() {
        // What Redis 7.0 answers to DUMP of "hello" (version 10).
        let value = Value::Str(Str::new(Bytes::from_static(b"hello")));
        let ours = payload(&value, true);
        let redis = b"\x00\x05hello\n\x00cr\xdfve4 \n";
        assert_eq!(&ours[..], &redis[..]);
        assert!(verify(&ours).is_ok());
        let back = parse(redis, &LoadOptions::default()).unwrap();
        assert!(matches!(back, Value::Str(s) if &s.data[..] == b"hello"));
    }

    #[test]
    fn refuses_bad_trailers() {
        assert_eq!(verify(b"012345678"), Err(PayloadError::VersionOrChecksum));
        let mut p = payload(&Value::Str(Str::new(Bytes::from_static(b"x"))), false);
        let n = p.len();
        p[n - 1] ^= 1;
        assert_eq!(verify(&p), Err(PayloadError::VersionOrChecksum));
    }
}
