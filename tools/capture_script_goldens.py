#!/usr/bin/env python3
"""Captures the reply bytes of a real Redis 7.0.15 for the scripting golden test.

Usage: capture_script_goldens.py PORT > testserver/tests/scripting/goldens.rs
       capture_script_goldens.py PORT functions > testserver/tests/functions/goldens.rs
The cases run in order on one connection (later ones see earlier writes).
"""
import socket
import sys

FUNCTION_CASES = [['FUNCTION', 'flush'], ['FUNCTION', 'load', "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return keys[1] end)"], ['FUNCTION', 'load', '#!lua name=lib2\nredis.register_function()'], ['FUNCTION', 'load', "#!lua name=lib3\nlocal x = string.len('a')"], ['FUNCTION', 'load', "#!lua name=lib3\nlocal x = redis.call('ping')"], ['FUNCTION', 'load', '#!lua name=lib4\n'], ['FUNCTION', 'load', '#!lua name=lib5\nsyntax error'], ['FUNCTION', 'load', "#!lua name=lib1\nredis.register_function('f9', function() end)"], ['FUNCTION', 'load', "#!lua name=lib6\nredis.register_function('f1', function() end)"], ['FCALL', 'f1', '1', 'kk'], ['FCALL', 'f1', 'x'], ['FCALL', 'nosuch', '0'], ['FCALL', 'f1', '5', 'a'], ['FUNCTION', 'load', "#!lua name=lib7\nredis.register_function{function_name='f7', callback=function() return redis.call('set','a','b') end, flags={'no-writes'}, description='d'}"], ['FCALL', 'f7', '0'], ['FCALL_RO', 'f1', '0'], ['FCALL_RO', 'f7', '0'], ['FUNCTION', 'load', "#!lua name=lib8\nredis.register_function('f8', function() return a end)"], ['FCALL', 'f8', '0'], ['FUNCTION', 'list', 'libraryname', 'lib7', 'withcode'], ['FUNCTION', 'list', 'libraryname', 'lib8'], ['FUNCTION', 'list', 'libraryname'], ['FUNCTION', 'list', 'foo'], ['FUNCTION', 'stats'], ['FUNCTION', 'load', "#!lua name=lib9\nredis.register_function{function_name='f9', callback=function() return 1 end, flags={'bad'}}"], ['FUNCTION', 'load', "#!lua name=lib9\nredis.register_function{function_name='f9', callback=function() return 1 end, foo=1}"], ['FUNCTION', 'load', "#!lua name=lib9\nredis.register_function('f-9', function() return 1 end)"], ['FUNCTION', 'load', "#!lua name=lib9\nredis.register_function('f9', function() return 1 end) redis.register_function('f9', function() return 1 end)"], ['FUNCTION', 'load', '#!lua name=lib9\nredis.register_function(1, 2)'], ['FUNCTION', 'load', '#!lua name=lib9\nredis.register_function({})'], ['FUNCTION', 'load', "#!lua name=lib9\nredis.register_function('x')"], ['FUNCTION', 'load', '#!lua name=lib9 x=1\n'], ['FUNCTION', 'load', '#lua name=lib9\n'], ['FUNCTION', 'load', '#!js name=lib9\n'], ['FUNCTION', 'load', '#!lua name=lib-9\n'], ['FUNCTION', 'load', '#!lua\n'], ['FUNCTION', 'load', "#!LUA name=libA\nredis.register_function('fa', function() return redis.call('ping') end)"], ['FCALL', 'fa', '0'], ['FUNCTION', 'load', 'replace'], ['FUNCTION', 'load', 'foo', 'bar'], ['FUNCTION', 'load', 'replace', "#!lua name=lib1\nredis.register_function('f1b', function() return 2 end)"], ['FCALL', 'f1b', '0'], ['FCALL', 'f1', '0'], ['FUNCTION', 'delete', 'nosuch'], ['FUNCTION', 'delete', 'lib8'], ['FUNCTION', 'restore', 'xxx'], ['FUNCTION', 'restore', 'xxx', 'foo'], ['FUNCTION', 'flush', 'x'], ['FUNCTION', 'kill'], ['FUNCTION', 'foo'], ['EVAL', 'return redis.register_function', '0'], ['FUNCTION', 'FLUSH'], ['FUNCTION', 'LOAD', "#!lua name=t1\nredis.register_function{function_name='keys_args', callback=function(keys, args) return {#keys, #args, keys[1], args[1]} end, flags={'no-writes', 'allow-stale'}}"], ['FCALL', 'keys_args', '1', 'k', 'a', 'b'], ['FCALL_RO', 'keys_args', '0', 'a'], ['FUNCTION', 'LIST', 'WITHCODE'], ['FUNCTION', 'LIST', 'LIBRARYNAME', 't*'], ['FUNCTION', 'LIST', 'LIBRARYNAME', 'x*'], ['FUNCTION', 'DUMP'], ['FUNCTION', 'LOAD', "#!lua name=t2\nredis.register_function('w', function(keys, args) return redis.call('incr', keys[1]) end)"], ['FCALL', 'w', '1', 'cnt'], ['FCALL', 'w', '1', 'cnt'], ['FCALL_RO', 'w', '1', 'cnt'], ['FUNCTION', 'STATS'], ['FUNCTION', 'DELETE', 't2'], ['FUNCTION', 'STATS'], ['FUNCTION', 'HELP'], ['FUNCTION', 'LOAD', "#!lua name=t3\nredis.register_function('e', function() return KEYS end)"], ['FCALL', 'e', '0'], ['FUNCTION', 'LOAD', "#!lua name=t4\nlocal function helper(x) return x * 2 end\nredis.register_function('h', function(k, a) return helper(tonumber(a[1])) end)"], ['FCALL', 'h', '0', '21'], ['FUNCTION', 'LOAD', "#!lua name=t5\nredis.register_function('boom', function() error('bad') end)"], ['FCALL', 'boom', '0'], ['FUNCTION', 'FLUSH', 'ASYNC'], ['FUNCTION', 'LIST']]

