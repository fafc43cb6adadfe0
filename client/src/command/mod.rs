//! The one table of Redis commands: arity, flags, key positions, ACL categories and docs.
//!
//! The client's cluster router finds a command's keys here and the test server checks arity,
//! write flags and keys against the same entries. The table itself is generated from a real
//! Redis 7.0 (`tools/gen_command_table.py`).

mod table;

use table::{COMMANDS, SENTINEL_ONLY};

/// Static facts about one command or subcommand, as `COMMAND INFO` and `COMMAND DOCS` give them.
#[derive(Debug)]
pub struct CommandInfo {
    /// Lower-case full name (`get`, `client|setname`).
    pub name: &'static str,
    /// Redis arity: `N` means exactly N arguments counting the name; `-N` at least N.
    pub arity: i16,
    /// Flags such as `write`, `readonly`, `denyoom`, `admin`, `fast`, `movablekeys`.
    pub flags: &'static [&'static str],
    /// Legacy first key position (0: no keys).
    pub first_key: i16,
    /// Legacy last key position (negative counts from the end).
    pub last_key: i16,
    /// Legacy key step.
    pub step: i16,
    /// ACL categories (`@read`, `@string`, ...).
    pub acl_categories: &'static [&'static str],
    /// Command tips (`nondeterministic_output`, `request_policy:...`).
    pub tips: &'static [&'static str],
    /// Redis 7 key specifications.
    pub key_specs: &'static [KeySpec],
    /// One-line summary.
    pub summary: &'static str,
    /// The Redis version that introduced the command.
    pub since: &'static str,
    /// Documentation group (`string`, `generic`, `server`, ...).
    pub group: &'static str,
    /// Time complexity text.
    pub complexity: &'static str,
    /// Subcommands (for containers such as `CLIENT`, `CONFIG`).
    pub subcommands: &'static [CommandInfo],
}

/// Where a key specification starts looking for keys.
#[derive(Debug, Clone, Copy)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(i32),
    /// After a keyword, searching from `start_from` (negative: from the end, backwards).
    Keyword {
        /// The keyword, upper case.
        keyword: &'static str,
        /// Where the search begins.
        start_from: i32,
    },
    /// Cannot be determined from the table.
    Unknown,
}

/// How a key specification finds keys once it has begun.
#[derive(Debug, Clone, Copy)]
pub enum FindKeys {
    /// A range of keys.
    Range {
        /// Last key relative to the start (negative: from the end).
        last_key: i32,
        /// Distance between keys.
        step: i32,
        /// With `last_key == -1`, keep `1/limit` of the remaining arguments (0: all).
        limit: i32,
    },
    /// A count argument followed by that many keys.
    Keynum {
        /// Index of the count, relative to the start.
        keynum_index: i32,
        /// Index of the first key, relative to the start.
        first_key: i32,
        /// Distance between keys.
        step: i32,
    },
    /// Cannot be determined from the table.
    Unknown,
}

/// A Redis 7 key specification.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// Free-form notes.
    pub notes: Option<&'static str>,
    /// Flags such as `RW`, `RO`, `OW`, `access`, `update`, `insert`, `delete`.
    pub flags: &'static [&'static str],
    /// Where to begin.
    pub begin_search: BeginSearch,
    /// How to find the keys.
    pub find_keys: FindKeys,
}

impl CommandInfo {
    /// Whether the command has `flag` (`write`, `readonly`, `admin`, ...).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Whether the command may modify the dataset.
    pub fn is_write(&self) -> bool {
        self.has_flag("write")
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let arity = self.arity as isize;
        let argc = argc as isize;
        (arity > 0 && argc == arity) || (arity < 0 && argc >= -arity)
    }

    /// The subcommand `name` (case-insensitive), e.g. `setname` for `CLIENT`.
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandInfo> {
        let prefix = self.name.len() + 1;
        self.subcommands.iter().find(|c| {
            c.name.len() > prefix && c.name.as_bytes()[prefix..].eq_ignore_ascii_case(name)
        })
    }

    /// The positions in `argv` (name at 0) that hold keys, in command order.
    ///
    /// Uses the key specifications, so it also handles commands whose keys move (`ZUNIONSTORE`,
    /// `EVAL`, `XREAD`, ...). Commands whose keys cannot be found from the table (`SORT ... BY`,
    /// `MIGRATE` with `KEYS`) give the keys the table can find. A key count that is not an
    /// integer, is negative, or points past the last argument yields no keys for its
    /// specification, as in Redis. Any `argv` is accepted: every position returned is inside it,
    /// and no input panics or overflows.
    pub fn key_positions(&self, argv: &[impl AsRef<[u8]>]) -> Vec<usize> {
        self.key_refs(argv)
            .into_iter()
            .map(|(pos, _)| pos)
            .collect()
    }

