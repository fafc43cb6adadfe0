//! Client-side caching support (CLIENT TRACKING), as Redis 7.0's `tracking.c`.
//!
//! Read-only commands of a tracking client remember the keys they named (the key positions
//! of the shared key-spec table); a key modified afterwards — through [`Db::touch`], the one
//! place every write already marks for WATCH — is invalidated: the clients that read it get an
//! `invalidate` push (RESP3) or, through REDIRECT, a `__redis__:invalidate` message on another
//! connection, and the key is forgotten until read again. BCAST clients get the modified keys
//! that match their prefixes instead, batched after each command. Messages for the client
//! whose command caused them come after that command's reply, as in Redis.
//!
//! [`Db::touch`]: crate::keyspace::Db::touch

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;

use crate::keyspace::ClientId;
use crate::node::NodeState;

/// One tracking client's mode.
#[derive(Debug, Clone, Default)]
pub struct Mode {
    /// REDIRECT target (0: none).
    pub redirect: ClientId,
    /// BCAST.
    pub bcast: bool,
    /// OPTIN.
    pub optin: bool,
    /// OPTOUT.
    pub optout: bool,
    /// NOLOOP.
    pub noloop: bool,
    /// CLIENT CACHING YES/NO given for the next command.
    pub caching: bool,
    /// The redirect target went away.
    pub broken_redirect: bool,
    /// BCAST prefixes, in byte order.
    pub prefixes: BTreeSet<Bytes>,
}

/// Keys modified under one BCAST prefix since the last broadcast, with the client that last
/// modified each (for NOLOOP).
#[derive(Debug, Default)]
struct Prefix {
    clients: BTreeSet<ClientId>,
    keys: BTreeMap<Bytes, ClientId>,
}

/// A node's tracking state.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Tracking clients, by id.
    pub clients: HashMap<ClientId, Mode>,
    /// Key → clients that read it.
    table: HashMap<Bytes, HashSet<ClientId>>,
    /// Total (key, client) pairs in `table` (`tracking_total_items`).
    items: u64,
    /// BCAST prefixes.
    prefixes: BTreeMap<Bytes, Prefix>,
    /// Messages for the client whose command is running, sent after its reply: a key, or
    /// `None` for a flush.
    pending_self: Vec<Option<Bytes>>,
    /// Rounds `tracking-table-max-keys` could not be met (Redis's effort counter).
    over_limit_rounds: u32,
}

impl Tracking {
    /// Whether any client tracks.
    #[inline]
    pub fn active(&self) -> bool {
        !self.clients.is_empty()
    }

    /// Keys in the tracking table (`tracking_total_keys`).
    pub fn total_keys(&self) -> usize {
        self.table.len()
    }

    /// (key, client) pairs in the table (`tracking_total_items`).
    pub fn total_items(&self) -> u64 {
        self.items
    }

    /// BCAST prefixes in use (`tracking_total_prefixes`).
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }

    /// Turns tracking off for `id` (CLIENT TRACKING OFF, RESET, disconnect).
    pub fn disable(&mut self, id: ClientId) {
        let Some(mode) = self.clients.remove(&id) else {
            return;
        };
        for p in &mode.prefixes {
            if let Some(state) = self.prefixes.get_mut(p) {
                state.clients.remove(&id);
                if state.clients.is_empty() {
                    self.prefixes.remove(p);
                }
            }
        }
    }

    /// Turns tracking on for `id` with `mode` (already validated), keeping prefixes it had.
    pub fn enable(&mut self, id: ClientId, mut mode: Mode, new_prefixes: &[Bytes]) {
        let old = self.clients.remove(&id).unwrap_or_default();
        mode.prefixes = old.prefixes;
        if mode.bcast {
            let wanted: Vec<Bytes> = if new_prefixes.is_empty() {
                vec![Bytes::new()]
            } else {
                new_prefixes.to_vec()
            };
            for p in wanted {
                self.prefixes
                    .entry(p.clone())
                    .or_default()
                    .clients
                    .insert(id);
                mode.prefixes.insert(p);
            }
        }
        self.clients.insert(id, mode);
    }

    /// Remembers that `id` read `keys`.
    pub fn remember(&mut self, id: ClientId, keys: impl Iterator<Item = Bytes>) {
        for key in keys {
            if self.table.entry(key).or_default().insert(id) {
                self.items += 1;
            }
        }
    }
}

