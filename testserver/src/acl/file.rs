//! ACL persistence as Redis 7.0 does it: the `aclfile` (ACL LOAD / ACL SAVE, and loading at
//! startup), and `user` directives in the configuration file.
//!
//! - [`Acl::load_file`] is Redis's `ACLLoadFromFile`: every line is checked, the errors of all
//!   lines are collected in one message, and on any error nothing changes.
//! - [`Acl::save_text`] is what `ACLSaveToFile` writes (one `user <name> <rules>` line per user,
//!   the ACL LIST text); [`save_file`] writes it to a temporary file renamed over the target.
//! - [`check_user_directive`] is `ACLAppendUserForLoading` (the config file's check of a `user`
//!   line) and [`Acl::at_startup`] is `ACLLoadUsersAtStartup`.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{apply_rule, merge_selector_args, Acl, Rules, User};
use crate::config::Config;

/// The error of an unknown command or category: Redis reports each of them in a file, where
/// it reports only the first other error of a line.
const UNKNOWN: &str = "Unknown command or category name in ACL";

/// Redis's `ACLStringHasSpaces`: `isspace` or NUL.
fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c == 0 || c == b' ' || (b'\t'..=b'\r').contains(&c))
}

fn trim<'a>(mut s: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let [first, rest @ ..] = s {
        if !set.contains(first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !set.contains(last) {
            break;
        }
        s = rest;
    }
    s
}

/// `strerror` wording: Rust's text without its ` (os error N)` suffix.
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_string()
}

fn new_user() -> (User, Rules) {
    (
        User {
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
        },
        Rules::none(),
    )
}

fn default_user() -> User {
    User {
        enabled: true,
        nopass: true,
        passwords: Vec::new(),
    }
}

impl Acl {
    /// Redis's `ACLLoadFromFile` over the file's text: the users it defines, replacing every
    /// user (a `default` user is made with full access if the file defines none), or Redis's
    /// one-line description of every problem found, in which case nothing changes. `filename`
    /// is the `aclfile` value, as the messages name it.
    pub fn load_file(&mut self, text: &[u8], filename: &str) -> Result<(), String> {
        // Redis reads the file as a C string.
        let text = text.split(|&c| c == 0).next().unwrap_or_default();
        let mut users: BTreeMap<Bytes, User> = BTreeMap::new();
        let mut rules: BTreeMap<Bytes, Rules> = BTreeMap::new();
        let mut errors = String::new();
        for (i, line) in text.split(|&c| c == b'\n').enumerate() {
            let n = i + 1;
            let line = trim(line, b" \t\r\n");
            if line.is_empty() {
                continue;
            }
            let argv: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
            if argv[0] != b"user" || argv.len() < 2 {
                errors.push_str(&format!(
                    "{filename}:{n} should start with user keyword followed by the username. "
                ));
                continue;
            }
            let name = argv[1];
            let shown = String::from_utf8_lossy(name);
            if has_spaces(name) {
                errors.push_str(&format!(
                    "'{filename}:{n}: username '{shown}' contains invalid characters. "
                ));
                continue;
            }
            if users.contains_key(name) {
                errors.push_str(&format!(
                    "WARNING: Duplicate user '{shown}' found on line {n}. "
                ));
                continue;
            }
            let (mut user, mut user_rules) = new_user();
            let ops = match merge_selector_args(&argv[2..]) {
                Ok(ops) => ops,
                Err(_) => {
                    // (redis-server 7.0.15 crashes here; the message is the one it means.)
                    errors.push_str(&format!(
                        "{filename}:{n}: Unmatched parenthesis in selector definition."
                    ));
                    Vec::new()
                }
            };
            let mut syntax_error = false;
            for op in &ops {
                let op = trim(op, b"\t\r\n");
                if let Err(why) = apply_rule(&mut user, &mut user_rules, op, self.sentinel_mode) {
                    if why == UNKNOWN {
                        errors.push_str(&format!(
                            "{filename}:{n}: Error in applying operation '{}': {why}. ",
                            String::from_utf8_lossy(op)
                        ));
                    } else if !syntax_error {
                        errors.push_str(&format!("{filename}:{n}: {why}. "));
                        syntax_error = true;
                    }
                }
            }
            let key = Bytes::copy_from_slice(name);
            users.insert(key.clone(), user);
            rules.insert(key, user_rules);
        }
        if !errors.is_empty() {
            errors.push_str(
                "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
            );
            return Err(errors);
        }
        let default = Bytes::from_static(b"default");
        if !users.contains_key(&default) {
            users.insert(default.clone(), default_user());
            rules.insert(default, Rules::full());
        }
        self.users = users;
        self.rules = rules;
        Ok(())
    }

    /// Reads the `aclfile` `filename` (relative to `dir`, where redis-server runs) and loads it
    /// ([`Acl::load_file`]), with Redis's error when it cannot be opened.
    pub fn load_path(&mut self, filename: &str, dir: &str) -> Result<(), String> {
        let text = std::fs::read(resolve(filename, dir)).map_err(|e| {
            format!(
                "Error loading ACLs, opening file '{filename}': {}",
                strerror(&e)
            )
        })?;
        self.load_file(&text, filename)
    }

    /// The text ACL SAVE writes: `user <name> <rules>` for every user, by name, one a line.
    pub fn save_text(&self) -> String {
        let mut out = String::new();
        for name in self.users.keys() {
            out.push_str(&self.describe(name));
            out.push('\n');
        }
        out
    }

