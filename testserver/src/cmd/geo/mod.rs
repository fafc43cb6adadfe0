//! GEO commands on sorted sets, as Redis 7.0's `geo.c`: GEOADD (run as the ZADD it is
//! rewritten to, and replicated as that ZADD), GEODIST, GEOHASH, GEOPOS, the GEORADIUS family
//! and GEOSEARCH / GEOSEARCHSTORE. The arithmetic lives in `geo/hash.rs`; replies format
//! numbers as Redis does (`fixedpoint_d2string` for distances, `%.17Lf` trimmed for
//! coordinates).

mod hash;

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::longdouble::LongDouble;
use super::lookup::read_typed;
use super::zset::{limits, parse_score, store};
use super::{eq_ic, parse_i64, CmdResult, Ctx, Error, Handler};
use crate::keyspace::{Value, ZSet};
use hash::{Search, Shape};
use rediscover::resp::ReplyWriter;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("geoadd", geoadd),
    ("geodist", geodist),
    ("geohash", geohash),
    ("geopos", geopos),
    ("georadius", georadius),
    ("georadius_ro", georadius_ro),
    ("georadiusbymember", georadiusbymember),
    ("georadiusbymember_ro", georadiusbymember_ro),
    ("geosearch", geosearch),
    ("geosearchstore", geosearchstore),
];

const NOT_FLOAT: &str = "ERR value is not a valid float";
const BAD_UNIT: &str = "ERR unsupported unit provided. please use M, KM, FT, MI";
const BAD_MEMBER: &str = "ERR could not decode requested zset member";

/// A longitude/latitude pair inside Redis's limits (`extractLongLatOrReply`).
fn lon_lat(args: &[Bytes]) -> Result<[f64; 2], Error> {
    let lon = parse_score(&args[0], NOT_FLOAT)?;
    let lat = parse_score(&args[1], NOT_FLOAT)?;
    if !(hash::LONG_MIN..=hash::LONG_MAX).contains(&lon)
        || !(hash::LAT_MIN..=hash::LAT_MAX).contains(&lat)
    {
        return Err(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}").into());
    }
    Ok([lon, lat])
}

/// A unit's length in metres.
fn unit(arg: &[u8]) -> Result<f64, Error> {
    match arg.to_ascii_lowercase().as_slice() {
        b"m" => Ok(1.0),
        b"km" => Ok(1000.0),
        b"ft" => Ok(0.3048),
        b"mi" => Ok(1609.34),
        _ => Err(BAD_UNIT.into()),
    }
}

/// A radius and its unit (`extractDistanceOrReply`).
fn radius_arg(args: &[Bytes]) -> Result<(f64, f64), Error> {
    let r = parse_score(&args[0], "ERR need numeric radius")?;
    if r < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    Ok((r, unit(&args[1])?))
}

/// A box's width, height and unit (`extractBoxOrReply`).
fn box_arg(args: &[Bytes]) -> Result<(f64, f64, f64), Error> {
    let w = parse_score(&args[0], "ERR need numeric width")?;
    let h = parse_score(&args[1], "ERR need numeric height")?;
    if h < 0.0 || w < 0.0 {
        return Err("ERR height or width cannot be negative".into());
    }
    Ok((w, h, unit(&args[2])?))
}

/// A distance as Redis's `addReplyDoubleDistance` writes it: four decimals, rounded to even.
fn write_distance(out: &mut ReplyWriter, d: f64) {
    out.bulk(fixed4(d).as_bytes());
}

fn fixed4(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let v = (d * 10000.0).round_ties_even() as i64;
    let (neg, u) = (v < 0, v.unsigned_abs());
    format!(
        "{}{}.{:04}",
        if neg { "-" } else { "" },
        u / 10000,
        u % 10000
    )
}

