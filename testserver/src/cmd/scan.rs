//! Arguments and reply of the SCAN family (SCAN, HSCAN, SSCAN), parsed as Redis's
//! `scanGenericCommand` parses them.

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::ReplyWriter;

use super::{eq_ic, parse_i64, Error};
use crate::glob::glob_match;

/// Options after the cursor: `[MATCH pattern] [COUNT count] [TYPE type]`.
pub(crate) struct ScanArgs<'a> {
    /// Where to resume.
    pub cursor: u64,
    /// Only items matching this glob (`None`: all, also for `*`).
    pub pattern: Option<&'a [u8]>,
    /// Work hint per call.
    pub count: usize,
    /// SCAN's TYPE filter (never set for the per-key commands).
    pub type_name: Option<&'a [u8]>,
}

impl ScanArgs<'_> {
    /// Whether `item` passes the MATCH filter.
    pub fn matches(&self, item: &[u8]) -> bool {
        match self.pattern {
            Some(p) => glob_match(p, item, false),
            None => true,
        }
    }
}

/// The cursor as Redis's `parseScanCursorOrReply` reads it (`strtoul`: optional sign, digits,
/// nothing else, within `u64`; a negative number wraps).
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64, Error> {
    let invalid = || Error::from("ERR invalid cursor");
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let n: u64 = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(invalid)?;
    Ok(if negative { n.wrapping_neg() } else { n })
}

/// The options after the cursor (`argv[opts..]`). TYPE is an option only for SCAN itself
/// (`with_type`), as in Redis, where it needs no key; the per-key commands parse their options
/// only once the key is known to exist.
pub(crate) fn parse_scan(
    argv: &[Bytes],
    cursor: u64,
    opts: usize,
    with_type: bool,
) -> Result<ScanArgs<'_>, Error> {
    let mut args = ScanArgs {
        cursor,
        pattern: None,
        count: 10,
        type_name: None,
    };
    let mut i = opts;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        if eq_ic(&argv[i], "count") && has_value {
            let n = parse_i64(&argv[i + 1])?;
            if n < 1 {
                return Err(msg::SYNTAX.into());
            }
            args.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq_ic(&argv[i], "match") && has_value {
            let p = &argv[i + 1][..];
            args.pattern = (p != b"*").then_some(p);
        } else if with_type && eq_ic(&argv[i], "type") && has_value {
            args.type_name = Some(&argv[i + 1][..]);
        } else {
            return Err(msg::SYNTAX.into());
        }
        i += 2;
    }
    Ok(args)
}

/// Writes a SCAN-family reply: `[cursor, [items...]]`.
pub(crate) fn write_scan_reply<'a>(
    out: &mut ReplyWriter,
    cursor: u64,
    items: impl ExactSizeIterator<Item = &'a [u8]>,
) {
    out.array(2);
    out.bulk(cursor.to_string().as_bytes());
    out.array(items.len());
    for item in items {
        out.bulk(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b"+5"), Ok(5));
        assert_eq!(parse_cursor(b"+7"), Ok(7));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert!(parse_cursor(b"18446744073709551616").is_err());
        assert!(parse_cursor(b"x").is_err());
        assert!(parse_cursor(b" 1").is_err());
        assert!(parse_cursor(b"").is_err());
    }

    #[test]
    fn type_is_a_scan_only_option() {
        let argv: Vec<Bytes> = ["scan", "0", "TYPE", "hash", "MATCH", "*", "COUNT", "5"]
            .into_iter()
            .map(|a| Bytes::from_static(a.as_bytes()))
            .collect();
        let args = parse_scan(&argv, 0, 2, true).map_err(|e| e.0).unwrap();
        assert_eq!(args.type_name, Some(&b"hash"[..]));
        assert_eq!(args.pattern, None);
        assert_eq!(args.count, 5);
        assert!(parse_scan(&argv, 0, 2, false).is_err());
    }
}
