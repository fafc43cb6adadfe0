//! ACL users and authentication.
//!
//! A [`User`] keeps what AUTH needs (enabled, nopass, passwords); the rest of its ACL rules
//! (command rules, key and channel patterns, password hashes added with `#`) are kept in
//! [`Acl::rules`] and shown by ACL GETUSER / ACL LIST, command rules rebuilt from what they allow
//! as Redis does (`render`). Commands, keys and channels are enforced ([`Acl::check_request`]).
//! The `aclfile`, ACL LOAD / SAVE and config `user` lines are in [`file`](mod@file).

use std::collections::BTreeMap;

use bytes::Bytes;

pub mod file;
mod render;

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

/// A key pattern with the access it grants: `~p` (read and write), `%R~p`, `%W~p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    /// The glob.
    pub pattern: Vec<u8>,
    /// Grants read access (`%R~`, or `~`).
    pub read: bool,
    /// Grants write access (`%W~`, or `~`).
    pub write: bool,
}

impl KeyPattern {
    /// How ACL LIST and GETUSER show it: `~p`, `%R~p` or `%W~p`.
    pub fn describe(&self) -> String {
        let prefix = match (self.read, self.write) {
            (true, false) => "%R~",
            (false, true) => "%W~",
            _ => "~",
        };
        format!("{prefix}{}", String::from_utf8_lossy(&self.pattern))
    }
}

/// One set of permissions: the root one of a user, or one of its `(...)` selectors. A command
/// is allowed when one selector allows the command, every key it names and every channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Command rules in order (`+@all`, `-@all +get`).
    pub commands: Vec<String>,
    /// `allkeys` / `~*`.
    pub all_keys: bool,
    /// Key patterns (when not `all_keys`).
    pub keys: Vec<KeyPattern>,
    /// `allchannels` / `&*`.
    pub all_channels: bool,
    /// Channel patterns (when not `all_channels`).
    pub channels: Vec<Vec<u8>>,
}

impl Selector {
    /// Everything allowed.
    pub fn full() -> Self {
        Selector {
            commands: vec!["+@all".into()],
            all_keys: true,
            keys: Vec::new(),
            all_channels: true,
            channels: Vec::new(),
        }
    }

    /// Nothing allowed (`-@all resetkeys resetchannels`).
    pub fn none() -> Self {
        Selector {
            commands: vec!["-@all".into()],
            all_keys: false,
            keys: Vec::new(),
            all_channels: false,
            channels: Vec::new(),
        }
    }

    /// GETUSER's `keys` field: `~*`, or the patterns separated by spaces.
    pub fn keys_text(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let words: Vec<String> = self.keys.iter().map(KeyPattern::describe).collect();
        words.join(" ")
    }

    /// GETUSER's `channels` field: `&*`, or the patterns separated by spaces.
    pub fn channels_text(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let words: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        words.join(" ")
    }

    /// The command rules as ACL LIST and GETUSER show them: rebuilt from what they allow, as
    /// Redis does (module `acl::render`); `sentinel` for a sentinel's command table.
    pub fn command_rules(&self, sentinel: bool) -> String {
        render::command_rules(self, sentinel)
    }

    /// As ACL LIST shows it (Redis's `ACLDescribeSelector`): keys, channels, commands.
    pub fn describe(&self, sentinel: bool) -> String {
        let mut words: Vec<String> = Vec::new();
        if self.all_keys {
            words.push("~*".into());
        } else {
            words.extend(self.keys.iter().map(KeyPattern::describe));
        }
        if self.all_channels {
            words.push("&*".into());
        } else {
            words.push("resetchannels".into());
            words.extend(
                self.channels
                    .iter()
                    .map(|c| format!("&{}", String::from_utf8_lossy(c))),
            );
        }
        words.push(self.command_rules(sentinel));
        words.join(" ")
    }

    /// Whether the command rules allow `info` (a command or a subcommand), as the last rule
    /// naming it, its container or one of its categories decides. Commands that need no
    /// authentication (AUTH, HELLO) are always allowed, as in Redis.
    fn allows_command(&self, info: &rediscover::command::CommandInfo, argv: &[Bytes]) -> bool {
        if info.has_flag("no_auth") {
            return true;
        }
        let top = info.name.split('|').next().unwrap_or(info.name);
        let mut allowed = false;
        for rule in &self.commands {
            let (sign, what) = rule.split_at(1);
            let matches = match what.strip_prefix('@') {
                Some("all") => true,
                Some(cat) => info
                    .acl_categories
                    .iter()
                    .any(|c| c.strip_prefix('@') == Some(cat)),
                None => match what.split_once('|') {
                    // A first-argument rule of a command without subcommands.
                    Some((cmd, arg)) if cmd == info.name => argv
                        .get(1)
                        .is_some_and(|a| a.eq_ignore_ascii_case(arg.as_bytes())),
                    _ => what == info.name || what == top,
                },
            };
            if matches {
                allowed = sign == "+";
            }
        }
        allowed
    }

