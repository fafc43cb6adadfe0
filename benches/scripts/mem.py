#!/usr/bin/env python3
"""RSS of a server holding a 1M-element list, a 200k-field hash and a 200k-member zset; then after
deleting them, and after a 100 MB value is set and deleted. Usage: mem.py PORT PID"""
import socket, sys, time

port, pid = int(sys.argv[1]), int(sys.argv[2])

def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)

s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
def readreply():
    line = f.readline()
    t = line[:1]
    if t in b"+-:": return line
    if t == b"$":
        n = int(line[1:])
        if n >= 0: f.read(n + 2)
        return line
    if t == b"*":
        n = int(line[1:])
        for _ in range(max(n, 0)): readreply()
        return line
    raise Exception(line)
def pipeline(cmds):
    s.sendall(b"".join(cmds))
    for _ in cmds: readreply()

pipeline([enc("FLUSHALL")])
time.sleep(0.5)
empty = rss()
batch = []
for i in range(1_000_000):
    batch.append(enc("RPUSH", "list", f"element:{i}"))
    if len(batch) == 1000: pipeline(batch); batch = []
for i in range(200_000):
    batch.append(enc("HSET", "hash", f"field:{i}", f"value:{i}"))
    if len(batch) == 1000: pipeline(batch); batch = []
for i in range(200_000):
    batch.append(enc("ZADD", "zset", i * 1.5, f"member:{i}"))
    if len(batch) == 1000: pipeline(batch); batch = []
if batch: pipeline(batch)
time.sleep(0.5)
loaded = rss()
pipeline([enc("FLUSHALL")])
time.sleep(1.0)
flushed = rss()
big = b"v" * (100 * 1024 * 1024)
pipeline([enc("SET", "big", big)])
time.sleep(0.5)
withbig = rss()
pipeline([enc("DEL", "big")])
time.sleep(1.0)
afterdel = rss()
print(f"empty {empty:.1f} MB, loaded {loaded:.1f} MB, after FLUSHALL {flushed:.1f} MB, with 100MB value {withbig:.1f} MB, after DEL {afterdel:.1f} MB")
