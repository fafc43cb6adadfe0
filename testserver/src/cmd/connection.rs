//! Connection commands: PING, ECHO, SELECT, QUIT, RESET, HELLO, AUTH.

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::{eq_ic, parse_i64, CmdResult, Ctx, Error, Handler};
use crate::client::ReplyMode;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("ping", ping),
    ("echo", echo),
    ("select", select),
    ("quit", quit),
    ("reset", reset),
    ("hello", hello),
    ("auth", auth),
];

fn ping(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 2 {
        return Err(rediscover::error_codes::wrong_arity("ping").into());
    }
    if ctx.client.in_resp2_pubsub() {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(argv.get(1).map(|b| &b[..]).unwrap_or(b""));
    } else if let Some(msg) = argv.get(1) {
        ctx.out.bulk(msg);
    } else {
        ctx.out.simple("PONG");
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&argv[1]);
    Ok(())
}

fn select(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let index = parse_i64(&argv[1])?;
    if ctx.node.cluster.is_some() && index != 0 {
        return Err("ERR SELECT is not allowed in cluster mode".into());
    }
    if index < 0 || index as usize >= ctx.node.dbs.len() {
        return Err(msg::DB_INDEX.into());
    }
    ctx.client.db = index as usize;
    ctx.out.ok();
    Ok(())
}

fn quit(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    ctx.out.ok();
    ctx.close_after_reply();
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    ctx.client.multi = None;
    ctx.client.multi_error = false;
    super::tx::unwatch_all(ctx);
    super::pubsub::unsubscribe_all(ctx.node, ctx.client);
    super::monitor::stop(ctx.node, ctx.client);
    ctx.client.db = 0;
    ctx.client.resp3 = false;
    ctx.out.set_resp3(false);
    ctx.client.name = None;
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.no_evict = false;
    ctx.client.user = Bytes::from_static(b"default");
    ctx.client.authenticated = !ctx.node.acl.auth_required();
    ctx.out.simple("RESET");
    Ok(())
}

/// Authenticates the client as `user`; the error is Redis's WRONGPASS, and the failure goes to
/// the ACL LOG under the name the command was sent as (`command`).
fn authenticate(ctx: &mut Ctx<'_>, command: &[u8], user: &[u8], password: &[u8]) -> CmdResult {
    if ctx.node.acl.check(user, password) {
        ctx.client.user = Bytes::copy_from_slice(user);
        ctx.client.authenticated = true;
        Ok(())
    } else {
        let entry = crate::acl::LogEntry {
            count: 1,
            reason: "auth",
            context: if ctx.client.multi.is_some() {
                "multi"
            } else {
                "toplevel"
            },
            object: command.to_vec(),
            username: user.to_vec(),
            ctime_ms: ctx.now,
            client_info: super::client::self_line(ctx, "auth"),
        };
        let max = ctx.node.config.extra_or("acllog-max-len", "128");
        ctx.node.acl.log(entry, max.parse().unwrap_or(128));
        Err(msg::WRONGPASS.into())
    }
}

fn auth(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match argv.len() {
        2 => {
            let default_nopass = ctx
                .node
                .acl
                .users
                .get(&b"default"[..])
                .is_some_and(|u| u.nopass);
            if default_nopass {
                return Err(msg::AUTH_NOT_CONFIGURED.into());
            }
            authenticate(ctx, &argv[0], b"default", &argv[1])?;
        }
        3 => authenticate(ctx, &argv[0], &argv[1], &argv[2])?,
        _ => return Err(msg::SYNTAX.into()),
    }
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut proto = None;
    if let Some(v) = argv.get(1) {
        let v = parse_i64(v)
            .map_err(|_| Error::from("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(msg::NOPROTO.into());
        }
        proto = Some(v);
    }
    let mut i = 2;
    let mut name = None;
    let mut creds = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if eq_ic(&argv[i], "AUTH") && more >= 2 {
            creds = Some((argv[i + 1].clone(), argv[i + 2].clone()));
            i += 3;
        } else if eq_ic(&argv[i], "SETNAME") && more >= 1 {
            name = Some(argv[i + 1].clone());
            i += 2;
        } else {
            return Err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&argv[i])
            )
            .into());
        }
    }
    if let Some((user, pass)) = creds {
        authenticate(ctx, &argv[0], &user, &pass)?;
    }
    if !ctx.client.authenticated {
        return Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
    }
    if let Some(name) = name {
        super::client::validate_name(&name)?;
        ctx.client.name = if name.is_empty() { None } else { Some(name) };
    }
    if let Some(p) = proto {
        ctx.client.resp3 = p == 3;
        ctx.out.set_resp3(p == 3);
    }
    let sentinel = ctx.node.sentinel.is_some();
    let out = &mut *ctx.out;
    // A sentinel says so, and has no replication role.
    out.map(if sentinel { 6 } else { 7 });
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if ctx.client.resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    if sentinel {
        out.bulk(b"sentinel");
    } else {
        out.bulk(b"standalone");
        out.bulk(b"role");
        out.bulk(if ctx.node.repl.is_master() {
            &b"master"[..]
        } else {
            b"replica"
        });
    }
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}
