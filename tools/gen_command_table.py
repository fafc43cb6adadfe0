#!/usr/bin/env python3
"""Generates client/src/command/table.rs from a running Redis 7.0 (COMMAND + COMMAND DOCS).

Usage: python3 tools/gen_command_table.py HOST PORT [SENTINEL_HOST SENTINEL_PORT] \
           > client/src/command/table.rs

With a redis-sentinel of the same version, the commands only a sentinel has (SENTINEL) are
added from its own COMMAND and COMMAND DOCS, so one table serves both kinds of node.

The table is data about Redis commands (arity, flags, key positions, ACL categories, key specs,
docs with history and arguments), read from the server it describes. Re-run it against a newer Redis to refresh it.
"""
import socket, sys

def read_reply(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in (b'+',): return rest.decode()
    if t == b'-': raise RuntimeError(rest.decode())
    if t == b':': return int(rest)
    if t == b'$':
        n = int(rest)
        if n < 0: return None
        data = f.read(n + 2)[:-2]
        return data.decode()
    if t in (b'*', b'~'):
        n = int(rest)
        if n < 0: return None
        return [read_reply(f) for _ in range(n)]
    if t == b'%':
        n = int(rest)
        return {read_reply(f): read_reply(f) for _ in range(n)}
    if t == b'_': return None
    if t == b'#': return rest == b't'
    raise RuntimeError("unexpected %r" % line)

def cmd(f, s, *args):
    out = b'*%d\r\n' % len(args)
    for a in args:
        a = a.encode()
        out += b'$%d\r\n%s\r\n' % (len(a), a)
    s.sendall(out)
    return read_reply(f)

def rs(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'

def strs(xs):
    return '&[' + ', '.join(rs(x) for x in xs) + ']'

def key_spec(ks):
    bs = ks['begin_search']; fk = ks['find_keys']
    if bs['type'] == 'index':
        b = 'BeginSearch::Index(%d)' % bs['spec']['index']
    elif bs['type'] == 'keyword':
        b = 'BeginSearch::Keyword { keyword: %s, start_from: %d }' % (rs(bs['spec']['keyword']), bs['spec']['startfrom'])
    else:
        b = 'BeginSearch::Unknown'
    if fk['type'] == 'range':
        sp = fk['spec']
        f_ = 'FindKeys::Range { last_key: %d, step: %d, limit: %d }' % (sp['lastkey'], sp['keystep'], sp['limit'])
    elif fk['type'] == 'keynum':
        sp = fk['spec']
        f_ = 'FindKeys::Keynum { keynum_index: %d, first_key: %d, step: %d }' % (sp['keynumidx'], sp['firstkey'], sp['keystep'])
    else:
        f_ = 'FindKeys::Unknown'
    notes = ks.get('notes')
    return 'KeySpec { notes: %s, flags: %s, begin_search: %s, find_keys: %s }' % (
        ('Some(%s)' % rs(notes)) if notes else 'None', strs(ks['flags']), b, f_)

def to_map(x):
    if isinstance(x, dict): return x
    return {x[i]: x[i+1] for i in range(0, len(x), 2)}

def args_list(args):
    """COMMAND DOCS arguments as a Rust slice of `Arg`."""
    if not args:
        return '&[]'
    out = []
    for a in args:
        a = to_map(a)
        ksi = a.get('key_spec_index')
        out.append('Arg { name: %s, kind: %s, key_spec_index: %s, token: %s, summary: %s, since: %s, deprecated_since: %s, flags: %s, arguments: %s }' % (
            rs(a['name']), rs(a['type']),
            'None' if ksi is None else 'Some(%d)' % ksi,
            ('Some(%s)' % rs(a['token'])) if 'token' in a else 'None', rs(a.get('summary', '')), rs(a.get('since', '')),
            rs(a.get('deprecated_since', '')), strs(a.get('flags') or []),
            args_list(a.get('arguments') or [])))
    return '&[' + ', '.join(out) + ']'

def entry(info, docs, indent):
    name, arity, flags, first, last, step, acl, tips, specs, subs = info
    d = to_map(docs.get(name, {}) or {})
    sub_docs = to_map(d.get('subcommands') or {})
    pad = ' ' * indent
    out = pad + 'CommandInfo {\n'
    out += pad + '    name: %s,\n' % rs(name)
    out += pad + '    arity: %d,\n' % arity
    out += pad + '    flags: %s,\n' % strs(flags)
    out += pad + '    first_key: %d,\n    %slast_key: %d,\n    %sstep: %d,\n' % (first, pad, last, pad, step)
    out += pad + '    acl_categories: %s,\n' % strs(acl)
    out += pad + '    tips: %s,\n' % strs(tips)
    out += pad + '    key_specs: &[%s],\n' % ', '.join(key_spec(to_map(k) if not isinstance(k, dict) else k) for k in (specs or []))
    out += pad + '    summary: %s,\n' % rs(d.get('summary', ''))
    out += pad + '    since: %s,\n' % rs(d.get('since', ''))
    out += pad + '    group: %s,\n' % rs(d.get('group', ''))
    out += pad + '    complexity: %s,\n' % rs(d.get('complexity', ''))
    out += pad + '    doc_flags: %s,\n' % strs(d.get('doc_flags') or [])
    out += pad + '    deprecated_since: %s,\n' % rs(d.get('deprecated_since', ''))
    out += pad + '    replaced_by: %s,\n' % rs(d.get('replaced_by', ''))
    out += pad + '    history: &[%s],\n' % ', '.join('(%s, %s)' % (rs(h[0]), rs(h[1])) for h in (d.get('history') or []))
    out += pad + '    arguments: %s,\n' % args_list(d.get('arguments') or [])
    if subs:
        out += pad + '    subcommands: &[\n'
        for s in sorted(subs, key=lambda s: s[0]):
            out += entry(s, sub_docs, indent + 8)
        out += pad + '    ],\n'
    else:
        out += pad + '    subcommands: &[],\n'
    out += pad + '},\n'
    return out

def fetch(host, port):
    s = socket.create_connection((host, port))
    f = s.makefile('rb')
    hello = to_map(cmd(f, s, 'HELLO', '3'))
    return hello, cmd(f, s, 'COMMAND'), to_map(cmd(f, s, 'COMMAND', 'DOCS'))

def main():
    hello, infos, docs = fetch(sys.argv[1], int(sys.argv[2]))
    source = 'Redis %s' % hello['version']
    sentinel_only = []
    if len(sys.argv) > 4:
        shello, sinfos, sdocs = fetch(sys.argv[3], int(sys.argv[4]))
        if shello['mode'] != 'sentinel' or shello['version'] != hello['version']:
            raise SystemExit('the second server must be a redis-sentinel of the same version')
        known = {i[0] for i in infos}
        for i in sinfos:
            if i[0] not in known:
                infos.append(i)
                docs[i[0]] = sdocs.get(i[0])
                sentinel_only.append(i[0])
        source += ' and its sentinel mode'
    infos.sort(key=lambda i: i[0])
    print('// @generated by tools/gen_command_table.py from %s. Do not edit by hand.' % source)
    print('#![allow(clippy::all)]')
    print('use super::{Arg, BeginSearch, CommandInfo, FindKeys, KeySpec};')
    print()
    print('/// Every Redis 7.0 command, sorted by name.')
    print('pub(super) static COMMANDS: &[CommandInfo] = &[')
    for i in infos:
        print(entry(i, docs, 4), end='')
    print('];')
    print()
    print('/// Commands only a sentinel has (Redis does not register them in a server).')
    print('pub(super) static SENTINEL_ONLY: &[&str] = %s;' % strs(sorted(sentinel_only)))

main()
