//! Keyspace notifications (`notify-keyspace-events`), as Redis 7.0's `notify.c`.
//!
//! One entry point, [`keyspace_event`] (and [`Ctx::notify`](crate::cmd::Ctx::notify) for a
//! running command), publishes `__keyspace@<db>__:<key>` → `<event>` and
//! `__keyevent@<db>__:<event>` → `<key>` through the ordinary pub/sub delivery, when the
//! event's class is enabled. With notifications off (the default) a call costs one test of a
//! `u32`. Notifications are never replicated, as in Redis (a replica emits its own when it
//! applies its master's commands).
//!
//! Events raised inside the keyspace itself (`new` when a key is added, `expired` when a
//! lookup or the cron removes a key past its TTL) are queued in the [`Db`](crate::keyspace::Db)
//! and published, in order, before the next event of the running command or when it ends.

use bytes::Bytes;
use rediscover::resp::ReplyWriter;

use crate::keyspace::ClientId;
use crate::node::NodeState;

/// Notification classes: Redis's `NOTIFY_*` bits.
pub mod class {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted-set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: a key removed because its TTL passed.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: a key evicted for `maxmemory`.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// `m`: a read found no key (not part of `A`).
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: module events.
    pub const MODULE: u32 = 1 << 13;
    /// `n`: a key was created (not part of `A`).
    pub const NEW: u32 = 1 << 14;
    /// `A`: every class but `m` and `n`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// The bits of a `notify-keyspace-events` value (already validated), reduced to 0 when neither
/// `K` nor `E` is set, since nothing is published then.
pub fn flags_of(value: &str) -> u32 {
    let mut flags = 0;
    for ch in value.chars() {
        flags |= match ch {
            'A' => class::ALL,
            'g' => class::GENERIC,
            '$' => class::STRING,
            'l' => class::LIST,
            's' => class::SET,
            'h' => class::HASH,
            'z' => class::ZSET,
            'x' => class::EXPIRED,
            'e' => class::EVICTED,
            'K' => class::KEYSPACE,
            'E' => class::KEYEVENT,
            't' => class::STREAM,
            'm' => class::KEY_MISS,
            'd' => class::MODULE,
            'n' => class::NEW,
            _ => 0,
        };
    }
    if flags & (class::KEYSPACE | class::KEYEVENT) == 0 {
        0
    } else {
        flags
    }
}

/// Publishes a keyspace event for `key` in database `db`, if `class` (one of [`class`]) is
/// enabled: Redis's `notifyKeyspaceEvent(class, event, key, db)`.
///
/// This is the hook for code that runs outside a command's context, such as `maxmemory`
/// eviction (`keyspace_event(node, class::EVICTED, "evicted", &key, db)`) or the expiry cron.
/// Subscribers get the messages through their out-of-band queues. Inside a command use
/// [`Ctx::notify`](crate::cmd::Ctx::notify), which also delivers the messages a RESP3 client
/// subscribed on its own connection sees, before its reply, as Redis does.
#[inline]
pub fn keyspace_event(node: &mut NodeState, class: u32, event: &str, key: &[u8], db: usize) {
    if node.notify_flags & class == 0 {
        return;
    }
    let mut sink = ReplyWriter::new(false);
    flush_pending(node, (0, &mut sink));
    publish_event(node, (0, &mut sink), event, key, db);
}

/// [`keyspace_event`] on behalf of the running client `me`: its own copy of a message goes to
/// `own`, its reply buffer.
pub(crate) fn keyspace_event_for(
    node: &mut NodeState,
    me: (ClientId, &mut ReplyWriter),
    class: u32,
    event: &str,
    key: &[u8],
    db: usize,
) {
    if node.notify_flags & class == 0 {
        return;
    }
    let (id, own) = me;
    flush_pending(node, (id, &mut *own));
    publish_event(node, (id, own), event, key, db);
}

/// Publishes the events the databases queued (`new`, `expired`) outside any command (the
/// expiry cron).
pub fn flush(node: &mut NodeState) {
    if node.notify_flags != 0 {
        flush_pending(node, (0, &mut ReplyWriter::new(false)));
    }
}

/// Publishes the events queued by the databases (`new`, `expired`), oldest first.
pub(crate) fn flush_pending(node: &mut NodeState, me: (ClientId, &mut ReplyWriter)) {
    if node.dbs.iter().all(|db| db.events.is_empty()) {
        return;
    }
    let (id, own) = me;
    for i in 0..node.dbs.len() {
        if node.dbs[i].events.is_empty() {
            continue;
        }
        let events = std::mem::take(&mut node.dbs[i].events);
        for (class, event, key) in events {
            if node.notify_flags & class != 0 {
                publish_event(node, (id, &mut *own), event, &key, i);
            }
        }
    }
}

fn publish_event(
    node: &mut NodeState,
    (me, own): (ClientId, &mut ReplyWriter),
    event: &str,
    key: &[u8],
    db: usize,
) {
    let flags = node.notify_flags;
    let db_text = db.to_string();
    let mut over_limit = Vec::new();
    if flags & class::KEYSPACE != 0 {
        let mut channel = Vec::with_capacity(16 + db_text.len() + key.len());
        channel.extend_from_slice(b"__keyspace@");
        channel.extend_from_slice(db_text.as_bytes());
        channel.extend_from_slice(b"__:");
        channel.extend_from_slice(key);
        publish(
            node,
            (me, &mut *own),
            &channel,
            event.as_bytes(),
            &mut over_limit,
        );
    }
    if flags & class::KEYEVENT != 0 {
        let mut channel = Vec::with_capacity(16 + db_text.len() + event.len());
        channel.extend_from_slice(b"__keyevent@");
        channel.extend_from_slice(db_text.as_bytes());
        channel.extend_from_slice(b"__:");
        channel.extend_from_slice(event.as_bytes());
        publish(node, (me, &mut *own), &channel, key, &mut over_limit);
    }
    for id in over_limit {
        node.close_for_output_limit(id);
    }
}

fn publish(
    node: &mut NodeState,
    me: (ClientId, &mut ReplyWriter),
    channel: &[u8],
    payload: &[u8],
    over_limit: &mut Vec<ClientId>,
) {
    if node.pubsub.channels.is_empty() && node.pubsub.patterns.is_empty() {
        return;
    }
    node.pubsub.publish(
        &mut node.clients,
        &node.config.obuf_limits.pubsub,
        me,
        crate::pubsub::Message {
            channel,
            payload,
            shard: false,
        },
        over_limit,
    );
}

/// An event queued by a database, published by [`flush_pending`]: (class, event, key).
pub type Pending = (u32, &'static str, Bytes);
