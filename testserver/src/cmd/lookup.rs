//! Key lookups shared by the type commands, in Redis's two flavours: `lookupKeyRead` (counts a
//! keyspace hit or miss, for read-only commands) and `lookupKeyWrite` (counts nothing), each
//! also with a type check that answers WRONGTYPE.

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::ReplyWriter;

use super::{Ctx, Error};
use crate::keyspace::{Db, Hash, List, Set, Str, Value, ZSet};
use crate::node::Stats;

/// Looks `key` up for a read-only command as Redis's `lookupKeyRead` does: expires it if due
/// and counts a keyspace hit or miss (a key of the wrong type is a hit; write lookups and DEL
/// do not count). Returns the value and the reply writer, borrowed together.
pub(crate) fn lookup_read<'a>(
    ctx: &'a mut Ctx<'_>,
    key: &[u8],
) -> (Option<&'a Value>, &'a mut ReplyWriter) {
    let now = ctx.now;
    let db = ctx.client.db;
    if ctx.node.notify_flags & crate::notify::class::KEY_MISS != 0
        && ctx.node.dbs[db].get(key, now).is_none()
    {
        ctx.notify(crate::notify::class::KEY_MISS, "keymiss", key);
    }
    let node = &mut *ctx.node;
    let value = node.dbs[db].get(key, now);
    count_lookup(&mut node.stats, value.is_some());
    (value, &mut *ctx.out)
}

/// As [`lookup_read`] without stamping the key's access time (Redis's `LOOKUP_NOTOUCH`:
/// EXISTS, TYPE, OBJECT).
pub(crate) fn lookup_read_notouch<'a>(
    ctx: &'a mut Ctx<'_>,
    key: &[u8],
) -> (Option<(&'a Value, u32)>, &'a mut ReplyWriter) {
    let now = ctx.now;
    let node = &mut *ctx.node;
    let found = node.dbs[ctx.client.db].get_untouched(key, now);
    count_lookup(&mut node.stats, found.is_some());
    (found, &mut *ctx.out)
}

/// Counts a read lookup in INFO's `keyspace_hits` / `keyspace_misses`, for callers that look
/// keys up without a [`Ctx`] (SORT's BY/GET keys).
pub(crate) fn count_lookup(stats: &mut Stats, found: bool) {
    if found {
        stats.keyspace_hits += 1;
    } else {
        stats.keyspace_misses += 1;
    }
}

/// A type a key can hold, taken out of its [`Value`] (`None` when the key holds another
/// type), so one lookup serves every "value of type X or WRONGTYPE".
pub(crate) trait Typed {
    /// The value as this type.
    fn of(v: &Value) -> Option<&Self>;
    /// The value as this type, for changes.
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
}

macro_rules! typed {
    ($($variant:ident),*) => {$(
        impl Typed for $variant {
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
        }
    )*};
}

typed!(Str, List, Hash, Set, ZSet);

/// [`lookup_read`] for a value of type `T`: another type is WRONGTYPE, a missing key
/// `Ok(None)`.
pub(crate) fn read_typed<'a, T: Typed>(
    ctx: &'a mut Ctx<'_>,
    key: &[u8],
) -> Result<(Option<&'a T>, &'a mut ReplyWriter), Error> {
    match lookup_read(ctx, key) {
        (None, out) => Ok((None, out)),
        (Some(v), out) => match T::of(v) {
            Some(t) => Ok((Some(t), out)),
            None => Err(msg::WRONGTYPE.into()),
        },
    }
}

/// The value of type `T` at `key` for a write (`lookupKeyWrite`: expires it if due, counts no
/// hit or miss); another type is WRONGTYPE, a missing key `Ok(None)`. The sorted-set reads use
/// it too, as they have always counted no hit or miss here.
pub(crate) fn write_typed<'a, T: Typed>(
    db: &'a mut Db,
    key: &[u8],
    now: i64,
) -> Result<Option<&'a mut T>, Error> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(v) => T::of_mut(v).map(Some).ok_or(msg::WRONGTYPE.into()),
    }
}

/// [`write_typed`], creating the key with `empty()` when it is missing (Redis's
/// `...LookupWriteOrCreate`); the caller must not leave the new collection empty.
pub(crate) fn write_or_create<'a, T: Typed>(
    db: &'a mut Db,
    key: &[u8],
    now: i64,
    empty: impl FnOnce() -> Value,
) -> Result<&'a mut T, Error> {
    if write_typed::<T>(db, key, now)?.is_none() {
        db.set(Bytes::copy_from_slice(key), empty());
    }
    write_typed(db, key, now)?.ok_or(msg::WRONGTYPE.into())
}