    fn allows_key(&self, key: &[u8], access: KeyAccess) -> bool {
        self.all_keys
            || self.keys.iter().any(|p| {
                (p.read || !access.read)
                    && (p.write || !access.write)
                    && crate::glob::glob_match(&p.pattern, key, false)
            })
    }

    fn allows_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if is_pattern {
                    p[..] == *channel
                } else {
                    crate::glob::glob_match(p, channel, false)
                }
            })
    }

    /// Redis's `ACLSelectorCheckCmd`.
    fn check(&self, req: &Request<'_>) -> Result<(), Denied> {
        if !self.allows_command(req.info, req.argv) {
            return Err(Denied::Command);
        }
        if !self.all_keys {
            for &(pos, access) in req.keys {
                if !self.allows_key(&req.argv[pos], access) {
                    return Err(Denied::Key(pos));
                }
            }
        }
        if !self.all_channels {
            for &(pos, is_pattern) in req.channels {
                if !self.allows_channel(&req.argv[pos], is_pattern) {
                    return Err(Denied::Channel(pos));
                }
            }
        }
        Ok(())
    }
}

/// The access a command needs to one key, from its key specification's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAccess {
    /// The command reads the key (`access`).
    pub read: bool,
    /// The command writes it (`insert`, `update`, `delete`).
    pub write: bool,
}

impl KeyAccess {
    /// From a key specification's flags, as Redis's `ACLSelectorCheckKey` maps them.
    pub fn from_flags(flags: &[&str]) -> Self {
        let has = |f: &str| flags.iter().any(|g| g.eq_ignore_ascii_case(f));
        KeyAccess {
            read: has("access"),
            write: has("insert") || has("update") || has("delete"),
        }
    }
}

/// What an ACL check looks at: the command, its arguments, the positions of its keys with the
/// access each needs, and the positions of its channels (and whether each is a pattern).
pub struct Request<'a> {
    /// The command or subcommand.
    pub info: &'static rediscover::command::CommandInfo,
    /// The arguments, name included.
    pub argv: &'a [Bytes],
    /// Key positions and access.
    pub keys: &'a [(usize, KeyAccess)],
    /// Channel positions, and whether the channel is a pattern (PSUBSCRIBE).
    pub channels: &'a [(usize, bool)],
}

/// Why a command was refused, with the position of the offending argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    /// The command or subcommand.
    Command,
    /// The key at this position.
    Key(usize),
    /// The channel at this position.
    Channel(usize),
}

impl Denied {
    /// The reply Redis's `processCommand` gives.
    pub fn reply(&self, info: &rediscover::command::CommandInfo) -> String {
        match self {
            Denied::Command => format!(
                "NOPERM this user has no permissions to run the '{}' command",
                info.name
            ),
            Denied::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .into()
            }
            Denied::Channel(_) => "NOPERM this user has no permissions to access one of the channels used as arguments".into(),
        }
    }

    /// The reply EXEC gives for a queued command the rules no longer allow.
    pub fn exec_reply(&self) -> String {
        let reason = match self {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}")
    }

    /// How a script's refused call ends its error (Redis's `getAclErrorMessage`).
    pub fn script_reason(&self) -> &'static str {
        match self {
            Denied::Command => "can't run this command or subcommand",
            Denied::Key(_) => {
                "can't access at least one of the keys mentioned in the command arguments"
            }
            Denied::Channel(_) => "can't publish to the channel mentioned in the command",
        }
    }

    /// ACL LOG's `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Denied::Command => "command",
            Denied::Key(_) => "key",
            Denied::Channel(_) => "channel",
        }
    }

    /// ACL LOG's `object`: the command's full name, or the key or channel.
    pub fn object(&self, info: &rediscover::command::CommandInfo, argv: &[Bytes]) -> Vec<u8> {
        match *self {
            Denied::Command => info.name.as_bytes().to_vec(),
            Denied::Key(i) | Denied::Channel(i) => {
                argv.get(i).map(|a| a.to_vec()).unwrap_or_default()
            }
        }
    }

    // Redis keeps the "most relevant" refusal over all selectors: a key or channel over the
    // command, and the later argument among equals.
    fn rank(&self) -> (u8, usize) {
        match *self {
            Denied::Command => (0, 0),
            Denied::Key(i) => (1, i),
            Denied::Channel(i) => (2, i),
        }
    }
}

