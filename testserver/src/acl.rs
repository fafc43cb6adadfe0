//! ACL users and authentication.
//!
//! A [`User`] keeps what AUTH needs (enabled, nopass, passwords); the rest of its ACL rules
//! (command rules, key and channel patterns, password hashes added with `#`) are kept in
//! [`Acl::rules`] and shown by ACL GETUSER / ACL LIST. Command rules are enforced
//! ([`Acl::check_command`]); key and channel patterns are stored and reported but not enforced.

use std::collections::BTreeMap;

use bytes::Bytes;

/// One ACL user.
#[derive(Debug, Clone)]
pub struct User {
    /// `on` / `off`.
    pub enabled: bool,
    /// `nopass`: any password is accepted.
    pub nopass: bool,
    /// Accepted passwords.
    pub passwords: Vec<Vec<u8>>,
}

/// The ACL rules of a user beyond its passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Command rules in order (`+@all`, `-@all +get`).
    pub commands: Vec<String>,
    /// Key patterns with their prefix (`~*`, `%R~k*`).
    pub keys: Vec<String>,
    /// Channel patterns with their prefix (`&*`).
    pub channels: Vec<String>,
    /// SHA-256 hex digests of passwords added with `#<hash>`.
    pub hashes: Vec<String>,
    /// `sanitize-payload` (`Some(true)`), `skip-sanitize-payload` (`Some(false)`), or neither.
    pub sanitize: Option<bool>,
}

impl Rules {
    /// Full access, as the default user and the test builder's users have.
    pub fn full() -> Self {
        Rules {
            commands: vec!["+@all".into()],
            keys: vec!["~*".into()],
            channels: vec!["&*".into()],
            hashes: Vec::new(),
            sanitize: None,
        }
    }

    /// What a user created by ACL SETUSER starts with.
    pub fn none() -> Self {
        Rules {
            commands: vec!["-@all".into()],
            keys: Vec::new(),
            channels: Vec::new(),
            hashes: Vec::new(),
            sanitize: None,
        }
    }
}

/// The users of one node.
#[derive(Debug, Clone)]
pub struct Acl {
    /// Users by name.
    pub users: BTreeMap<Bytes, User>,
    /// Rules by user name; a user without an entry has full access.
    pub rules: BTreeMap<Bytes, Rules>,
    /// The node is a sentinel: rules may name only the commands a sentinel has.
    pub sentinel_mode: bool,
}

impl Acl {
    /// The default user only, with `requirepass` as its password if given.
    pub fn new(requirepass: Option<&[u8]>) -> Self {
        let mut acl = Acl {
            users: BTreeMap::new(),
            rules: BTreeMap::new(),
            sentinel_mode: false,
        };
        acl.users.insert(
            Bytes::from_static(b"default"),
            User {
                enabled: true,
                nopass: true,
                passwords: Vec::new(),
            },
        );
        acl.set_default_password(requirepass);
        acl
    }

    /// `requirepass` semantics: the default user gets exactly this password, or `nopass`.
    pub fn set_default_password(&mut self, password: Option<&[u8]>) {
        let Some(user) = self.users.get_mut(&b"default"[..]) else {
            return;
        };
        match password {
            Some(p) => {
                user.nopass = false;
                user.passwords = vec![p.to_vec()];
            }
            None => {
                user.nopass = true;
                user.passwords.clear();
            }
        }
        if let Some(r) = self.rules.get_mut(&b"default"[..]) {
            r.hashes.clear();
        }
    }

    /// Whether new connections start unauthenticated (the default user needs a password).
    pub fn auth_required(&self) -> bool {
        match self.users.get(&b"default"[..]) {
            Some(u) => !(u.enabled && u.nopass),
            None => true,
        }
    }