CASES = [
    ["FLUSHALL"], ["SCRIPT", "FLUSH"],
    ["EVAL", "return a", "0"],
    ["EVAL", "a=1", "0"],
    ["EVAL", "return redis.call('nosuch')", "0"],
    ["EVAL", "return redis.call('get')", "0"],
    ["EVAL", "redis.call('set','x','y') return redis.call('incr','x')", "0"],
    ["EVAL", "return redis.pcall('incr','x')", "0"],
    ["EVAL", "return pcall(redis.call,'incr','x')", "0"],
    ["EVAL", "return {pcall(redis.call,'incr','x')}", "0"],
    ["EVAL", "error('boom')", "0"],
    ["EVAL", "error({err='MY x'})", "0"],
    ["EVAL", "return {1,2,3.7,'a',nil,5}", "0"],
    ["EVAL", "return {err='FOO bar'}", "0"],
    ["EVAL", "return redis.error_reply('x y')", "0"],
    ["EVAL", "return redis.error_reply('-ERR')", "0"],
    ["EVAL", "return redis.status_reply('FINE')", "0"],
    ["EVAL", "return redis.call('eval','return 1',0)", "0"],
    ["EVAL", "return string.foo", "0"],
    ["EVAL", "string.foo=1", "0"],
    ["EVAL", "syntax error here", "0"],
    ["EVAL", "return 1", "2", "a"],
    ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
    ["EVALSHA", "fff", "0"],
    ["EVAL", "return 1", "-1"],
    ["EVAL", "return 1", "x"],
    ["EVAL", "#!lua flags=no-writes\nreturn redis.call('set','a','b')", "0"],
    ["EVAL_RO", "return redis.call('set','a','b')", "0"],
    ["EVAL_RO", "#!lua\nreturn 1", "0"],
    ["EVAL", "#!lua flags=foo\nreturn 1", "0"],
    ["EVAL", "#!luax\nreturn 1", "0"],
    ["EVAL", "#!lua", "0"],
    ["EVAL", "#!lua x=1\nreturn 1", "0"],
    ["EVAL", "#!lua flags=no-writes,allow-stale\nreturn redis.call('get','x')", "0"],
    ["EVAL", "return redis.call('blpop','l',0)", "0"],
    ["EVAL", "return redis.call('multi')", "0"],
    ["EVAL", "return {KEYS[1],ARGV[1],ARGV[2]}", "1", "k", "a", "b"],
    ["EVAL", "return cjson.encode({1,2,{a='x/y'}})", "0"],
    ["EVAL", "return cjson.encode({[1]=1,[100]=2})", "0"],
    ["EVAL", "return cjson.encode({a={b={}}})", "0"],
    ["EVAL", "return cjson.decode('[1,2,{\"a\":3}]')[3].a", "0"],
    ["EVAL", "return cjson.decode('[1,2')", "0"],
    ["EVAL", "return cjson.decode('{\"s\":\"\\\\u00e9\\\\n\"}').s", "0"],
    ["EVAL", "return bit.tohex(bit.band(0xff, 0x0f), -4)", "0"],
    ["EVAL", "return {bit.bnot(0), bit.lshift(1,31), bit.tobit(2^32+5), bit.bxor(5,3), bit.arshift(-256,4)}", "0"],
    ["EVAL", "return redis.sha1hex('')", "0"],
    ["EVAL", "return redis.sha1hex()", "0"],
    ["EVAL", "return 3.99", "0"],
    ["EVAL", "return -3.99", "0"],
    ["EVAL", "return true", "0"],
    ["EVAL", "return false", "0"],
    ["EVAL", "return nil", "0"],
    ["EVAL", "redis.setresp(3) return redis.call('hgetall','nokey')", "0"],
    ["EVAL", "redis.setresp(3) return {double=3.5}", "0"],
    ["EVAL", "return {double=3.5}", "0"],
    ["EVAL", "redis.setresp(4)", "0"],
    ["EVAL", "return redis.log()", "0"],
    ["EVAL", "rawset(_G,'x',1)", "0"],
    ["EVAL", "return loadstring('x=1')()", "0"],
    ["EVAL", "return print", "0"],
    ["EVAL", "return dofile", "0"],
    ["EVAL", "redis.call = nil", "0"],
    ["EVAL", "return redis.call('set', 'n', 3.5)", "0"],
    ["EVAL", "return redis.call('get', 'n')", "0"],
    ["EVAL", "return redis.call('ping')", "0"],
    ["EVAL", "return redis.call('type', 'n')", "0"],
    ["EVAL", "return redis.pcall()", "0"],
    ["EVAL", "return redis.call({})", "0"],
    ["EVAL", "return {1,{2,{3}}}", "0"],
    ["EVAL", "return {map={a=1}}", "0"],
    ["EVAL", "return {set={a=true}}", "0"],
    ["EVAL", "return {big_number='123'}", "0"],
    ["EVAL", "return {ok='a\r\nb'}", "0"],
    ["EVAL", "return redis.REDIS_VERSION", "0"],
    ["EVAL", "local function f() local x = nil; return x.y end return f()", "0"],
    ["EVAL", "return ('x'):upper()", "0"],
    ["EVAL", "return string.format('%d %s', 5, 'a')", "0"],
    ["EVAL", "return tostring(1e100)", "0"],
    ["EVAL", "return redis.call('set','k')", "0"],
    ["EVAL", "return redis.acl_check_cmd('set','a','b')", "0"],
    ["EVAL", "return redis.acl_check_cmd('nosuch')", "0"],
    ["EVAL", "redis.call('select', 1) redis.call('set','db1','v') return redis.call('dbsize')", "0"],
    ["DBSIZE"],
    ["EVAL", "redis.setresp(3) return redis.call('hello')", "0"],
    ["HSET", "h", "f", "v"],
    ["EVAL", "redis.setresp(3) return redis.call('hgetall','h')", "0"],
    ["EVAL", "redis.setresp(3) local r = redis.call('hgetall','h') return r.map.f", "0"],
    ["SADD", "s", "m"],
    ["EVAL", "redis.setresp(3) local r = redis.call('smembers','s') return r.set.m", "0"],
    ["EVAL", "redis.setresp(3) return redis.call('zscore','nokey','m')", "0"],
    ["EVAL", "return redis.call('get','nokey')", "0"],
    ["EVAL", "return {1, 2, false, 4}", "0"],
    ["EVAL", "redis.setresp(3) return {1, 2, false, 4}", "0"],
    ["EVAL", "return tonumber('0x10')", "0"],
    ["EVAL", "return 1e20", "0"],
    ["SCRIPT", "LOAD", "return 1"],
    ["SCRIPT", "LOAD", "return ("],
    ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "ffffffffffffffffffffffffffffffffffffffff"],
    ["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"],
    ["SCRIPT", "FLUSH", "x"],
    ["SCRIPT", "FLUSH", "SYNC"],
    ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"],
    ["SCRIPT", "KILL"],
    ["SCRIPT", "DEBUG", "foo"],
    ["SCRIPT", "FOO"],
    ["SCRIPT", "HELP"],
    ["EVAL"],
    ["EVALSHA", "x"],
    ["EVAL", "return cmsgpack.pack({1,2,3})", "0"],
    ["EVAL", "return cmsgpack.pack({a=1})", "0"],
    ["EVAL", "return cmsgpack.pack(1.5, -1, -200, 70000, 2^40, 'hello', true, false, nil)", "0"],
    ["EVAL", "return cmsgpack.pack(0.1)", "0"],
    ["EVAL", "return cmsgpack.pack(string.rep('x', 40))", "0"],
    ["EVAL", "return {cmsgpack.unpack(cmsgpack.pack({1,2,{3,4}}))}", "0"],
    ["EVAL", "local t = cmsgpack.unpack(cmsgpack.pack({a='b'})) return t.a", "0"],
    ["EVAL", "return cmsgpack.unpack(string.char(0xcd))", "0"],
    ["EVAL", "return cmsgpack.unpack(string.char(0xc1))", "0"],
    ["EVAL", "return cmsgpack.pack()", "0"],
    ["EVAL", "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', 3))}", "0"],
]


