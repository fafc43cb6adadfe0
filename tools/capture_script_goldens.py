#!/usr/bin/env python3
"""Captures the reply bytes of a real Redis 7.0.15 for the scripting golden test.

Usage: capture_script_goldens.py PORT > testserver/tests/scripting/goldens.rs
       capture_script_goldens.py PORT functions > testserver/tests/functions/goldens.rs
       capture_script_goldens.py PORT libs > testserver/tests/scripting/lib_goldens.rs
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
    # Lua <-> RESP conversions, one table kind at a time.
    ["EVAL", "return {verbatim_string={format='txt',string='hi'}}", "0"],
    ["EVAL", "return {verbatim_string={format='txt'}}", "0"],
    ["EVAL", "return {1, {2, {err='E x'}}, 'z'}", "0"],
    ["EVAL", "return {map={a={1,2}}}", "0"],
    ["EVAL", "return {map={}}", "0"],
    ["EVAL", "return {set={}}", "0"],
    ["EVAL", "return {map={a={set={x=true}}}}", "0"],
    ["EVAL", "return {big_number='1\\r\\n2'}", "0"],
    ["EVAL", "return {ok='a\\r\\nb'}", "0"],
    ["EVAL", "return {err=5}", "0"],
    ["EVAL", "return {ok=true, 1}", "0"],
    ["EVAL", "return {double='x'}", "0"],
    ["EVAL", "redis.call('set','f',0.1) return redis.call('get','f')", "0"],
    ["EVAL", "return redis.call('hgetall','h')", "0"],
    ["EVAL", "return redis.call('set','k',true)", "0"],
    ["EVAL", "return redis.pcall('set','k',{})", "0"],
    ["EVAL", "return redis.pcall('nosuch')", "0"],
    ["EVAL", "return {pcall(redis.call)}", "0"],
    ["EVAL", "return #KEYS + #ARGV", "0"],
    ["EVAL", "return {redis.call('ping'), redis.pcall('incr','h')}", "0"],
    ["EVAL", "return redis.call('smembers','s')", "0"],
    ["EVAL", "redis.setresp(3) return redis.call('hgetall','h')", "0"],
    ["EVAL", "redis.setresp(3) return {redis.call('get','nokey') == nil}", "0"],
]

# The bundled libraries (`libs`): struct.pack/unpack/size, cmsgpack.unpack_one/unpack_limit.
# Values are shown with %.17g so that no digit is lost in the reply.
STRUCT_SHOW = ("local function show(...) local t = {} for i = 1, select('#', ...) do local v = select(i, ...) "
     "if type(v) == 'number' then t[i] = string.format('%.17g', v) else t[i] = type(v) .. ':' .. tostring(v) end end return t end ")
STRUCT_PACK = [  # pack: returns the bytes
 "struct.pack('>i4', 1)", "struct.pack('<i4', 1)", "struct.pack('i', -2)", "struct.pack('>h', 258)",
 "struct.pack('<H', 65535)", "struct.pack('b', -1)", "struct.pack('B', 255)", "struct.pack('B', 256)",
 "struct.pack('b', 300.7)", "struct.pack('b', -300.7)",
 "struct.pack('>l', -2)", "struct.pack('>L', 2^63)", "struct.pack('>L', 2^64)", "struct.pack('>L', 1e30)",
 "struct.pack('>l', -1e30)", "struct.pack('>l', 0/0)", "struct.pack('>L', 0/0)", "struct.pack('>L', -1)",
 "struct.pack('>T', 5)", "struct.pack('>i3', 1193046)", "struct.pack('<i3', 1193046)", "struct.pack('>i9', -1)",
 "struct.pack('<I16', 1)", "struct.pack('>i32', -2)", "struct.pack('i0', 5)", "struct.pack('>I', 2^32 + 7)",
 "struct.pack('!4 b i4', 1, 2)", "struct.pack('!b d', 1, 0)", "struct.pack('!2 b h b i', 1, 2, 3, 4)",
 "struct.pack('b!8d', 1, 0)", "struct.pack('!8 b i3', 1, 2)", "struct.pack('!8 b I7', 1, 2)", "struct.pack('!8 bxbh', 1, 2, 3)",
 "struct.pack('!4 b c3 i', 1, 'abc', 2)", "struct.pack('!4 b s i', 1, 'ab', 2)", "struct.pack('! b l', 1, 2)",
 "struct.pack('x')", "struct.pack('bxb', 1, 2)", "struct.pack('>f', 1.5)", "struct.pack('<f', 1.5)",
 "struct.pack('>f', 0.1)", "struct.pack('>d', 0.1)", "struct.pack('<d', 0.1)", "struct.pack('>d', 1/0)",
 "struct.pack('>f', 1e300)", "struct.pack('c5', 'hello world')", "struct.pack('c0', 'abc')", "struct.pack('c', 'xyz')",
 "struct.pack('s', 'hi')", "struct.pack('s', 'a\\0b')", "struct.pack('c3', 123)", "struct.pack('b', '12')",
 "struct.pack('>i', ' 0x10 ')", "struct.pack(' < > b ', 1)", "struct.pack('')", "struct.pack('>d', '1e2')",
 "struct.pack('c0s', 'ab', 'cd')",
]
STRUCT_ERRORS = [  # errors (the whole EVAL reply)
 "return struct.pack('c5', 'ab')", "return struct.pack('bc5', 1, 'ab')", "return struct.pack('b', 'x')",
 "return struct.pack('b')", "return struct.pack('b', nil)", "return struct.pack('bb', 1, {})",
 "return struct.pack('z')", "return struct.pack('b5', 1)", "return struct.pack(nil)", "return struct.pack({})",
 "return struct.pack(12)", "return struct.pack('c99999999999', 'a')", "return struct.pack('i33', 1)",
 "return struct.pack('!3')", "return struct.pack('!0')", "return struct.pack('s')", "return struct.pack('c', true)",
 "return struct.pack()", "return struct.pack('f', 'abc')",
 "return struct.size('c0')", "return struct.size('s')", "return struct.size('!3')", "return struct.size('#')",
 "return struct.size('i40')", "return struct.size()", "return struct.size('i99999999999')",
 "return struct.unpack('c0', 'abc')", "return struct.unpack('b', 'abc', 0)", "return struct.unpack('b', 'abc', 4)",
 "return struct.unpack('b', 'abc', -1)", "return struct.unpack('b', 'abc', 'x')", "return struct.unpack('bc0', '\\9abc')",
 "return struct.unpack('s', 'abc')", "return struct.unpack('z', 'abc')", "return struct.unpack('b')",
 "return struct.unpack(nil, 'a')", "return struct.unpack('i4', 'abc')", "return struct.unpack('bc0', 'aabc')",
 "return struct.unpack('d', '1234567')", "return struct.unpack('!3', 'a')",
 "return struct.unpack('c1c0', 'xabcd')",
]
STRUCT_UNPACK = [  # unpack: shown
 "struct.unpack('>i4', '\\0\\0\\1\\0')", "struct.unpack('<i4', '\\0\\0\\1\\0')", "struct.unpack('b', '\\255')",
 "struct.unpack('B', '\\255')", "struct.unpack('>h', '\\255\\254')", "struct.unpack('<H', '\\255\\254')",
 "struct.unpack('l', string.rep('\\255', 8))", "struct.unpack('L', string.rep('\\255', 8))",
 "struct.unpack('>L', '\\128' .. string.rep('\\0', 7))", "struct.unpack('>l', '\\128' .. string.rep('\\0', 7))",
 "struct.unpack('i9', string.rep('\\255', 9))", "struct.unpack('I9', string.rep('\\255', 9))",
 "struct.unpack('>i9', '\\1' .. string.rep('\\0', 8))", "struct.unpack('<i9', string.rep('\\0', 8) .. '\\128')",
 "struct.unpack('>i16', string.rep('\\255', 16))", "struct.unpack('>i16', string.rep('\\0', 15) .. '\\128')",
 "struct.unpack('>i3', '\\255\\255\\255')", "struct.unpack('>i3', '\\127\\255\\255')", "struct.unpack('<I3', '\\1\\2\\3')",
 "struct.unpack('i0', '')", "struct.unpack('I0', 'x')", "struct.unpack('>i32', string.rep('\\255', 32))",
 "struct.unpack('b', 'abc', 2)", "struct.unpack('b', 'abc', 3)", "struct.unpack('b', 'abc', '2')", "struct.unpack('b', 'abc', 1.9)",
 "struct.unpack('b', 'abc', nil)",
 "struct.unpack('bc0', '\\3abcdef')", "struct.unpack('c1c0', '3abcd')", "struct.unpack('bc0b', '\\0z')",
 "struct.unpack('s', 'ab\\0cd')", "struct.unpack('ss', 'a\\0b\\0')", "struct.unpack('s', '\\0')",
 "struct.unpack('bxb', 'a b')", "struct.unpack('>f', struct.pack('>f', 0.1))", "struct.unpack('<d', struct.pack('<d', 0.1))",
 "struct.unpack('>f', '\\127\\192\\0\\0')", "struct.unpack('>d', '\\127\\240\\0\\0\\0\\0\\0\\0')",
 "struct.unpack('!4 b i4', struct.pack('!4 b i4', 1, -2))", "struct.unpack('!8 b i3 b', struct.pack('!8 b i3 b', 1, 2, 3))",
 "struct.unpack('c3', 'abcdef', 4)", "struct.unpack('', 'abc')", "struct.unpack('', 'abc', 9)", "struct.unpack('b>', 'a')",
 "struct.unpack('c2', 12345)", "struct.unpack('c', 'xy')", "struct.unpack('>T', '\\0\\0\\0\\0\\0\\0\\1\\0')",
 "select('#', struct.unpack(string.rep('b', 7990), string.rep('a', 7990)))",
]
STRUCT_SIZE = ["struct.size('b h i l d f T x')", "struct.size('!bd')", "struct.size('!4 bd')", "struct.size('c10')",
     "struct.size('z')", "struct.size('b5')", "struct.size('>')", "struct.size('!8 b i3 h')", "struct.size('')",
     "struct.size('!2 b I16')", "struct.size(12)", "struct.size('c')"]
STRUCT_SCRIPTS = (
    ["return " + p for p in STRUCT_PACK]
    + STRUCT_ERRORS
    + [STRUCT_SHOW + "return show(" + u + ")" for u in STRUCT_UNPACK + STRUCT_SIZE]
)

MSGPACK_SHOW = ("local function show(...) local t = {} for i = 1, select('#', ...) do local v = select(i, ...) "
     "if type(v) == 'number' then t[i] = string.format('%.17g', v) elseif type(v) == 'table' then t[i] = 'table:' .. cjson.encode(v) else t[i] = type(v) .. ':' .. tostring(v) end end return t end "
     "local s = cmsgpack.pack(1, 'two', {3, 4}, {a = 5}, nil, true, 0.5) ")
MSGPACK_UNPACK = [
 "cmsgpack.unpack_one(s)", "cmsgpack.unpack_one(s, 0)", "cmsgpack.unpack_one(s, 1)", "cmsgpack.unpack_one(s, 5)",
 "cmsgpack.unpack_one(s, 8)", "cmsgpack.unpack_one(s, 13)", "cmsgpack.unpack_one(s, 14)", "cmsgpack.unpack_one(s, 15)",
 "cmsgpack.unpack_one(s, '1')", "cmsgpack.unpack_one(s, 1.9)", "cmsgpack.unpack_one(s, nil)", "cmsgpack.unpack_one(s, #s)",
 "cmsgpack.unpack_limit(s, 2)", "cmsgpack.unpack_limit(s, 2, 1)", "cmsgpack.unpack_limit(s, 100)", "cmsgpack.unpack_limit(s, 0)",
 "cmsgpack.unpack_limit(s, 0, 0)", "cmsgpack.unpack_limit(s, 0, 1)", "cmsgpack.unpack_limit(s, 3, 5)", "cmsgpack.unpack_limit(s, 1, #s)",
 "cmsgpack.unpack_limit(s, '2')", "cmsgpack.unpack_limit(s, 2.5, 0)", "cmsgpack.unpack_one('')", "cmsgpack.unpack_limit('', 1)",
 "cmsgpack.unpack_limit('', 0)", "cmsgpack.unpack(123)", "cmsgpack.unpack_one(5)", "cmsgpack.unpack('')",
 "cmsgpack.unpack_one(s, 0, 'ignored')", "cmsgpack.unpack_limit(s, 1, 0, 'ignored')",
]
MSGPACK_ERRORS = [
 "return cmsgpack.unpack_one(s, -1)", "return cmsgpack.unpack_one(s, #s + 1)", "return cmsgpack.unpack_one(s, 100)",
 "return cmsgpack.unpack_limit(s, -1)", "return cmsgpack.unpack_limit(s, -3, 2)", "return cmsgpack.unpack_limit(s, 1, 99)",
 "return cmsgpack.unpack_limit(s)", "return cmsgpack.unpack_limit(s, 'x')", "return cmsgpack.unpack_one(s, 'x')",
 "return cmsgpack.unpack_limit(s, 1, {})", "return cmsgpack.unpack_one()", "return cmsgpack.unpack_one(nil)",
 "return cmsgpack.unpack_limit(nil, 1)", "return cmsgpack.unpack_limit()", "return cmsgpack.unpack()", "return cmsgpack.unpack({})",
 "return cmsgpack.unpack_one(string.char(0xcd, 1))", "return cmsgpack.unpack_one(string.char(1, 0xc1), 1)",
 "return cmsgpack.unpack_limit(string.char(1, 2, 0xc1), 2)", "return cmsgpack.unpack_limit(string.char(1, 2, 0xc1), 3)",
 "return cmsgpack.unpack_one(s, 2)",
]
MSGPACK_SCRIPTS = [MSGPACK_SHOW + "return show(" + u + ")" for u in MSGPACK_UNPACK] + [
    MSGPACK_SHOW + e for e in MSGPACK_ERRORS
]

LIB_CASES = [["EVAL", script, "0"] for script in STRUCT_SCRIPTS + MSGPACK_SCRIPTS]


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
    cases = {"functions": FUNCTION_CASES, "libs": LIB_CASES}.get(sys.argv[2] if sys.argv[2:] else "", CASES)
    for argv in cases:
        sock.sendall(encode(argv))
        end = r.reply(0)
        reply, r.buf = r.buf[:end], r.buf[end:]
        args = ", ".join(rust_bytes(a.encode())[1:] for a in argv)
        print("    (&[%s], %s)," % (args, rust_bytes(reply)))
    print("];")


main()
