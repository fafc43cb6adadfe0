//! How ACL LIST, ACL GETUSER, ACL SAVE and CONFIG REWRITE show a selector's command rules:
//! Redis 7.0's `ACLDescribeSelectorCommandRules`, which does not repeat the rules as given but
//! rebuilds them from the set of commands they allow.
//!
//! Redis keeps one bit per command and subcommand. The description starts from `+@all` (when
//! the selector may run commands added later, i.e. its rules start with `+@all`) or `-@all`,
//! then adds the categories that fit the bitmap best, one at a time (a category qualifies when
//! it has more commands in common with what is left to describe than commands that differ;
//! among those the fewest differences win, then the most in common, then the earlier category),
//! and ends with the single commands and subcommands still differing, and the allowed first
//! arguments (`+select|0`) of commands not allowed as a whole.
//!
//! Redis walks its command table, a hash table with a per-process random seed, for that last
//! part, so two redis-server processes print those single commands in different orders; here
//! they come in command-table (alphabetical) order. The categories, and the set of single
//! rules, are exactly Redis's.

use rediscover::command::CommandInfo;

use super::{Selector, CATEGORIES};

/// One command or subcommand of the table rules are described against.
struct Entry {
    info: &'static CommandInfo,
    /// The container of a subcommand.
    parent: Option<usize>,
    /// The subcommands of a container, as indices.
    subs: std::ops::Range<usize>,
}

/// The commands Redis registers in this mode, containers followed by their subcommands.
struct Universe {
    entries: Vec<Entry>,
}

