#!/usr/bin/env bash
# Runs redis-benchmark against rediscover-server and a real redis-server, one after the other in
# one run, on the same machine, and prints requests/s and the ratio for each workload.
#
#   benches/scripts/redis-benchmark-compare.sh [requests] [clients] [rounds]
#
# Each cell is the median of `rounds` runs (default 5), alternating the two servers run by run,
# so load from anything else on the machine hits both alike.
#
# Needs redis-server and redis-benchmark (Debian: apt-get install redis-server redis-tools).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200000}
C=${2:-50}
R=${3:-5}
RD_PORT=${RD_PORT:-16420}
RS_PORT=${RS_PORT:-16421}

cargo build --release -q -p rediscover-testserver --bin rediscover-server
./target/release/rediscover-server --port "$RD_PORT" --save '' >/tmp/rediscover-bench.log 2>&1 &
RD_PID=$!
redis-server --port "$RS_PORT" --save '' --appendonly no >/tmp/redis-bench.log 2>&1 &
RS_PID=$!
trap 'kill $RD_PID $RS_PID 2>/dev/null || true' EXIT
for p in "$RD_PORT" "$RS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done

rps() { # port pipeline test
  redis-benchmark -p "$1" -t "$3" -n "$N" -c "$C" -P "$2" -q 2>/dev/null \
    | tr '\r' '\n' | grep -E "^$(echo "$3" | tr a-z A-Z):" | tail -1 | awk '{print $2}'
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

printf '%-6s %-4s %14s %14s %7s\n' test P rediscover redis ratio
for P in 1 16; do
  for t in set get; do
    a=""; b=""
    for _ in $(seq "$R"); do
      a="$a $(rps "$RD_PORT" "$P" "$t")"
      b="$b $(rps "$RS_PORT" "$P" "$t")"
    done
    ma=$(echo $a | tr ' ' '\n' | median)
    mb=$(echo $b | tr ' ' '\n' | median)
    printf '%-6s %-4s %14s %14s %7.2f\n' "$t" "$P" "$ma" "$mb" "$(echo "$ma / $mb" | bc -l)"
  done
done
