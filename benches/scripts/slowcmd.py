#!/usr/bin/env python3
"""Server CPU to parse a 1M-argument command sent in 4 KiB pieces. Usage: slowcmd.py PORT PID"""
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick
args = [b"RPUSH", b"biglist"] + [str(i).encode() for i in range(1_000_000)]
payload = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
before = cpu()
for i in range(0, len(payload), 4096):
    s.sendall(payload[i:i + 4096])
    time.sleep(0.00005)
print(s.recv(100).strip(), end=" ")
s.sendall(b"DEL biglist\r\n"); s.recv(100)
print(f"server CPU {cpu() - before:.2f} s for {len(payload)} bytes")