    /// Checks a user name and password.
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        let Some(u) = self.users.get(user) else {
            return false;
        };
        if !u.enabled {
            return false;
        }
        if u.nopass || u.passwords.iter().any(|p| p == password) {
            return true;
        }
        self.rules
            .get(user)
            .is_some_and(|r| !r.hashes.is_empty() && r.hashes.contains(&sha256_hex(password)))
    }

    /// The rules of `user` (full access when none were set).
    pub fn rules_of(&self, user: &[u8]) -> Rules {
        self.rules.get(user).cloned().unwrap_or_else(Rules::full)
    }

    /// The password digests ACL GETUSER shows: every password's SHA-256 and the `#` hashes.
    pub fn hashes_of(&self, user: &[u8]) -> Vec<String> {
        let mut out: Vec<String> = self
            .users
            .get(user)
            .map(|u| u.passwords.iter().map(|p| sha256_hex(p)).collect())
            .unwrap_or_default();
        out.extend(self.rules_of(user).hashes);
        out
    }

    /// The flags ACL GETUSER shows.
    pub fn flags_of(&self, user: &[u8]) -> Vec<&'static str> {
        let mut flags = Vec::new();
        let Some(u) = self.users.get(user) else {
            return flags;
        };
        flags.push(if u.enabled { "on" } else { "off" });
        if u.nopass {
            flags.push("nopass");
        }
        match self.rules_of(user).sanitize {
            Some(true) => flags.push("sanitize-payload"),
            Some(false) => flags.push("skip-sanitize-payload"),
            None => {}
        }
        flags
    }

    /// One ACL LIST line: `user default on nopass ~* &* +@all`.
    pub fn describe(&self, name: &[u8]) -> String {
        let rules = self.rules_of(name);
        let mut words: Vec<String> = vec!["user".into(), String::from_utf8_lossy(name).into()];
        words.extend(self.flags_of(name).into_iter().map(String::from));
        words.extend(self.hashes_of(name).into_iter().map(|h| format!("#{h}")));
        words.extend(rules.keys.iter().cloned());
        if rules.channels.is_empty() {
            words.push("resetchannels".into());
        } else {
            words.extend(rules.channels.iter().cloned());
        }
        words.extend(rules.commands.iter().cloned());
        words.join(" ")
    }

    /// The NOPERM error if `user` may not run `cmd` (with its arguments `argv`), as Redis's
    /// `ACLCheckAllPerm` decides from the command rules: the last rule naming the command, its
    /// container or one of its categories wins.
    pub fn check_command(
        &self,
        user: &[u8],
        cmd: &'static rediscover::command::CommandInfo,
        argv: &[Bytes],
    ) -> Result<(), String> {
        let Some(rules) = self.rules.get(user) else {
            return Ok(());
        };
        let info = match argv.get(1) {
            Some(sub) if !cmd.subcommands.is_empty() => cmd.subcommand(sub).unwrap_or(cmd),
            _ => cmd,
        };
        let top = info.name.split('|').next().unwrap_or(info.name);
        let mut allowed = false;
        for rule in &rules.commands {
            let (sign, what) = rule.split_at(1);
            let matches = match what.strip_prefix('@') {
                Some("all") => true,
                Some(cat) => info
                    .acl_categories
                    .iter()
                    .any(|c| c.strip_prefix('@') == Some(cat)),
                None => what == info.name || what == top,
            };
            if matches {
                allowed = sign == "+";
            }
        }
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "NOPERM this user has no permissions to run the '{}' command",
                info.name
            ))
        }
    }

    /// Applies ACL SETUSER rules to `name` (created if missing), all or nothing. The error is
    /// Redis's text after `ERR ` (`Error in ACL SETUSER modifier 'x': Syntax error`).
    pub fn set_user(&mut self, name: &[u8], ops: &[&[u8]]) -> Result<(), String> {
        let (mut user, mut rules) = match self.users.get(name) {
            Some(u) => (u.clone(), self.rules_of(name)),
            None => (
                User {
                    enabled: false,
                    nopass: false,
                    passwords: Vec::new(),
                },
                Rules::none(),
            ),
        };
        for op in ops {
            apply_rule(&mut user, &mut rules, op, self.sentinel_mode).map_err(|why| {
                format!(
                    "Error in ACL SETUSER modifier '{}': {why}",
                    String::from_utf8_lossy(op)
                )
            })?;
        }
        let key = Bytes::copy_from_slice(name);
        self.users.insert(key.clone(), user);
        self.rules.insert(key, rules);
        Ok(())
    }
}

/// The ACL categories, in Redis's order (ACL CAT).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

fn apply_rule(user: &mut User, rules: &mut Rules, op: &[u8], sentinel: bool) -> Result<(), String> {
    let text = String::from_utf8_lossy(op);
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "on" => user.enabled = true,
        "off" => user.enabled = false,
        "nopass" => {
            user.nopass = true;
            user.passwords.clear();
            rules.hashes.clear();
        }
        "resetpass" => {
            user.nopass = false;
            user.passwords.clear();
            rules.hashes.clear();
        }
        "allkeys" => rules.keys = vec!["~*".into()],
        "resetkeys" => rules.keys.clear(),
        "allchannels" => rules.channels = vec!["&*".into()],
        "resetchannels" => rules.channels.clear(),
        "allcommands" => rules.commands = vec!["+@all".into()],
        "nocommands" => rules.commands = vec!["-@all".into()],
        "sanitize-payload" => rules.sanitize = Some(true),
        "skip-sanitize-payload" => rules.sanitize = Some(false),
        "reset" => {
            *user = User {
                enabled: false,
                nopass: false,
                passwords: Vec::new(),
            };
            *rules = Rules::none();
            rules.sanitize = Some(true);
        }
        _ => return apply_prefixed(user, rules, op, &text, sentinel),
    }
    Ok(())
}