    /// As [`key_positions`](Self::key_positions), with each key's specification flags
    /// (`RW`, `access`, `update`, ...): what an ACL check needs to know of each key.
    pub fn key_refs(&self, argv: &[impl AsRef<[u8]>]) -> Vec<(usize, &'static [&'static str])> {
        let mut keys = Vec::new();
        // All arithmetic in i64: table values are small, and argv.len() and parsed counts are
        // clamped before they meet them, so nothing here can overflow.
        let argc = i64::try_from(argv.len()).unwrap_or(i64::MAX);
        for spec in self.key_specs {
            let first = match spec.begin_search {
                BeginSearch::Index(i) => i64::from(i),
                BeginSearch::Keyword {
                    keyword,
                    start_from,
                } => {
                    let start_from = i64::from(start_from);
                    let (mut i, dir) = if start_from > 0 {
                        (start_from, 1)
                    } else {
                        (argc + start_from, -1)
                    };
                    let mut found = None;
                    while i > 0 && i < argc {
                        let arg = argv[i as usize].as_ref();
                        if arg.eq_ignore_ascii_case(keyword.as_bytes()) {
                            found = Some(i + 1);
                            break;
                        }
                        i += dir;
                    }
                    match found {
                        Some(f) => f,
                        None => continue,
                    }
                }
                BeginSearch::Unknown => continue,
            };
            let (start, last, step) = match spec.find_keys {
                FindKeys::Range {
                    last_key,
                    step,
                    limit,
                } => {
                    let (last_key, limit) = (i64::from(last_key), i64::from(limit));
                    let last = if last_key >= 0 {
                        first + last_key
                    } else if last_key == -1 && limit > 1 {
                        first + (argc - first) / limit - 1
                    } else {
                        argc + last_key
                    };
                    (first, last, i64::from(step).max(1))
                }
                FindKeys::Keynum {
                    keynum_index,
                    first_key,
                    step,
                } => {
                    let at = first + i64::from(keynum_index);
                    let count = usize::try_from(at)
                        .ok()
                        .and_then(|at| argv.get(at))
                        .and_then(|a| crate::resp::parse_integer(a.as_ref()));
                    let Some(count) = count.filter(|&c| c >= 0) else {
                        continue;
                    };
                    let start = first + i64::from(first_key);
                    let step = i64::from(step).max(1);
                    // A count past the arguments names keys that are not there: Redis finds
                    // none for this specification. Checked before multiplying.
                    if count > argc {
                        continue;
                    }
                    let last = start.saturating_add((count - 1).saturating_mul(step));
                    if count > 0 && last >= argc {
                        continue;
                    }
                    (start, last, step)
                }
                FindKeys::Unknown => continue,
            };
            let mut i = start;
            while i <= last && i < argc && i > 0 {
                keys.push((i as usize, spec.flags));
                i = i.saturating_add(step);
            }
        }
        keys
    }
}

/// The positions in `argv` (name at 0) that hold keys, for any command: the command is looked
/// up in the table, and for containers (`OBJECT ENCODING`, `XINFO STREAM`, ...) its subcommand.
/// Unknown commands have no known keys.
///
/// This is the one key-position function: the cluster router, the pipeline's per-command slots
/// and the test server's `COMMAND GETKEYS` all rely on the same table.
///
/// ```
/// use rediscover::command::key_positions;
/// assert_eq!(key_positions(&["MSET", "a", "1", "b", "2"]), vec![1, 3]);
/// assert_eq!(key_positions(&["object", "encoding", "k"]), vec![2]);
/// assert_eq!(key_positions(&["EVAL", "s", "99999999999999", "k"]), Vec::<usize>::new());
/// assert!(key_positions::<&str>(&[]).is_empty());
/// ```
pub fn key_positions<A: AsRef<[u8]>>(argv: &[A]) -> Vec<usize> {
    let Some(name) = argv.first() else {
        return Vec::new();
    };
    let Some(top) = lookup(name.as_ref()) else {
        return Vec::new();
    };
    let info = match (top.subcommands.is_empty(), argv.get(1)) {
        (false, Some(sub)) => match top.subcommand(sub.as_ref()) {
            Some(info) => info,
            None => return Vec::new(),
        },
        _ => top,
    };
    info.key_positions(argv)
}

/// Looks a command up by name, case-insensitively.
///
/// ```
/// let get = rediscover::command::lookup(b"GET").unwrap();
/// assert_eq!(get.arity, 2);
/// assert!(!get.is_write());
/// assert_eq!(get.key_positions(&["GET", "k"]), vec![1]);
/// ```
pub fn lookup(name: &[u8]) -> Option<&'static CommandInfo> {
    COMMANDS
        .binary_search_by(|c| cmp_ignore_case(c.name.as_bytes(), name))
        .ok()
        .map(|i| &COMMANDS[i])
}

/// Whether `name` is a command only a sentinel has (`sentinel`): a Redis server does not know
/// it, so its `ACL CAT` and ACL rules do not either.
///
/// ```
/// assert!(rediscover::command::sentinel_only(b"SENTINEL"));
/// assert!(!rediscover::command::sentinel_only(b"get"));
/// ```
pub fn sentinel_only(name: &[u8]) -> bool {
    SENTINEL_ONLY
        .iter()
        .any(|s| s.as_bytes().eq_ignore_ascii_case(name))
}

