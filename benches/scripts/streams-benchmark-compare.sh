#!/usr/bin/env bash
# Stream workloads with redis-benchmark against rediscover-server and a real redis-server, in
# one run on the same machine: requests/s and the ratio for each workload.
#
#   benches/scripts/streams-benchmark-compare.sh [requests] [clients] [rounds]
#
# Workloads (after a `SET k v` -P 1 reference): `XADD s * f v` (-P 1 and -P 16) on a fresh key, then, on a stream of 1000 entries,
# `XRANGE s - + COUNT 10`, `XREVRANGE s + - COUNT 10` and `XREAD COUNT 10 STREAMS s <id>`
# (-P 16). Each cell is the median of `rounds` runs, alternating the two servers run by run.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200000}
C=${2:-50}
R=${3:-5}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RD_PORT=${RD_PORT:-$(free_port)}
RS_PORT=${RS_PORT:-$(free_port)}

cargo build --release -q -p rediscover-testserver --bin rediscover-server
./target/release/rediscover-server --port "$RD_PORT" --save '' >/tmp/rediscover-streams-bench.log 2>&1 &
RD_PID=$!
redis-server --port "$RS_PORT" --save '' --appendonly no >/tmp/redis-streams-bench.log 2>&1 &
RS_PID=$!
trap 'kill $RD_PID $RS_PID 2>/dev/null || true' EXIT
for p in "$RD_PORT" "$RS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done

rps() { # port pipeline command...
  local port=$1 pipe=$2
  shift 2
  redis-benchmark -p "$port" -n "$N" -c "$C" -P "$pipe" -q "$@" 2>/dev/null \
    | tr '\r' '\n' | grep -E 'requests per second' | tail -1 | awk -F': ' '{print $2}' | awk '{print $1}'
}

prepare() { # port workload
  redis-cli -p "$1" del s >/dev/null
  if [ "$2" != xadd ]; then
    for i in $(seq 1000); do echo "XADD s $i-0 field value-$i"; done | redis-cli -p "$1" >/dev/null
  fi
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

cell() { # name workload pipeline command...
  local name=$1 w=$2 P=$3
  shift 3
  a=""; b=""
  for _ in $(seq "$R"); do
    prepare "$RD_PORT" "$w"; a="$a $(rps "$RD_PORT" "$P" "$@")"
    prepare "$RS_PORT" "$w"; b="$b $(rps "$RS_PORT" "$P" "$@")"
  done
  ma=$(echo $a | tr ' ' '\n' | median)
  mb=$(echo $b | tr ' ' '\n' | median)
  printf '%-28s %-4s %14s %14s %7.2f\n' "$name" "$P" "$ma" "$mb" "$(echo "$ma / $mb" | bc -l)"
}

printf '%-28s %-4s %14s %14s %7s\n' workload P rediscover redis ratio
# The same machine's baseline for a plain command: -P 1 is dominated by syscalls.
cell "SET k v (reference)" xadd 1 SET k v
cell "XADD s * f v" xadd 1 XADD s '*' f v
cell "XADD s * f v" xadd 16 XADD s '*' f v
cell "XRANGE s - + COUNT 10" read 16 XRANGE s - + COUNT 10
cell "XREVRANGE s + - COUNT 10" read 16 XREVRANGE s + - COUNT 10
cell "XREAD COUNT 10 STREAMS s 500" read 16 XREAD COUNT 10 STREAMS s 500-0