fn apply_prefixed(
    user: &mut User,
    rules: &mut Rules,
    op: &[u8],
    text: &str,
    sentinel: bool,
) -> Result<(), String> {
    let Some(&first) = op.first() else {
        return Err("Syntax error".into());
    };
    let rest = &op[1..];
    match first {
        b'>' => {
            user.nopass = false;
            if !user.passwords.iter().any(|p| p == rest) {
                user.passwords.push(rest.to_vec());
            }
        }
        b'<' => {
            let before = user.passwords.len();
            user.passwords.retain(|p| p != rest);
            if user.passwords.len() == before {
                return Err(
                    "The password you are trying to remove from the user does not exist".into(),
                );
            }
        }
        b'#' => {
            let hash = check_hash(rest)?;
            user.nopass = false;
            if !rules.hashes.contains(&hash) {
                rules.hashes.push(hash);
            }
        }
        b'!' => {
            let hash = check_hash(rest)?;
            let before = user.passwords.len() + rules.hashes.len();
            user.passwords.retain(|p| sha256_hex(p) != hash);
            rules.hashes.retain(|h| *h != hash);
            if user.passwords.len() + rules.hashes.len() == before {
                return Err(
                    "The password you are trying to remove from the user does not exist".into(),
                );
            }
        }
        b'~' | b'%' => {
            if rules.keys.iter().any(|k| k == "~*") {
                return Err("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns".into());
            }
            if first == b'%' && !valid_key_perm(rest) {
                return Err("Syntax error".into());
            }
            if text == "~*" {
                rules.keys = vec!["~*".into()];
            } else if !rules.keys.iter().any(|k| k == text) {
                rules.keys.push(text.to_string());
            }
        }
        b'&' => {
            if rules.channels.iter().any(|c| c == "&*") {
                return Err("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels".into());
            }
            if text == "&*" {
                rules.channels = vec!["&*".into()];
            } else if !rules.channels.iter().any(|c| c == text) {
                rules.channels.push(text.to_string());
            }
        }
        b'+' | b'-' => {
            let name = text[1..].to_ascii_lowercase();
            let known = match name.strip_prefix('@') {
                Some(cat) => cat == "all" || CATEGORIES.contains(&cat),
                None => known_command(&name, sentinel),
            };
            if !known {
                return Err("Unknown command or category name in ACL".into());
            }
            let rule = format!("{}{}", first as char, name);
            if name == "@all" {
                rules.commands = vec![rule];
            } else {
                rules.commands.push(rule);
            }
        }
        _ => return Err("Syntax error".into()),
    }
    Ok(())
}

/// `%R~`, `%W~`, `%RW~` key permission prefixes.
fn valid_key_perm(rest: &[u8]) -> bool {
    let Some(tilde) = rest.iter().position(|&c| c == b'~') else {
        return false;
    };
    tilde > 0
        && rest[..tilde]
            .iter()
            .all(|c| matches!(c.to_ascii_uppercase(), b'R' | b'W'))
}

/// Whether ACL rules may name `name` (`get`, `client|kill`): a command Redis registers in this
/// mode, implemented here or not (a server's, without the sentinel-only ones; a sentinel's).
fn known_command(name: &str, sentinel: bool) -> bool {
    let (top, sub) = match name.split_once('|') {
        Some((top, sub)) => (top, Some(sub)),
        None => (name, None),
    };
    let info = if sentinel {
        crate::sentinel::table().get(top.as_bytes()).map(|c| c.info)
    } else if rediscover::command::sentinel_only(top.as_bytes()) {
        None
    } else {
        rediscover::command::lookup(top.as_bytes())
    };
    match (info, sub) {
        (Some(info), Some(sub)) => info.subcommand(sub.as_bytes()).is_some(),
        (info, None) => info.is_some(),
        (None, Some(_)) => false,
    }
}

fn check_hash(rest: &[u8]) -> Result<String, String> {
    if rest.len() != 64 || !rest.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters".into());
    }
    Ok(String::from_utf8_lossy(rest).into_owned())
}

/// SHA-256 of `data` as 64 lower-case hex digits (how Redis stores ACL passwords).
pub fn sha256_hex(data: &[u8]) -> String {
    sha256(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// FIPS 180-4 SHA-256; small enough to keep here rather than add a dependency.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (a, b) in h.iter_mut().zip(v) {
            *a = a.wrapping_add(b);
        }
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_values() {
        assert_eq!(
            sha256_hex(b"pw"),
            "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn setuser_is_all_or_nothing() {
        let mut acl = Acl::new(None);
        assert!(acl.set_user(b"bob", &[b"on", b"bogus"]).is_err());
        assert!(!acl.users.contains_key(&b"bob"[..]));
        acl.set_user(b"bob", &[b"on", b">pw", b"~k*", b"+get"])
            .unwrap();
        assert!(acl.check(b"bob", b"pw"));
        assert_eq!(
            acl.describe(b"bob"),
            "user bob on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~k* resetchannels -@all +get"
        );
    }
}