def encode(argv):
    out = b"*%d\r\n" % len(argv)
    for a in argv:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def line(self, pos):
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                return i
            self.fill()

    def reply(self, pos=0):
        """Returns the end offset of the reply starting at pos."""
        end = self.line(pos)
        t = self.buf[pos:pos + 1]
        rest = self.buf[pos + 1:end]
        if t in (b"+", b"-", b":", b",", b"#", b"_", b"("):
            return end + 2
        if t in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return end + 2
            while len(self.buf) < end + 2 + n + 2:
                self.fill()
            return end + 2 + n + 2
        if t in (b"*", b"~", b">", b"%", b"|"):
            n = int(rest)
            if t in (b"%", b"|"):
                n *= 2
            p = end + 2
            for _ in range(max(n, 0)):
                p = self.reply(p)
            return p
        raise ValueError(self.buf[pos:])


def rust_bytes(b):
    s = ""
    for c in b:
        ch = chr(c)
        if ch == '"':
            s += '\\"'
        elif ch == "\\":
            s += "\\\\"
        elif 32 <= c < 127:
            s += ch
        elif ch == "\r":
            s += "\\r"
        elif ch == "\n":
            s += "\\n"
        else:
            s += "\\x%02x" % c
    return 'b"' + s + '"'


def main():
    port = int(sys.argv[1])
    sock = socket.create_connection(("127.0.0.1", port))
    r = Reader(sock)
    print("// @generated by tools/capture_script_goldens.py from a real Redis 7.0.15: do not edit.")
    print("/// (argv, exact reply bytes), run in order on one connection.")
    print("pub const CASES: &[(&[&str], &[u8])] = &[")
    cases = FUNCTION_CASES if sys.argv[2:] == ["functions"] else CASES
    for argv in cases:
        sock.sendall(encode(argv))
        end = r.reply(0)
        reply, r.buf = r.buf[:end], r.buf[end:]
        args = ", ".join(rust_bytes(a.encode())[1:] for a in argv)
        print("    (&[%s], %s)," % (args, rust_bytes(reply)))
    print("];")


main()
