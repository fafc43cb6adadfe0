#!/usr/bin/env bash
# PFADD / PFCOUNT and GEOADD / GEOSEARCH with redis-benchmark (-n 200000 -P 16) against
# rediscover-server and a real redis-server, alternating the two servers round by round in one
# run; prints the median requests/s of each and the ratio.
#
#   benches/scripts/hll-geo-benchmark-compare.sh [rounds]
#
# Needs redis-server and redis-benchmark (Debian: apt-get install redis-server redis-tools).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
RD_PORT=${RD_PORT:-16430}
RS_PORT=${RS_PORT:-16431}

# RD_BIN: an already built server (skips the build).
RD_BIN=${RD_BIN:-}
if [ -z "$RD_BIN" ]; then
  cargo build --release -q -p rediscover-testserver --bin rediscover-server
  RD_BIN=./target/release/rediscover-server
fi
"$RD_BIN" --port "$RD_PORT" --save '' >/tmp/rediscover-hllgeo.log 2>&1 &
RD_PID=$!
redis-server --port "$RS_PORT" --save '' --appendonly no >/tmp/redis-hllgeo.log 2>&1 &
RS_PID=$!
trap 'kill $RD_PID $RS_PID 2>/dev/null || true' EXIT
for p in "$RD_PORT" "$RS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done

# Each workload: the command line, then redis-benchmark options (-r for __rand_int__).
TESTS=(
  "PFADD hll __rand_int__|-r 1000000"
  "PFADD hll:__rand_int__ a b c|-r 100000"
  "PFCOUNT hll|"
  "PFCOUNT hll hll:1 hll:2|"
  "GEOADD geo 13.361389 38.115556 m:__rand_int__|-r 10000"
  "GEOSEARCH geo FROMLONLAT 15 37 BYRADIUS 200 km COUNT 10 ANY|"
  "GEOSEARCH geo FROMLONLAT 13.36 38.11 BYRADIUS 1 km COUNT 1 ANY WITHCOORD WITHDIST|"
)

rps() { # port options command...
  local port=$1 opts=$2
  shift 2
  # shellcheck disable=SC2086
  redis-benchmark -p "$port" -n 200000 -P 16 $opts -q "$@" 2>/dev/null | tr '\r' '\n' \
    | grep 'requests per second' | tail -1 | sed 's/.*: \([0-9.]*\) requests.*/\1/'
}

declare -A RESULTS
for round in $(seq "$ROUNDS"); do
  for side in rd rs; do
    port=$RD_PORT
    [ "$side" = rs ] && port=$RS_PORT
    redis-cli -p "$port" flushall >/dev/null
    for i in "${!TESTS[@]}"; do
      t=${TESTS[$i]}
      # shellcheck disable=SC2086
      RESULTS[$side,$i]+="$(rps "$port" "${t##*|}" ${t%%|*}) "
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '| workload | rediscover-server req/s | redis-server req/s | ratio |\n| --- | ---: | ---: | ---: |\n'
for i in "${!TESTS[@]}"; do
  rd=$(echo "${RESULTS[rd,$i]}" | median)
  rs=$(echo "${RESULTS[rs,$i]}" | median)
  printf '| `%s` | %.0f | %.0f | %.2f |\n' "${TESTS[$i]%%|*}" "$rd" "$rs" "$(echo "$rd / $rs" | bc -l)"
done