impl Universe {
    fn new(sentinel: bool) -> Universe {
        let tops: Vec<&'static CommandInfo> = if sentinel {
            let mut v: Vec<_> = crate::sentinel::table()
                .commands()
                .iter()
                .map(|c| c.info)
                .collect();
            v.sort_by_key(|i| i.name);
            v
        } else {
            rediscover::command::all()
                .iter()
                .filter(|c| !rediscover::command::sentinel_only(c.name.as_bytes()))
                .collect()
        };
        let mut entries = Vec::new();
        for info in tops {
            let top = entries.len();
            entries.push(Entry {
                info,
                parent: None,
                subs: 0..0,
            });
            for sub in info.subcommands {
                entries.push(Entry {
                    info: sub,
                    parent: Some(top),
                    subs: 0..0,
                });
            }
            entries[top].subs = top + 1..entries.len();
        }
        Universe { entries }
    }

    fn has_category(&self, i: usize, cat: &str) -> bool {
        self.entries[i]
            .info
            .acl_categories
            .iter()
            .any(|c| c.strip_prefix('@') == Some(cat))
    }

    /// Redis's `ACLChangeSelectorPerm`: a command and, for a container, all its subcommands.
    fn change_perm(&self, bits: &mut [bool], i: usize, allow: bool) {
        bits[i] = allow;
        for s in self.entries[i].subs.clone() {
            bits[s] = allow;
        }
    }

    /// Redis's `ACLSetSelectorCommandBitsForCategory`.
    fn apply_category(&self, bits: &mut [bool], cat: &str, allow: bool) {
        for i in 0..self.entries.len() {
            if self.has_category(i, cat) {
                self.change_perm(bits, i, allow);
            }
        }
    }

    /// Redis's `ACLCountCategoryBitsForSelector`: (allowed, denied) commands of a category.
    fn count(&self, bits: &[bool], cat: &str) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for (i, &bit) in bits.iter().enumerate() {
            if self.has_category(i, cat) {
                if bit {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    /// Whether `rule` sets or clears the bit of entry `i` (`Some(allowed)`), or leaves it.
    /// First-argument rules (`+select|0`) leave every bit alone.
    fn effect(&self, rule: &str, i: usize) -> Option<bool> {
        let (sign, what) = rule.split_at(1);
        let allow = sign == "+";
        let entry = &self.entries[i];
        let parent = entry.parent.map(|p| &self.entries[p]);
        let touched = match what.strip_prefix('@') {
            Some("all") => true,
            Some(cat) => {
                self.has_category(i, cat) || entry.parent.is_some_and(|p| self.has_category(p, cat))
            }
            None if what.contains('|') => entry.info.name == what,
            None => entry.info.name == what || parent.is_some_and(|p| p.info.name == what),
        };
        touched.then_some(allow)
    }
}

/// The command part of ACL LIST's description of `sel` (Redis's
/// `ACLDescribeSelectorCommandRules`).
pub(super) fn command_rules(sel: &Selector, sentinel: bool) -> String {
    let u = Universe::new(sentinel);
    let n = u.entries.len();
    // The user's bitmap, and the first arguments allowed per command.
    let mut user = vec![false; n];
    let mut firstargs: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut future = false;
    for rule in &sel.commands {
        match rule.as_str() {
            "+@all" => future = true,
            "-@all" => future = false,
            _ => {}
        }
        let first_arg = rule
            .strip_prefix('+')
            .and_then(|r| r.split_once('|'))
            .filter(|(base, _)| !base.starts_with('@'));
        for i in 0..n {
            if let Some(allow) = u.effect(rule, i) {
                user[i] = allow;
                firstargs[i].clear();
            } else if let Some((base, arg)) = first_arg {
                let e = &u.entries[i];
                if e.parent.is_none()
                    && e.subs.is_empty()
                    && e.info.name == base
                    && !firstargs[i].iter().any(|a| a.eq_ignore_ascii_case(arg))
                {
                    firstargs[i].push(arg.to_string());
                }
            }
        }
    }
    let additive = !future;
    let mut rules: Vec<String> = vec![if additive { "-@all" } else { "+@all" }.into()];
    let mut fake = vec![future; n];
    let mut temp = user.clone();
    let mut applied = vec![false; CATEGORIES.len()];
    loop {
        let mut best: Option<usize> = None;
        let (mut min_diff, mut max_same) = (usize::MAX, 0);
        for (j, cat) in CATEGORIES.iter().enumerate() {
            if applied[j] {
                continue;
            }
            let (on, off) = u.count(&temp, cat);
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                best = Some(j);
                min_diff = diff;
                max_same = same;
            }
        }
        let Some(j) = best else { break };
        let cat = CATEGORIES[j];
        u.apply_category(&mut fake, cat, additive);
        u.apply_category(&mut temp, cat, !additive);
        rules.push(format!("{}@{cat}", if additive { '+' } else { '-' }));
        applied[j] = true;
    }
    // The single commands still differing, then first arguments.
    for i in 0..n {
        if u.entries[i].parent.is_some() {
            continue;
        }
        if user[i] != fake[i] {
            rules.push(format!(
                "{}{}",
                if user[i] { '+' } else { '-' },
                u.entries[i].info.name
            ));
            u.change_perm(&mut fake, i, user[i]);
        }
        for s in u.entries[i].subs.clone() {
            if user[s] != fake[s] {
                rules.push(format!(
                    "{}{}",
                    if user[s] { '+' } else { '-' },
                    u.entries[s].info.name
                ));
                fake[s] = user[s];
            }
        }
        if !user[i] {
            for arg in &firstargs[i] {
                rules.push(format!("+{}|{arg}", u.entries[i].info.name));
            }
        }
    }
    rules.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(rules: &[&str]) -> String {
        let mut sel = Selector::none();
        for r in rules {
            super::super::apply_selector_rule(&mut sel, r.as_bytes(), false).unwrap();
        }
        command_rules(&sel, false)
    }

    #[test]
    fn rebuilt_from_the_bitmap() {
        // Values printed by redis-server 7.0.15.
        assert_eq!(
            describe(&["+get", "+set", "-@all", "+@string", "-del"]),
            "-@all +@string"
        );
        assert_eq!(describe(&["+@all", "-@slow"]), "+@all -@slow");
        assert_eq!(describe(&["-@all", "+@slow"]), "-@all +@slow");
        assert_eq!(describe(&["+@all"]), "+@all");
        assert_eq!(describe(&[]), "-@all");
        assert_eq!(
            describe(&["-@all", "+select|AbC", "+select|abc", "+select|0", "+get"]),
            "-@all +get +select|AbC +select|0"
        );
        assert_eq!(
            describe(&["-@all", "+select|0", "+select"]),
            "-@all +select"
        );
    }
}