/// Every command in the table, sorted by name.
pub fn all() -> &'static [CommandInfo] {
    COMMANDS
}

fn cmp_ignore_case(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let common = a.len().min(b.len());
    for i in 0..common {
        let (x, y) = (a[i].to_ascii_lowercase(), b[i].to_ascii_lowercase());
        if x != y {
            return x.cmp(&y);
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(COMMANDS.windows(2).all(|w| w[0].name < w[1].name));
        for name in [
            "get", "set", "mset", "blpop", "zadd", "client", "cluster", "xread",
        ] {
            assert!(lookup(name.as_bytes()).is_some(), "{name}");
        }
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(b"SeT").unwrap().is_write());
    }

    #[test]
    fn key_positions_follow_specs() {
        let k = |argv: &[&str]| lookup(argv[0].as_bytes()).unwrap().key_positions(argv);
        assert_eq!(k(&["MSET", "a", "1", "b", "2"]), vec![1, 3]);
        assert_eq!(k(&["MGET", "a", "b", "c"]), vec![1, 2, 3]);
        assert_eq!(
            k(&["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"]),
            vec![1, 3, 4]
        );
        assert_eq!(k(&["EVAL", "s", "2", "a", "b", "x"]), vec![3, 4]);
        assert_eq!(
            k(&["XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"]),
            vec![4, 5]
        );
        assert_eq!(k(&["BLPOP", "a", "b", "0"]), vec![1, 2]);
        assert_eq!(k(&["PING"]), Vec::<usize>::new());
        assert_eq!(
            k(&["OBJECT", "ENCODING", "k"]).len(),
            0,
            "containers have no keys"
        );
        let enc = lookup(b"object").unwrap().subcommand(b"ENCODING").unwrap();
        assert_eq!(enc.key_positions(&["OBJECT", "ENCODING", "k"]), vec![2]);
    }

    #[test]
    fn hostile_key_counts_find_nothing_and_never_panic() {
        for count in [
            "99999999999999",
            "9223372036854775807",
            "-9223372036854775808",
            "-1",
            "2147483648",
            "4294967297",
            "3",
            "x",
            "",
        ] {
            for cmd in ["EVAL", "FCALL", "LMPOP", "ZINTER", "SINTERCARD"] {
                let argv = [cmd, "s", count, "a", "b"];
                assert!(key_positions(&argv).is_empty(), "{argv:?}");
            }
            // The destination is found by its own specification; the counted keys are not.
            let argv = ["ZUNIONSTORE", "d", count, "a", "b"];
            assert_eq!(key_positions(&argv), vec![1], "{argv:?}");
        }
        // Zero keys is a valid count.
        assert!(key_positions(&["EVAL", "s", "0"]).is_empty());
        // A count that fits is honoured, whatever else follows.
        assert_eq!(key_positions(&["EVAL", "s", "1", "k", "arg"]), vec![3]);
        assert_eq!(key_positions(&["XREAD", "STREAMS"]), Vec::<usize>::new());
        assert_eq!(key_positions(&["OBJECT"]), Vec::<usize>::new());
        assert_eq!(
            key_positions(&["OBJECT", "NOSUCH", "k"]),
            Vec::<usize>::new()
        );
        assert_eq!(key_positions(&["NOSUCH", "k"]), Vec::<usize>::new());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Every command of the table (and its subcommands), with arguments that are keywords,
        /// huge or negative numbers or noise: positions stay inside argv, never at the name,
        /// and nothing panics.
        #[test]
        fn key_positions_stay_inside_argv(
            which in 0usize..10_000,
            sub in 0usize..64,
            args in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::string::string_regex("[a-z]{0,4}").unwrap(),
                    proptest::num::i64::ANY.prop_map(|n| n.to_string()),
                    (0i64..6).prop_map(|n| n.to_string()),
                    proptest::sample::select(vec![
                        "STREAMS", "BLOCK", "KEYS", "WEIGHTS", "STORE", "BY", "GET", "LIMIT",
                    ]).prop_map(str::to_string),
                ],
                0..12,
            ),
        ) {
            let top = &COMMANDS[which % COMMANDS.len()];
            let mut argv: Vec<String> = vec![top.name.to_string()];
            if !top.subcommands.is_empty() {
                let sub = &top.subcommands[sub % top.subcommands.len()];
                argv.push(sub.name.rsplit('|').next().unwrap_or("").to_string());
            }
            argv.extend(args);
            let positions = key_positions(&argv);
            for p in &positions {
                proptest::prop_assert!(*p > 0 && *p < argv.len(), "{argv:?} -> {positions:?}");
            }
            for info in std::iter::once(top).chain(top.subcommands) {
                for p in info.key_positions(&argv) {
                    proptest::prop_assert!(p > 0 && p < argv.len(), "{argv:?} -> {p}");
                }
            }
        }
    }
}