/// The ACL rules of a user beyond its passwords: the root selector, more `(...)` selectors, and
/// the `#` password hashes and payload-sanitizing flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The root selector.
    pub root: Selector,
    /// Selectors added with `(...)`, in order.
    pub selectors: Vec<Selector>,
    /// SHA-256 hex digests of passwords added with `#<hash>`.
    pub hashes: Vec<String>,
    /// `sanitize-payload` (`Some(true)`), `skip-sanitize-payload` (`Some(false)`), or neither.
    pub sanitize: Option<bool>,
}

impl Rules {
    /// Full access, as the default user and the test builder's users have.
    pub fn full() -> Self {
        Rules {
            root: Selector::full(),
            selectors: Vec::new(),
            hashes: Vec::new(),
            sanitize: None,
        }
    }

    /// What a user created by ACL SETUSER starts with.
    pub fn none() -> Self {
        Rules {
            root: Selector::none(),
            selectors: Vec::new(),
            hashes: Vec::new(),
            sanitize: None,
        }
    }

    /// Redis's `ACLCheckAllUserCommandPerm`: allowed when one selector allows everything the
    /// command touches; otherwise the most relevant refusal.
    pub fn check(&self, req: &Request<'_>) -> Result<(), Denied> {
        let mut worst: Option<Denied> = None;
        for s in std::iter::once(&self.root).chain(&self.selectors) {
            match s.check(req) {
                Ok(()) => return Ok(()),
                Err(d) => {
                    if worst.map_or(true, |w| d.rank() > w.rank()) {
                        worst = Some(d);
                    }
                }
            }
        }
        Err(worst.unwrap_or(Denied::Command))
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
    /// ACL LOG, newest first.
    pub log: std::collections::VecDeque<LogEntry>,
}

/// One ACL LOG entry: a refused command, key, channel or authentication.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// How many similar refusals it stands for.
    pub count: u64,
    /// `command`, `key`, `channel` or `auth`.
    pub reason: &'static str,
    /// `toplevel`, `multi` or `lua`.
    pub context: &'static str,
    /// The command, key or channel refused (AUTH's name for an authentication).
    pub object: Vec<u8>,
    /// The user.
    pub username: Vec<u8>,
    /// When it last happened, Unix milliseconds.
    pub ctime_ms: i64,
    /// The CLIENT LIST line of the client that last caused it.
    pub client_info: String,
}

/// Redis groups refusals alike (same reason, context, object and user) within this many
/// milliseconds into one entry.
const LOG_GROUPING_MS: i64 = 60_000;