    /// The users as `user` lines of a config file ([`Config::users`]): what CONFIG REWRITE
    /// writes, read back.
    pub fn config_lines(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for name in self.users.keys() {
            let line = self.describe(name);
            let words: Vec<&[u8]> = line.as_bytes().split(|&c| c == b' ').skip(2).collect();
            let mut entry = vec![String::from_utf8_lossy(name).into_owned()];
            if let Ok(ops) = merge_selector_args(&words) {
                entry.extend(ops.iter().map(|o| String::from_utf8_lossy(o).into_owned()));
            }
            out.push(entry);
        }
        out
    }

    /// Redis's `ACLLoadUsersAtStartup`: the users of the config file's `user` lines, or of
    /// `aclfile`, on top of the default user (with `requirepass`). The error is the lines
    /// redis-server logs before exiting.
    pub fn at_startup(config: &Config, sentinel: bool) -> Result<Acl, Vec<String>> {
        let mut acl = Acl::new(config.requirepass.as_deref());
        acl.sentinel_mode = sentinel;
        let aclfile = config.extra_or("aclfile", "");
        if !aclfile.is_empty() && !config.users.is_empty() {
            return Err(vec!["Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into()]);
        }
        const CRITICAL: &str = "Critical error while loading ACLs. Exiting.";
        for line in &config.users {
            let Some((name, ops)) = line.split_first() else {
                continue;
            };
            if has_spaces(name.as_bytes()) {
                return Err(vec![
                    "Spaces not allowed in ACL usernames".into(),
                    CRITICAL.into(),
                ]);
            }
            // `user default` starts from `reset`; another user from nothing.
            let key = Bytes::copy_from_slice(name.as_bytes());
            let (mut user, mut rules) = new_user();
            if name == "default" {
                apply_rule(&mut user, &mut rules, b"reset", acl.sentinel_mode)
                    .map_err(|e| vec![e])?;
            }
            for op in ops {
                if let Err(why) = apply_rule(&mut user, &mut rules, op.as_bytes(), sentinel) {
                    return Err(vec![
                        format!("Error loading ACL rule '{op}' for the user named '{name}': {why}"),
                        CRITICAL.into(),
                    ]);
                }
            }
            acl.users.insert(key.clone(), user);
            acl.rules.insert(key, rules);
        }
        if !aclfile.is_empty() {
            acl.load_path(&aclfile, &config.dir)
                .map_err(|e| vec![format!("Aborting Redis startup because of ACL errors: {e}")])?;
        }
        Ok(acl)
    }
}

/// Redis's `ACLAppendUserForLoading`: checks a config file's `user` line (`args`: the name
/// and its rules) against the users already declared, and returns it with selectors merged,
/// to be applied at startup. The error is the config file error Redis gives, including its
/// quirk of naming the line's argument at the index of the failing rule.
pub fn check_user_directive(
    declared: &[Vec<String>],
    args: &[String],
) -> Result<Vec<String>, String> {
    let name = &args[0];
    // Redis indexes the whole line, `user` included.
    let argv_at = |j: usize| -> &str {
        if j == 0 {
            "user"
        } else {
            args.get(j - 1).map(String::as_str).unwrap_or_default()
        }
    };
    let error = |j: usize, why: &str| format!("Error in user declaration '{}': {why}", argv_at(j));
    if declared.iter().any(|d| d.first() == Some(name)) {
        return Err(error(
            1,
            "Duplicate user found. A user can only be defined once in config files",
        ));
    }
    let ops: Vec<&[u8]> = args[1..].iter().map(|a| a.as_bytes()).collect();
    let merged = merge_selector_args(&ops).map_err(|_| {
        // Redis reports the index of the opening argument, and whatever errno was left
        // (redis-server 7.0.15 says this).
        let start = args[1..]
            .iter()
            .position(|a| a.starts_with('(') && !a.ends_with(')'))
            .unwrap_or(0);
        error(start, UNKNOWN)
    })?;
    let (mut user, mut rules) = new_user();
    for (j, op) in merged.iter().enumerate() {
        if let Err(why) = apply_rule(&mut user, &mut rules, op, false) {
            // Unknown commands are reported when the users are created (after modules load).
            if why != UNKNOWN {
                return Err(error(j, &why));
            }
        }
    }
    let mut line = vec![name.clone()];
    line.extend(
        merged
            .into_iter()
            .map(|m| String::from_utf8_lossy(&m).into_owned()),
    );
    Ok(line)
}

/// Where the `aclfile` `filename` is: redis-server runs in `dir`, so a relative name is there.
pub fn resolve(filename: &str, dir: &str) -> std::path::PathBuf {
    std::path::Path::new(dir).join(filename)
}

/// Writes `text` to `path` as Redis's `ACLSaveToFile` does: to `<path>.tmp-<pid>-<ms>`, then
/// renamed over `path`. The error is the line Redis logs.
pub fn save_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        crate::node::unix_ms()
    ));
    let tmp = std::path::PathBuf::from(tmp);
    let result = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(|e| format!("Opening temp ACL file for ACL SAVE: {}", strerror(&e)))?;
        f.write_all(text.as_bytes())
            .map_err(|e| format!("Writing ACL file for ACL SAVE: {}", strerror(&e)))?;
        drop(f);
        std::fs::rename(&tmp, path)
            .map_err(|e| format!("Renaming ACL file for ACL SAVE: {}", strerror(&e)))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
