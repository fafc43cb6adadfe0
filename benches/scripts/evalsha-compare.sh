#!/usr/bin/env bash
# EVALSHA of a small script, rediscover-server vs redis-server in one run on one machine:
# `redis-benchmark -n N -P 16 evalsha <sha> 1 key arg` after SCRIPT LOAD on each server.
#
#   benches/scripts/evalsha-compare.sh [requests] [clients] [rounds]
#
# Each cell is the median of `rounds` runs, alternating the two servers run by run.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200000}
C=${2:-50}
R=${3:-5}
RD_PORT=${RD_PORT:-16430}
RS_PORT=${RS_PORT:-16431}
SCRIPT="local v = redis.call('incr', KEYS[1]) return {v, ARGV[1]}"

cargo build --release -q -p rediscover-testserver --bin rediscover-server
./target/release/rediscover-server --port "$RD_PORT" --save '' >/tmp/rediscover-evalsha.log 2>&1 &
RD_PID=$!
redis-server --port "$RS_PORT" --save '' --appendonly no >/tmp/redis-evalsha.log 2>&1 &
RS_PID=$!
trap 'kill $RD_PID $RS_PID 2>/dev/null || true' EXIT
for p in "$RD_PORT" "$RS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done
SHA=$(redis-cli -p "$RD_PORT" script load "$SCRIPT")
[ "$SHA" = "$(redis-cli -p "$RS_PORT" script load "$SCRIPT")" ]

rps() { # port pipeline
  redis-benchmark -p "$1" -n "$N" -c "$C" -P "$2" -q evalsha "$SHA" 1 counter x 2>/dev/null \
    | tr '\r' '\n' | grep -oE '[0-9.]+ requests per second' | tail -1 | awk '{print $1}'
}
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

printf '%-8s %-4s %14s %14s %7s\n' test P rediscover redis ratio
for P in 1 16; do
  a=""; b=""
  for _ in $(seq "$R"); do
    a="$a $(rps "$RD_PORT" "$P")"
    b="$b $(rps "$RS_PORT" "$P")"
  done
  ma=$(echo $a | tr ' ' '\n' | median)
  mb=$(echo $b | tr ' ' '\n' | median)
  printf '%-8s %-4s %14s %14s %7.2f\n' evalsha "$P" "$ma" "$mb" "$(echo "$ma / $mb" | bc -l)"
done
