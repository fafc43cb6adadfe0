//! Cluster key slots: CRC16/XMODEM of the key (or of its hash tag) modulo 16384.

/// The number of hash slots in a Redis Cluster.
pub const SLOT_COUNT: u16 = 16384;

/// The part of `key` that is hashed: the text between the first `{` and the first `}` after it
/// when that text is not empty, otherwise the whole key.
///
/// ```
/// use rediscover::slot::hash_tag;
/// assert_eq!(hash_tag(b"user:{42}:name"), b"42");
/// assert_eq!(hash_tag(b"{}x"), b"{}x");
/// assert_eq!(hash_tag(b"a{b"), b"a{b");
/// ```
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// The hash slot of `key`.
///
/// ```
/// assert_eq!(rediscover::slot::key_slot(b"foo"), 12182);
/// assert_eq!(rediscover::slot::key_slot(b"{foo}bar"), 12182);
/// ```
pub fn key_slot(key: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(hash_tag(key)) & (SLOT_COUNT - 1)
}

/// Where a command's keys hash to: what a cluster client routes it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandSlot {
    /// The command has no keys (`PING`, `INFO`), or is not in the command table: route it by
    /// policy (any node, all masters, ...).
    NoKeys,
    /// Every key hashes to this slot.
    Slot(u16),
    /// The keys hash to different slots: a cluster refuses it with `CROSSSLOT` unless it is
    /// split.
    CrossSlot,
}

/// The slot of a whole command (`argv`, name first), from the shared command table's key
/// positions and [`key_slot`].
///
/// ```
/// use rediscover::slot::{command_slot, CommandSlot};
/// assert_eq!(command_slot(&["GET", "foo"]), CommandSlot::Slot(12182));
/// assert_eq!(command_slot(&["MSET", "{u}a", "1", "{u}b", "2"]), command_slot(&["GET", "u"]));
/// assert_eq!(command_slot(&["MGET", "a", "b"]), CommandSlot::CrossSlot);
/// assert_eq!(command_slot(&["PING"]), CommandSlot::NoKeys);
/// ```
pub fn command_slot<A: AsRef<[u8]>>(argv: &[A]) -> CommandSlot {
    let mut slot = CommandSlot::NoKeys;
    for pos in crate::command::key_positions(argv) {
        let this = key_slot(argv[pos].as_ref());
        match slot {
            CommandSlot::NoKeys => slot = CommandSlot::Slot(this),
            CommandSlot::Slot(s) if s == this => {}
            _ => return CommandSlot::CrossSlot,
        }
    }
    slot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors() {
        assert_eq!(
            crc16::State::<crc16::XMODEM>::calculate(b"123456789"),
            0x31C3
        );
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"123456789"), 0x31C3 & 16383);
        assert_eq!(key_slot(b""), 0);
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"{}foo"), key_slot(b"foo"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
    }
}