/// A coordinate as `addReplyHumanLongDouble` writes it: `%.17Lf` of the value with trailing
/// zeros removed, a bulk string in RESP2 and a double in RESP3.
fn write_coord(out: &mut ReplyWriter, x: f64) {
    let text = human(x);
    if out.is_resp3() {
        let mut line = Vec::with_capacity(text.len() + 3);
        line.push(b',');
        line.extend_from_slice(text.as_bytes());
        line.extend_from_slice(b"\r\n");
        out.raw(&line);
    } else {
        out.bulk(text.as_bytes());
    }
}

/// `x` widened to `long double` (exactly) and printed as Redis's `LD_STR_HUMAN`.
fn human(x: f64) -> String {
    let bits = x.to_bits();
    let neg = bits >> 63 == 1;
    let exp_bits = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1 << 52) - 1);
    let (mantissa, exp) = if exp_bits == 0 {
        (frac, -1074)
    } else {
        (frac | (1 << 52), exp_bits - 1075)
    };
    LongDouble::Finite { neg, mantissa, exp }.to_human()
}

fn geoadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut first = 2;
    let (mut nx, mut xx) = (false, false);
    while let Some(opt) = argv.get(first) {
        if eq_ic(opt, "nx") {
            nx = true;
        } else if eq_ic(opt, "xx") {
            xx = true;
        } else if !eq_ic(opt, "ch") {
            break;
        }
        first += 1;
    }
    if (argv.len() - first) % 3 != 0 || (xx && nx) {
        return Err(msg::SYNTAX.into());
    }
    let mut zadd: Vec<Bytes> = Vec::with_capacity(first + (argv.len() - first) / 3 * 2);
    zadd.push(Bytes::from_static(b"zadd"));
    zadd.extend(argv[1..first].iter().cloned());
    for triple in argv[first..].chunks(3) {
        let [lon, lat] = lon_lat(triple)?;
        let h = hash::encode_wgs84(lon, lat, hash::STEP_MAX).unwrap_or_default();
        zadd.push(Bytes::from(hash::align52(h).to_string()));
        zadd.push(triple[2].clone());
    }
    super::zset::zadd(ctx, &zadd)?;
    ctx.propagate_as(|| vec![zadd]);
    Ok(())
}

fn geodist(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let to_meter = match argv.len() {
        4 => 1.0,
        5 => unit(&argv[4])?,
        _ => return Err(msg::SYNTAX.into()),
    };
    let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
    let scores = z.and_then(|z| Some((z.score(&argv[2])?, z.score(&argv[3])?)));
    match scores {
        None => out.null(),
        Some((a, b)) => {
            let [x1, y1] = hash::decode_score(a);
            let [x2, y2] = hash::decode_score(b);
            write_distance(out, hash::distance(x1, y1, x2, y2) / to_meter);
        }
    }
    Ok(())
}

fn geohash(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
    out.array(argv.len() - 2);
    for member in &argv[2..] {
        match z.and_then(|z| z.score(member)) {
            Some(score) => out.bulk(&hash::geohash_string(score)),
            None => out.null(),
        }
    }
    Ok(())
}

fn geopos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
    out.array(argv.len() - 2);
    for member in &argv[2..] {
        match z.and_then(|z| z.score(member)) {
            Some(score) => {
                let [lon, lat] = hash::decode_score(score);
                out.array(2);
                write_coord(out, lon);
                write_coord(out, lat);
            }
            None => out.null_array(),
        }
    }
    Ok(())
}

/// Which command of the family runs (Redis's `georadiusGeneric` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// GEORADIUS(_RO): centre and radius are positional.
    Coords,
    /// GEORADIUSBYMEMBER(_RO): member and radius are positional.
    Member,
    /// GEOSEARCH / GEOSEARCHSTORE: everything is an option.
    Search,
}

fn georadius(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, 1, Kind::Coords, true, false)
}

fn georadius_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, 1, Kind::Coords, false, false)
}

fn georadiusbymember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, 1, Kind::Member, true, false)
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, 1, Kind::Member, false, false)
}

fn geosearch(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, 1, Kind::Search, false, false)
}

fn geosearchstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    radius_generic(ctx, argv, 2, Kind::Search, false, true)
}

