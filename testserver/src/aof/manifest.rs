//! The Redis 7.0 multi-part AOF manifest: which files make up the AOF and in what order.
//!
//! One line per file, `file <name> seq <n> type <b|h|i>`: at most one BASE (`b`, written by a
//! rewrite), HISTORY files (`h`, replaced by a rewrite and about to be deleted) and INCR files
//! (`i`, the commands written since), as Redis's `aof.c` reads and writes it, with its error
//! texts.

use std::path::Path;

/// The type letter of a BASE file.
pub const TYPE_BASE: u8 = b'b';
/// The type letter of a HISTORY file.
pub const TYPE_HIST: u8 = b'h';
/// The type letter of an INCR file.
pub const TYPE_INCR: u8 = b'i';

/// One file of the AOF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofInfo {
    /// File name (in the AOF directory).
    pub name: String,
    /// Sequence number.
    pub seq: i64,
    /// `b`, `h` or `i`.
    pub kind: u8,
}

/// The manifest (Redis's `aofManifest`).
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// The BASE file, if any.
    pub base: Option<AofInfo>,
    /// HISTORY files, waiting to be deleted.
    pub history: Vec<AofInfo>,
    /// INCR files, in order.
    pub incr: Vec<AofInfo>,
    /// Sequence number of the current BASE file.
    pub base_seq: i64,
    /// Sequence number of the last INCR file.
    pub incr_seq: i64,
    /// Changed since last written to disk.
    pub dirty: bool,
}

/// Why a manifest could not be read: the line (number and text) and Redis's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// Line number and trimmed text of the offending line, when there is one.
    pub line: Option<(usize, String)>,
    /// Redis's message (`Invalid AOF manifest file format`...).
    pub msg: &'static str,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.line {
            Some((n, text)) => write!(
                f,
                "Reading the manifest file, at line {n}: '{text}': {}",
                self.msg
            ),
            None => f.write_str(self.msg),
        }
    }
}

/// Longest manifest line Redis reads (`MANIFEST_MAX_LINE`).
const MAX_LINE: usize = 1024;

/// Redis's `atoll`: leading spaces, a sign, digits; 0 when there are none.
fn atoll(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        n = n.wrapping_mul(10).wrapping_add(i64::from(s[i] - b'0'));
        i += 1;
    }
    if neg {
        n.wrapping_neg()
    } else {
        n
    }
}