/// Processes the keys the databases marked as modified since the last call: clients that
/// read them are told (the running client `me` after its reply, see [`flush_self`]), BCAST
/// prefixes collect them.
pub(crate) fn invalidate_touched(node: &mut NodeState, me: ClientId) {
    for i in 0..node.dbs.len() {
        if node.dbs[i].touched.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut node.dbs[i].touched);
        for key in keys {
            invalidate_key(node, Some(me), &key, true);
        }
    }
}

/// Redis's `trackingInvalidateKey`.
fn invalidate_key(node: &mut NodeState, me: Option<ClientId>, key: &Bytes, bcast: bool) {
    let t = &mut node.tracking;
    if bcast && !t.prefixes.is_empty() {
        for (prefix, state) in t.prefixes.iter_mut() {
            if key.starts_with(prefix) {
                state.keys.insert(key.clone(), me.unwrap_or(0));
            }
        }
    }
    let Some(ids) = t.table.remove(key) else {
        return;
    };
    t.items -= ids.len() as u64;
    let mut ids: Vec<ClientId> = ids.into_iter().collect();
    ids.sort_unstable();
    for id in ids {
        let Some(mode) = node.tracking.clients.get(&id) else {
            continue;
        };
        if mode.bcast || (mode.noloop && Some(id) == me) {
            continue;
        }
        if Some(id) == me {
            node.tracking.pending_self.push(Some(key.clone()));
        } else {
            send(node, id, &keys_array(std::slice::from_ref(key)), None);
        }
    }
}

/// A flush of the data (FLUSHALL / FLUSHDB even of an empty database, DEBUG RELOAD without
/// NOFLUSH, a replica's full sync, CLUSTER RESET of a replica; not SWAPDB): every tracking
/// client is told to drop everything (a null), and the table is emptied, even when nobody
/// tracks any more (Redis's `trackingInvalidateKeysOnFlush`). `me` is the running client
/// (its null follows its reply), 0 for none.
pub(crate) fn invalidate_all(node: &mut NodeState, me: ClientId) {
    let mut ids: Vec<ClientId> = node.tracking.clients.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        if id == me {
            node.tracking.pending_self.push(None);
        } else {
            let null = null_for(node, id);
            send(node, id, &null, None);
        }
    }
    node.tracking.table.clear();
    node.tracking.items = 0;
}

/// The null a flush sends, in the tracking client's own protocol.
fn null_for(node: &NodeState, id: ClientId) -> Vec<u8> {
    if node.clients.get(&id).is_some_and(|e| e.resp == 3) {
        b"_\r\n".to_vec()
    } else {
        b"$-1\r\n".to_vec()
    }
}