/// A point found by a search.
struct Found {
    member: Bytes,
    score: f64,
    xy: [f64; 2],
    dist: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// The family's shared body (`georadiusGeneric`): arguments parsed and checked in Redis's
/// order, the covering cells scanned, results sorted, then replied or stored.
fn radius_generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    src: usize,
    kind: Kind,
    may_store: bool,
    search_store: bool,
) -> CmdResult {
    let src_key = argv[src].clone();
    let (z, _) = read_typed::<ZSet>(ctx, &src_key)?;
    let exists = z.is_some();
    let mut xy = [0.0; 2];
    let mut shape = Shape::Radius(0.0);
    let mut conversion = 1.0;
    let mut storekey: Option<Bytes> = None;
    let mut storedist = false;
    let base = match kind {
        Kind::Coords => {
            xy = lon_lat(&argv[2..4])?;
            let (r, c) = radius_arg(&argv[4..6])?;
            (shape, conversion) = (Shape::Radius(r), c);
            6
        }
        Kind::Member => {
            if let Some(z) = z {
                let score = z.score(&argv[2]).ok_or(Error::from(BAD_MEMBER))?;
                xy = hash::decode_score(score);
                let (r, c) = radius_arg(&argv[3..5])?;
                (shape, conversion) = (Shape::Radius(r), c);
            }
            5
        }
        Kind::Search => {
            if search_store {
                storekey = Some(argv[1].clone());
                3
            } else {
                2
            }
        }
    };
    let search = kind == Kind::Search;
    let (mut withdist, mut withhash, mut withcoords, mut any) = (false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let rest = &argv[base..];
    let mut i = 0;
    while i < rest.len() {
        let arg = &rest[i][..];
        let left = rest.len() - i - 1;
        if eq_ic(arg, "withdist") {
            withdist = true;
        } else if eq_ic(arg, "withhash") {
            withhash = true;
        } else if eq_ic(arg, "withcoord") {
            withcoords = true;
        } else if eq_ic(arg, "any") {
            any = true;
        } else if eq_ic(arg, "asc") {
            sort = Sort::Asc;
        } else if eq_ic(arg, "desc") {
            sort = Sort::Desc;
        } else if eq_ic(arg, "count") && left >= 1 {
            count = parse_i64(&rest[i + 1])?;
            if count <= 0 {
                return Err("ERR COUNT must be > 0".into());
            }
            i += 1;
        } else if (eq_ic(arg, "store") || eq_ic(arg, "storedist"))
            && left >= 1
            && may_store
            && !search
        {
            storekey = Some(rest[i + 1].clone());
            storedist = eq_ic(arg, "storedist");
            i += 1;
        } else if eq_ic(arg, "storedist") && search && search_store {
            storedist = true;
        } else if eq_ic(arg, "frommember") && left >= 1 && search && !fromloc {
            if let Some(z) = z {
                let score = z.score(&rest[i + 1]).ok_or(Error::from(BAD_MEMBER))?;
                xy = hash::decode_score(score);
            }
            frommember = true;
            i += 1;
        } else if eq_ic(arg, "fromlonlat") && left >= 2 && search && !frommember {
            xy = lon_lat(&rest[i + 1..i + 3])?;
            fromloc = true;
            i += 2;
        } else if eq_ic(arg, "byradius") && left >= 2 && search && !bybox {
            let (r, c) = radius_arg(&rest[i + 1..i + 3])?;
            (shape, conversion) = (Shape::Radius(r), c);
            byradius = true;
            i += 2;
        } else if eq_ic(arg, "bybox") && left >= 3 && search && !byradius {
            let (width, height, c) = box_arg(&rest[i + 1..i + 4])?;
            (shape, conversion) = (Shape::Box { width, height }, c);
            bybox = true;
            i += 3;
        } else {
            return Err(msg::SYNTAX.into());
        }
        i += 1;
    }
    if storekey.is_some() && (withdist || withhash || withcoords) {
        let what = if search_store {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )
        .into());
    }
    let name = String::from_utf8_lossy(&argv[0]);
    if search && !(frommember || fromloc) {
        return Err(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )
        .into());
    }
    if search && !(byradius || bybox) {
        return Err(
            format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}").into(),
        );
    }
    if any && count == 0 {
        return Err("ERR the ANY argument requires COUNT argument".into());
    }
    if !exists {
        match storekey {
            Some(dst) => store(ctx, &dst, ZSet::new(), "del")?,
            None => ctx.out.array(0),
        }
        return Ok(());
    }
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let s = Search {
        xy,
        shape,
        conversion,
    };
    let limit = if any { count as usize } else { 0 };
    // Looked up (and counted) above: peek, not a second counted read.
    let mut found = match ctx.node.dbs[ctx.client.db].peek(&src_key) {
        Some(Value::ZSet(z)) => scan(z, &s, limit),
        _ => Vec::new(),
    };
    if found.is_empty() && storekey.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let returned = if count == 0 {
        found.len()
    } else {
        found.len().min(count as usize)
    };
    match sort {
        Sort::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Sort::None => {}
    }
    found.truncate(returned);
    match storekey {
        None => {
            let options = usize::from(withdist) + usize::from(withcoords) + usize::from(withhash);
            let out = &mut *ctx.out;
            out.array(found.len());
            for f in &found {
                if options > 0 {
                    out.array(options + 1);
                }
                out.bulk(&f.member);
                if withdist {
                    write_distance(out, f.dist / conversion);
                }
                if withhash {
                    out.int(f.score as i64);
                }
                if withcoords {
                    out.array(2);
                    write_coord(out, f.xy[0]);
                    write_coord(out, f.xy[1]);
                }
            }
        }
        Some(dst) => {
            let pairs = found.into_iter().map(|f| {
                let score = if storedist {
                    f.dist / conversion
                } else {
                    f.score
                };
                (f.member, score)
            });
            let z = ZSet::from_pairs(pairs, &limits(ctx));
            let n = z.len();
            let event = if search {
                "geosearchstore"
            } else {
                "georadiusstore"
            };
            store(ctx, &dst, z, event)?;
            if n > 1 {
                ctx.dirty(n as u64 - 1);
            }
        }
    }
    Ok(())
}

