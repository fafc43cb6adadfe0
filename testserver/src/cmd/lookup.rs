//! Key lookups shared by the type commands, in Redis's two flavours: `lookupKeyRead` (counts a
//! keyspace hit or miss, for read-only commands) and `lookupKeyWrite` (counts nothing), each
//! also with a type check that answers WRONGTYPE.

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::ReplyWriter;

use super::{Ctx, Error};
use crate::keyspace::{Db, Value};

/// Looks `key` up for a read-only command as Redis's `lookupKeyRead` does: expires it if due
/// and counts a keyspace hit or miss (a key of the wrong type is a hit; write lookups and DEL
/// do not count). Returns the value and the reply writer, borrowed together.
pub(crate) fn lookup_read<'a>(
    ctx: &'a mut Ctx<'_>,
    key: &[u8],
) -> (Option<&'a Value>, &'a mut ReplyWriter) {
    let now = ctx.now;
    let node = &mut *ctx.node;
    let value = node.dbs[ctx.client.db].get(key, now);
    if value.is_some() {
        node.stats.keyspace_hits += 1;
    } else {
        node.stats.keyspace_misses += 1;
    }
    (value, &mut *ctx.out)
}

/// [`lookup_read`] for a value of one type: `pick` takes it out of its [`Value`] and refuses
/// any other type, which is WRONGTYPE. A missing key is `Ok(None)`.
pub(crate) fn read_typed<'a, T: ?Sized>(
    ctx: &'a mut Ctx<'_>,
    key: &[u8],
    pick: impl FnOnce(&'a Value) -> Option<&'a T>,
) -> Result<(Option<&'a T>, &'a mut ReplyWriter), Error> {
    match lookup_read(ctx, key) {
        (None, out) => Ok((None, out)),
        (Some(v), out) => match pick(v) {
            Some(t) => Ok((Some(t), out)),
            None => Err(msg::WRONGTYPE.into()),
        },
    }
}

/// The value of one type at `key` for a write (`lookupKeyWrite`: expires it if due, counts no
/// hit or miss); WRONGTYPE when `pick` refuses it, `Ok(None)` when missing.
pub(crate) fn write_typed<'a, T: ?Sized>(
    db: &'a mut Db,
    key: &[u8],
    now: i64,
    pick: impl FnOnce(&'a mut Value) -> Option<&'a mut T>,
) -> Result<Option<&'a mut T>, Error> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(v) => pick(v).map(Some).ok_or(msg::WRONGTYPE.into()),
    }
}

/// [`write_typed`], creating the key with `empty()` when it is missing (Redis's
/// `...LookupWriteOrCreate`); the caller must not leave the new collection empty.
pub(crate) fn write_or_create<'a, T: ?Sized>(
    db: &'a mut Db,
    key: &[u8],
    now: i64,
    empty: impl FnOnce() -> Value,
    pick: impl Fn(&mut Value) -> Option<&mut T>,
) -> Result<&'a mut T, Error> {
    if write_typed(db, key, now, &pick)?.is_none() {
        db.set(Bytes::copy_from_slice(key), empty());
    }
    write_typed(db, key, now, pick)?.ok_or(msg::WRONGTYPE.into())
}