impl Acl {
    /// The default user only, with `requirepass` as its password if given.
    pub fn new(requirepass: Option<&[u8]>) -> Self {
        let mut acl = Acl {
            users: BTreeMap::new(),
            rules: BTreeMap::new(),
            sentinel_mode: false,
            log: std::collections::VecDeque::new(),
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

    /// Adds `entry` to the ACL LOG, or bumps a similar recent entry among the last ten (Redis's
    /// `addACLLogEntry`), keeping at most `max_len` entries.
    pub fn log(&mut self, entry: LogEntry, max_len: usize) {
        let similar = self.log.iter().take(10).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && (e.ctime_ms - entry.ctime_ms).abs() <= LOG_GROUPING_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        match similar {
            Some(i) => {
                let mut e = self.log.remove(i).unwrap_or(entry.clone());
                e.count += 1;
                e.ctime_ms = entry.ctime_ms;
                e.client_info = entry.client_info;
                self.log.push_front(e);
            }
            None => {
                self.log.push_front(entry);
                self.log.truncate(max_len);
            }
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

    /// One ACL LIST line: `user default on nopass ~* &* +@all`, then ` (selector)` for each
    /// further selector.
    pub fn describe(&self, name: &[u8]) -> String {
        let rules = self.rules_of(name);
        let mut words: Vec<String> = vec!["user".into(), String::from_utf8_lossy(name).into()];
        words.extend(self.flags_of(name).into_iter().map(String::from));
        words.extend(self.hashes_of(name).into_iter().map(|h| format!("#{h}")));
        words.push(rules.root.describe(self.sentinel_mode));
        let mut line = words.join(" ");
        for s in &rules.selectors {
            line.push_str(&format!(" ({})", s.describe(self.sentinel_mode)));
        }
        line
    }

    /// Whether `user` may run the command described by `req` (Redis's
    /// `ACLCheckAllUserCommandPerm`). A user without rules may run anything.
    pub fn check_request(&self, user: &[u8], req: &Request<'_>) -> Result<(), Denied> {
        match self.rules.get(user) {
            Some(rules) => rules.check(req),
            None => Ok(()),
        }
    }

    /// Whether `user` may use `channel` (a pattern when `is_pattern`), by any selector: what
    /// Redis checks of the subscriptions of a user whose rules change.
    pub fn allows_channel(&self, user: &[u8], channel: &[u8], is_pattern: bool) -> bool {
        match self.rules.get(user) {
            Some(rules) => std::iter::once(&rules.root)
                .chain(&rules.selectors)
                .any(|s| s.allows_channel(channel, is_pattern)),
            None => true,
        }
    }

    /// Applies ACL SETUSER rules to `name` (created if missing), all or nothing. The error is
    /// Redis's text after `ERR ` (`Error in ACL SETUSER modifier 'x': Syntax error`). Arguments
    /// from one starting with `(` to one ending with `)` form one selector, as in Redis.
    pub fn set_user(&mut self, name: &[u8], ops: &[&[u8]]) -> Result<(), String> {
        let ops = merge_selector_args(ops)?;
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
        for op in &ops {
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

/// Redis's `ACLMergeSelectorArguments`: `(` ... `)` spread over several arguments becomes one.
fn merge_selector_args(ops: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::with_capacity(ops.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, op) in ops.iter().enumerate() {
        if let Some((_, sel)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(open.take().map(|(_, s)| s).unwrap_or_default());
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((i, op.to_vec()));
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((i, _)) => Err(format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(ops[i])
        )),
        None => Ok(out),
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
    if op.is_empty() {
        return Ok(());
    }
    let lower = String::from_utf8_lossy(op).to_ascii_lowercase();
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
        "sanitize-payload" => rules.sanitize = Some(true),
        "skip-sanitize-payload" => rules.sanitize = Some(false),
        "clearselectors" => rules.selectors.clear(),
        "reset" => {
            *user = User {
                enabled: false,
                nopass: false,
                passwords: Vec::new(),
            };
            *rules = Rules::none();
            rules.sanitize = Some(true);
        }
        _ => match op[0] {
            b'>' | b'<' | b'#' | b'!' => apply_password(user, rules, op)?,
            b'(' if op.len() > 1 && op.last() == Some(&b')') => {
                let mut sel = Selector::none();
                let inner = String::from_utf8_lossy(&op[1..op.len() - 1]).into_owned();
                for word in inner.split_ascii_whitespace() {
                    apply_selector_rule(&mut sel, word.as_bytes(), sentinel)?;
                }
                rules.selectors.push(sel);
            }
            _ => apply_selector_rule(&mut rules.root, op, sentinel)?,
        },
    }
    Ok(())
}

fn apply_password(user: &mut User, rules: &mut Rules, op: &[u8]) -> Result<(), String> {
    let rest = &op[1..];
    match op[0] {
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
        _ => {
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
    }
    Ok(())
}

/// Redis's `ACLSetSelector`: key, channel and command rules.
fn apply_selector_rule(sel: &mut Selector, op: &[u8], sentinel: bool) -> Result<(), String> {
    const SYNTAX: &str = "Syntax error";
    let text = String::from_utf8_lossy(op);
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "allkeys" | "~*" => {
            sel.all_keys = true;
            sel.keys.clear();
            return Ok(());
        }
        "resetkeys" => {
            sel.all_keys = false;
            sel.keys.clear();
            return Ok(());
        }
        "allchannels" | "&*" => {
            sel.all_channels = true;
            sel.channels.clear();
            return Ok(());
        }
        "resetchannels" => {
            sel.all_channels = false;
            sel.channels.clear();
            return Ok(());
        }
        "allcommands" | "+@all" => {
            sel.commands = vec!["+@all".into()];
            return Ok(());
        }
        "nocommands" | "-@all" => {
            sel.commands = vec!["-@all".into()];
            return Ok(());
        }
        _ => {}
    }
    let Some(&first) = op.first() else {
        return Err(SYNTAX.into());
    };
    match first {
        b'~' | b'%' => {
            if sel.all_keys {
                return Err("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns".into());
            }
            let (read, write, pattern) = if first == b'%' {
                parse_key_perm(&op[1..]).ok_or(SYNTAX)?
            } else {
                (true, true, &op[1..])
            };
            if pattern.iter().any(|c| c.is_ascii_whitespace()) {
                return Err(SYNTAX.into());
            }
            match sel.keys.iter_mut().find(|p| p.pattern == pattern) {
                Some(p) => {
                    p.read |= read;
                    p.write |= write;
                }
                None => sel.keys.push(KeyPattern {
                    pattern: pattern.to_vec(),
                    read,
                    write,
                }),
            }
        }
        b'&' => {
            if sel.all_channels {
                return Err("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels".into());
            }
            let pattern = &op[1..];
            if pattern.iter().any(|c| c.is_ascii_whitespace()) {
                return Err(SYNTAX.into());
            }
            if !sel.channels.iter().any(|c| c == pattern) {
                sel.channels.push(pattern.to_vec());
            }
        }
        b'+' | b'-' => {
            let name = text[1..].to_ascii_lowercase();
            let known = match name.strip_prefix('@') {
                Some(cat) => cat == "all" || CATEGORIES.contains(&cat),
                None => match name.rsplit_once('|') {
                    Some((base, arg)) if first == b'+' => {
                        if base.contains('|') {
                            if is_subcommand(base, sentinel) {
                                return Err(
                                    "Allowing first-arg of a subcommand is not supported".into()
                                );
                            }
                            false
                        } else if !known_command(base, sentinel) {
                            false
                        } else if arg.is_empty() {
                            return Err(SYNTAX.into());
                        } else if has_subcommands(base, sentinel) {
                            known_command(&name, sentinel)
                        } else {
                            // `+select|0`: that first argument only (deprecated in Redis 7).
                            true
                        }
                    }
                    _ => known_command(&name, sentinel),
                },
            };
            if !known {
                return Err("Unknown command or category name in ACL".into());
            }
            // A first-argument rule keeps the argument as written (Redis shows it so).
            let rule = match name.split_once('|') {
                Some((base, _)) if first == b'+' && !has_subcommands(base, sentinel) => {
                    format!("+{base}|{}", &text[base.len() + 2..])
                }
                _ => format!("{}{}", first as char, name),
            };
            if name == "@all" {
                sel.commands = vec![rule];
            } else {
                sel.commands.push(rule);
            }
        }
        _ => return Err(SYNTAX.into()),
    }
    Ok(())
}

/// `%R~p`, `%W~p`, `%RW~p` (after the `%`): the access and the pattern.
fn parse_key_perm(rest: &[u8]) -> Option<(bool, bool, &[u8])> {
    let (mut read, mut write) = (false, false);
    for (i, &c) in rest.iter().enumerate() {
        match c.to_ascii_uppercase() {
            b'R' if !read => read = true,
            b'W' if !write => write = true,
            b'~' => return Some((read, write, &rest[i + 1..])),
            _ => return None,
        }
    }
    None
}

fn info_of(top: &str, sentinel: bool) -> Option<&'static rediscover::command::CommandInfo> {
    if sentinel {
        crate::sentinel::table().get(top.as_bytes()).map(|c| c.info)
    } else if rediscover::command::sentinel_only(top.as_bytes()) {
        None
    } else {
        rediscover::command::lookup(top.as_bytes())
    }
}

fn has_subcommands(top: &str, sentinel: bool) -> bool {
    info_of(top, sentinel).is_some_and(|i| !i.subcommands.is_empty())
}

/// `config|get` names a subcommand: a first-arg rule may not be built on it.
fn is_subcommand(name: &str, sentinel: bool) -> bool {
    match name.split_once('|') {
        Some((top, sub)) => {
            info_of(top, sentinel).is_some_and(|i| i.subcommand(sub.as_bytes()).is_some())
        }
        None => false,
    }
}

/// Whether ACL rules may name `name` (`get`, `client|kill`): a command Redis registers in this
/// mode, implemented here or not (a server's, without the sentinel-only ones; a sentinel's).
fn known_command(name: &str, sentinel: bool) -> bool {
    let (top, sub) = match name.split_once('|') {
        Some((top, sub)) => (top, Some(sub)),
        None => (name, None),
    };
    match (info_of(top, sentinel), sub) {
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