/// `*<n>` then each key as a bulk string.
fn keys_array(keys: &[Bytes]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", keys.len()).into_bytes();
    for k in keys {
        out.extend_from_slice(format!("${}\r\n", k.len()).as_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Redis's `sendTrackingMessage`: `payload` (an encoded array of keys, or a null) to the
/// tracking client `id`, or to its REDIRECT target. `own` is the running client's reply
/// buffer when `id` is that client.
fn send(
    node: &mut NodeState,
    id: ClientId,
    payload: &[u8],
    own: Option<&mut rediscover::resp::ReplyWriter>,
) {
    let Some(mode) = node.tracking.clients.get_mut(&id) else {
        return;
    };
    let tracker_resp3 = node.clients.get(&id).is_some_and(|e| e.resp == 3);
    let mut target = id;
    let mut redirected = false;
    if mode.redirect != 0 {
        if !node.clients.contains_key(&mode.redirect) {
            mode.broken_redirect = true;
            if tracker_resp3 {
                let mut msg = b">2\r\n$21\r\ntracking-redir-broken\r\n".to_vec();
                msg.extend_from_slice(format!(":{}\r\n", mode.redirect).as_bytes());
                deliver(node, id, msg, own);
            }
            return;
        }
        target = mode.redirect;
        redirected = true;
    }
    let Some(entry) = node.clients.get(&target) else {
        return;
    };
    let mut msg = if entry.resp == 3 {
        b">2\r\n$10\r\ninvalidate\r\n".to_vec()
    } else if redirected && entry.kind == crate::client::ClientKind::PubSub {
        b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n".to_vec()
    } else {
        return;
    };
    msg.extend_from_slice(payload);
    let own = if target == id { own } else { None };
    deliver(node, target, msg, own);
}

fn deliver(
    node: &mut NodeState,
    to: ClientId,
    msg: Vec<u8>,
    own: Option<&mut rediscover::resp::ReplyWriter>,
) {
    match own {
        Some(out) => out.raw(&msg),
        None => {
            if let Some(entry) = node.clients.get(&to) {
                entry.oob.send(Bytes::from(msg));
            }
        }
    }
}

/// Sends the running client the invalidations its own command caused, after its reply
/// (Redis's `trackingHandlePendingKeyInvalidations`).
pub(crate) fn flush_self(
    node: &mut NodeState,
    me: ClientId,
    out: &mut rediscover::resp::ReplyWriter,
) {
    if node.tracking.pending_self.is_empty() {
        return;
    }
    let pending = std::mem::take(&mut node.tracking.pending_self);
    for key in pending {
        let payload = match key {
            Some(k) => keys_array(std::slice::from_ref(&k)),
            None => null_for(node, me),
        };
        send(node, me, &payload, Some(&mut *out));
    }
}

/// Sends BCAST clients the keys modified under their prefixes since the last call (Redis's
/// `trackingBroadcastInvalidationMessages`, run before the event loop sleeps).
pub(crate) fn broadcast(
    node: &mut NodeState,
    mut me: Option<(ClientId, &mut rediscover::resp::ReplyWriter)>,
) {
    if node.tracking.prefixes.values().all(|p| p.keys.is_empty()) {
        return;
    }
    let mut sends: Vec<(ClientId, Vec<u8>)> = Vec::new();
    for state in node.tracking.prefixes.values_mut() {
        if state.keys.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut state.keys);
        let all: Vec<Bytes> = keys.keys().cloned().collect();
        for &id in &state.clients {
            let noloop = node.tracking.clients.get(&id).is_some_and(|m| m.noloop);
            if noloop {
                let mine: Vec<Bytes> = keys
                    .iter()
                    .filter(|(_, w)| **w != id)
                    .map(|(k, _)| k.clone())
                    .collect();
                if !mine.is_empty() {
                    sends.push((id, keys_array(&mine)));
                }
            } else {
                sends.push((id, keys_array(&all)));
            }
        }
    }
    for (id, payload) in sends {
        // The running client's own copy follows its reply.
        let own = match me.as_mut() {
            Some((mine, out)) if *mine == id => Some(&mut **out),
            _ => None,
        };
        send(node, id, &payload, own);
    }
}

/// Keeps the table within `tracking-table-max-keys` (0: no limit) by invalidating keys, as
/// Redis's `trackingLimitUsedSlots` does before each command.
pub(crate) fn limit_keys(node: &mut NodeState) {
    let max: usize = node
        .config
        .extra_or("tracking-table-max-keys", "1000000")
        .parse()
        .unwrap_or(1_000_000);
    if max == 0 || node.tracking.table.len() <= max {
        node.tracking.over_limit_rounds = 0;
        return;
    }
    let mut effort = 100 * (node.tracking.over_limit_rounds as usize + 1);
    while effort > 0 {
        effort -= 1;
        let Some(key) = node.tracking.table.keys().next().cloned() else {
            break;
        };
        invalidate_key(node, None, &key, false);
        if node.tracking.table.len() <= max {
            node.tracking.over_limit_rounds = 0;
            return;
        }
    }
    node.tracking.over_limit_rounds += 1;
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP], with
/// Redis's checks in Redis's order (`clientCommand`).
pub(crate) fn client_tracking(
    ctx: &mut crate::cmd::Ctx<'_>,
    argv: &[Bytes],
) -> crate::cmd::CmdResult {
    use crate::cmd::{eq_ic, parse_i64, Error};
    use rediscover::error_codes::msg;
    let mut redirect: i64 = 0;
    let mut mode = Mode::default();
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut j = 3;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let arg = &argv[j];
        if eq_ic(arg, "redirect") && more > 0 {
            j += 1;
            if redirect != 0 {
                return Err("ERR A client can only redirect to a single other client".into());
            }
            redirect = parse_i64(&argv[j])?;
            let exists = u64::try_from(redirect)
                .ok()
                .is_some_and(|id| ctx.node.clients.contains_key(&id) || id == ctx.client.id);
            if !exists {
                return Err("ERR The client ID you want redirect to does not exist".into());
            }
        } else if eq_ic(arg, "bcast") {
            mode.bcast = true;
        } else if eq_ic(arg, "optin") {
            mode.optin = true;
        } else if eq_ic(arg, "optout") {
            mode.optout = true;
        } else if eq_ic(arg, "noloop") {
            mode.noloop = true;
        } else if eq_ic(arg, "prefix") && more > 0 {
            j += 1;
            prefixes.push(crate::cmd::owned(&argv[j]));
        } else {
            return Err(msg::SYNTAX.into());
        }
        j += 1;
    }
    let id = ctx.client.id;
    if eq_ic(&argv[2], "on") {
        if !mode.bcast && !prefixes.is_empty() {
            return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
        }
        let current = ctx.node.tracking.clients.get(&id).cloned();
        if let Some(cur) = &current {
            if cur.bcast != mode.bcast {
                return Err(
                    "ERR You can't switch BCAST mode on/off before disabling tracking \
                            for this client, and then re-enabling it with a different mode."
                        .into(),
                );
            }
        }
        if mode.bcast && (mode.optin || mode.optout) {
            return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
        }
        if mode.optin && mode.optout {
            return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
        }
        if let Some(cur) = &current {
            if (mode.optin && cur.optout) || (mode.optout && cur.optin) {
                return Err(
                    "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking \
                            for this client, and then re-enabling it with a different mode."
                        .into(),
                );
            }
        }
        if mode.bcast {
            let existing = current.as_ref().map(|m| &m.prefixes);
            let overlaps = |a: &[u8], b: &[u8]| {
                let n = a.len().min(b.len());
                a[..n] == b[..n]
            };
            for (i, p) in prefixes.iter().enumerate() {
                if let Some(old) = existing.and_then(|set| set.iter().find(|o| overlaps(o, p))) {
                    return Err(Error::from(format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a \
                         single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(old)
                    )));
                }
                if let Some(other) = prefixes[i + 1..].iter().find(|o| overlaps(p, o)) {
                    return Err(Error::from(format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes \
                         for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(other)
                    )));
                }
            }
        }
        mode.redirect = redirect as ClientId;
        ctx.node.tracking.enable(id, mode, &prefixes);
    } else if eq_ic(&argv[2], "off") {
        ctx.node.tracking.disable(id);
    } else {
        return Err(msg::SYNTAX.into());
    }
    ctx.node.sync_tracking();
    ctx.out.ok();
    Ok(())
}