/// The members inside the search, cell by cell in Redis's order, stopping once `limit`
/// (when not 0) are found.
fn scan(z: &ZSet, s: &Search, limit: usize) -> Vec<Found> {
    let cells = hash::cells(s);
    let mut found = Vec::new();
    // Huge radii make neighbours coincide: a cell equal to the last one scanned is skipped,
    // except (as in Redis, which keeps the index and tests it for zero) the centre cell.
    let mut last = 0;
    for (i, &cell) in cells.iter().enumerate() {
        let Some((min, max)) = hash::score_range(cell) else {
            continue;
        };
        if last != 0 && cells[last] == cell {
            continue;
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
        let range = crate::keyspace::ScoreRange {
            min: min as f64,
            max: max as f64,
            min_ex: false,
            max_ex: true,
        };
        for (member, score) in z.range_by_score(&range, false, 0) {
            let xy = hash::decode_score(score);
            if let Some(dist) = hash::within(s, xy) {
                found.push(Found {
                    member: member.clone(),
                    score,
                    xy,
                    dist,
                });
            }
            if limit > 0 && found.len() >= limit {
                break;
            }
        }
        last = i;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{fixed4, human};

    #[test]
    fn numbers_print_as_redis() {
        assert_eq!(fixed4(0.0), "0.0000");
        assert_eq!(fixed4(166274.15156960033), "166274.1516");
        assert_eq!(fixed4(0.00005), "0.0000");
        // 0.00015 * 10000 is just below 1.5 in binary, as it is in C.
        assert_eq!(fixed4(0.00015), "0.0001");
        assert_eq!(fixed4(2.5 / 10000.0 * 10000.0 / 10000.0), "0.0002");
        assert_eq!(human(13.361389338970184), "13.36138933897018433");
        assert_eq!(human(-0.5), "-0.5");
        assert_eq!(human(0.0), "0");
    }
}