impl Manifest {
    /// Parses a manifest as Redis's `aofLoadManifestFromFile` does.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut am = Manifest::default();
        let mut maxseq = 0i64;
        let mut rest = text;
        let mut linenum = 0usize;
        let err = |line: Option<(usize, String)>, msg| ManifestError { line, msg };
        loop {
            if rest.is_empty() {
                if linenum == 0 {
                    return Err(err(None, "Found an empty AOF manifest"));
                }
                break;
            }
            // fgets with a buffer of MAX_LINE + 1: at most MAX_LINE bytes per read.
            let take = match rest.iter().position(|&b| b == b'\n') {
                Some(p) if p < MAX_LINE => p + 1,
                _ => rest.len().min(MAX_LINE),
            };
            let buf = &rest[..take];
            rest = &rest[take..];
            linenum += 1;
            if buf[0] == b'#' {
                continue;
            }
            if !buf.contains(&b'\n') {
                return Err(err(None, "The AOF manifest file contains too long line"));
            }
            let trimmed = trim(buf);
            let shown = Some((linenum, String::from_utf8_lossy(trimmed).into_owned()));
            if trimmed.is_empty() {
                return Err(err(shown, "Invalid AOF manifest file format"));
            }
            let argv = match rediscover::resp::split_args(trimmed) {
                Some(a) if a.len() >= 6 && a.len() % 2 == 0 => a,
                _ => return Err(err(shown, "Invalid AOF manifest file format")),
            };
            let (mut name, mut seq, mut kind) = (None, 0i64, 0u8);
            for pair in argv.chunks(2) {
                if pair[0].eq_ignore_ascii_case(b"file") {
                    let n = String::from_utf8_lossy(&pair[1]).into_owned();
                    if n.contains('/') || n.contains('\\') {
                        return Err(err(shown, "File can't be a path, just a filename"));
                    }
                    name = Some(n);
                } else if pair[0].eq_ignore_ascii_case(b"seq") {
                    seq = atoll(&pair[1]);
                } else if pair[0].eq_ignore_ascii_case(b"type") {
                    kind = pair[1].first().copied().unwrap_or(0);
                }
            }
            let (Some(name), true, true) = (name, seq != 0, kind != 0) else {
                return Err(err(shown, "Invalid AOF manifest file format"));
            };
            let info = AofInfo { name, seq, kind };
            match kind {
                TYPE_BASE => {
                    if am.base.is_some() {
                        return Err(err(shown, "Found duplicate base file information"));
                    }
                    am.base_seq = seq;
                    am.base = Some(info);
                }
                TYPE_HIST => am.history.push(info),
                TYPE_INCR => {
                    if seq <= maxseq {
                        return Err(err(shown, "Found a non-monotonic sequence number"));
                    }
                    am.incr_seq = seq;
                    maxseq = seq;
                    am.incr.push(info);
                }
                _ => return Err(err(shown, "Unknown AOF file type")),
            }
        }
        Ok(am)
    }

    /// The manifest as Redis writes it: BASE, then HISTORY, then INCR lines.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for ai in self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incr.iter())
        {
            let needs_repr = ai.name.bytes().any(|b| {
                b.is_ascii_whitespace() || b == b'"' || b == b'\'' || !b.is_ascii_graphic()
            });
            let name = if needs_repr {
                crate::logging::repr(ai.name.as_bytes())
            } else {
                ai.name.clone()
            };
            out.push_str(&format!(
                "file {name} seq {} type {}\n",
                ai.seq, ai.kind as char
            ));
        }
        out
    }

    /// A new BASE file name (`<appendfilename>.<seq>.base.rdb` or `.base.aof`); the old BASE
    /// becomes HISTORY (Redis's `getNewBaseFileNameAndMarkPreAsHistory`).
    pub fn new_base(&mut self, filename: &str, rdb: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = TYPE_HIST;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let format = if rdb { ".rdb" } else { ".aof" };
        let name = format!("{filename}.{}.base{format}", self.base_seq);
        self.base = Some(AofInfo {
            name: name.clone(),
            seq: self.base_seq,
            kind: TYPE_BASE,
        });
        self.dirty = true;
        name
    }

    /// A new INCR file name (`<appendfilename>.<seq>.incr.aof`), added at the end.
    pub fn new_incr(&mut self, filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{filename}.{}.incr.aof", self.incr_seq);
        self.incr.push(AofInfo {
            name: name.clone(),
            seq: self.incr_seq,
            kind: TYPE_INCR,
        });
        self.dirty = true;
        name
    }

    /// The last INCR file's name, or a new one.
    pub fn last_incr(&mut self, filename: &str) -> String {
        match self.incr.last() {
            Some(ai) => ai.name.clone(),
            None => self.new_incr(filename),
        }
    }

    /// After a rewrite: the INCR files it covers become HISTORY — all of them, or all but the
    /// last when the AOF is on (that one is being written).
    pub fn mark_rewritten_incr_as_history(&mut self, keep_last: bool) {
        if self.incr.is_empty() {
            return;
        }
        let keep = usize::from(keep_last);
        let moved: Vec<AofInfo> = self.incr.drain(..self.incr.len() - keep).collect();
        // Redis walks the list from its tail, adding each at the head of the history.
        for mut ai in moved {
            ai.kind = TYPE_HIST;
            self.history.insert(0, ai);
        }
        self.dirty = true;
    }

    /// Number of BASE and INCR files.
    pub fn file_count(&self) -> usize {
        usize::from(self.base.is_some()) + self.incr.len()
    }

    /// Writes the manifest to `dir/<filename>.manifest` atomically (temp file, fsync, rename,
    /// directory fsync), if it changed.
    pub fn persist(&mut self, dir: &Path, filename: &str) -> Result<(), String> {
        if !self.dirty {
            return Ok(());
        }
        let name = format!("{filename}.manifest");
        let temp_name = format!("temp-{filename}.manifest");
        let temp = dir.join(&temp_name);
        use std::io::Write;
        let mut f = std::fs::File::create(&temp)
            .map_err(|e| format!("Can't open the AOF manifest file {temp_name}: {e}"))?;
        f.write_all(self.render().as_bytes()).map_err(|e| {
            format!("Error trying to write the temporary AOF manifest file {temp_name}: {e}")
        })?;
        f.sync_all()
            .map_err(|e| format!("Fail to fsync the temp AOF file {temp_name}: {e}."))?;
        std::fs::rename(&temp, dir.join(&name)).map_err(|e| {
            format!(
                "Error trying to rename the temporary AOF manifest file {temp_name} into {name}: {e}"
            )
        })?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        self.dirty = false;
        Ok(())
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let is = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !is(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is(b)).map_or(start, |p| p + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_redis_lines() {
        let text = b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.3.incr.aof seq 3 type i\n";
        let am = Manifest::parse(text).unwrap();
        assert_eq!(am.base.as_ref().unwrap().seq, 2);
        assert_eq!(am.history.len(), 1);
        assert_eq!(am.incr_seq, 3);
        assert_eq!(am.render().as_bytes(), text);
    }

    #[test]
    fn errors_are_redis_texts() {
        let e = |t: &[u8]| Manifest::parse(t).unwrap_err().msg;
        assert_eq!(e(b""), "Found an empty AOF manifest");
        assert_eq!(e(b"file a seq 1\n"), "Invalid AOF manifest file format");
        assert_eq!(e(b"\n"), "Invalid AOF manifest file format");
        assert_eq!(
            e(b"file a seq 1 type b\nfile b seq 2 type b\n"),
            "Found duplicate base file information"
        );
        assert_eq!(
            e(b"file a seq 2 type i\nfile b seq 2 type i\n"),
            "Found a non-monotonic sequence number"
        );
        assert_eq!(e(b"file a seq 1 type x\n"), "Unknown AOF file type");
        assert_eq!(
            e(b"file ../a seq 1 type b\n"),
            "File can't be a path, just a filename"
        );
        assert_eq!(
            e(b"file a seq 1 type b"),
            "The AOF manifest file contains too long line"
        );
        // Comments are skipped; extra key/value pairs are accepted.
        assert!(Manifest::parse(b"# hi\nfile a seq 1 type b k v\n").is_ok());
    }
}