/// CLIENT CACHING YES|NO.
pub(crate) fn client_caching(
    ctx: &mut crate::cmd::Ctx<'_>,
    argv: &[Bytes],
) -> crate::cmd::CmdResult {
    use crate::cmd::eq_ic;
    let Some(mode) = ctx.node.tracking.clients.get_mut(&ctx.client.id) else {
        return Err(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode \
                    with OPTIN or OPTOUT mode enabled"
                .into(),
        );
    };
    if eq_ic(&argv[2], "yes") {
        if !mode.optin {
            return Err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
                    .into(),
            );
        }
    } else if eq_ic(&argv[2], "no") {
        if !mode.optout {
            return Err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
                    .into(),
            );
        }
    } else {
        return Err(rediscover::error_codes::msg::SYNTAX.into());
    }
    mode.caching = true;
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETREDIR.
pub(crate) fn client_getredir(ctx: &mut crate::cmd::Ctx<'_>) {
    let redir = match ctx.node.tracking.clients.get(&ctx.client.id) {
        Some(mode) => mode.redirect as i64,
        None => -1,
    };
    ctx.out.int(redir);
}

/// CLIENT TRACKINGINFO: `flags` (a set), `redirect`, `prefixes`.
pub(crate) fn client_trackinginfo(ctx: &mut crate::cmd::Ctx<'_>) {
    let mode = ctx.node.tracking.clients.get(&ctx.client.id);
    let mut flags: Vec<&str> = Vec::new();
    match mode {
        None => flags.push("off"),
        Some(m) => {
            flags.push("on");
            if m.bcast {
                flags.push("bcast");
            }
            if m.optin {
                flags.push("optin");
                if m.caching {
                    flags.push("caching-yes");
                }
            }
            if m.optout {
                flags.push("optout");
                if m.caching {
                    flags.push("caching-no");
                }
            }
            if m.noloop {
                flags.push("noloop");
            }
            if m.broken_redirect {
                flags.push("broken_redirect");
            }
        }
    }
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(mode.map_or(-1, |m| m.redirect as i64));
    out.bulk(b"prefixes");
    match mode {
        Some(m) => {
            out.array(m.prefixes.len());
            for p in &m.prefixes {
                out.bulk(p);
            }
        }
        None => out.array(0),
    }
}
