#!/usr/bin/env bash
# Server-side instructions per request, rediscover-server vs redis-server, counted by callgrind:
# a load-independent comparison (the counts do not move with whatever else the machine runs).
#
#   benches/scripts/callgrind-compare.sh [requests]
#
# Each workload runs on a fresh server under `valgrind --tool=callgrind` (one worker thread):
# an optional setup, 2,000 warm-up requests, then the counters are zeroed and `requests`
# (default 20000) counted ones run with `redis-benchmark -c 1 -P 16`. Prints Ir per request.
#
# valgrind 3.19 cannot read the debug info of binaries linked by rust-lld (Rust's default
# linker on x86_64 Linux since 1.90), so the server is built with the system linker into its
# own target directory. Needs valgrind, redis-server and redis-benchmark.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-20000}
PORT=${PORT:-16760}
TARGET=${CALLGRIND_TARGET_DIR:-target/callgrind}
RUSTFLAGS="-Clinker-features=-lld" CARGO_TARGET_DIR="$TARGET" \
  cargo build --release -q -p rediscover-testserver --bin rediscover-server
RD_BIN="$TARGET/release/rediscover-server"
RS_BIN=${RS_BIN:-redis-server}
SCRIPT="local v = redis.call('incr', KEYS[1]) return {v, ARGV[1]}"
set -f

# Each workload: setup options|setup command (may be empty), then the counted command line
# (redis-benchmark options first).
WORKLOADS=(
  "|;set k v"
  "|;evalsha @SHA@ 1 counter x"
  "|;xadd s * f v"
  "|;-r 100000 pfadd hll:__rand_int__ a b c"
  "|;-r 1000000 pfadd hll __rand_int__"
  "-n 200000 -r 1000000|pfadd hll __rand_int__;pfcount hll hll:1 hll:2"
  "|;-r 10000 geoadd geo 13.361389 38.115556 m:__rand_int__"
  "-n 20000 -r 10000|geoadd geo 13.361389 38.115556 m:__rand_int__;geosearch geo FROMLONLAT 15 37 BYRADIUS 200 km COUNT 10 ANY"
  "-n 20000 -r 10000|geoadd geo 13.361389 38.115556 m:__rand_int__;geosearch geo FROMLONLAT 13.36 38.11 BYRADIUS 1 km COUNT 1 ANY WITHCOORD WITHDIST"
)

# ir BIN SETUP COMMAND -> instructions per counted request
ir() {
  local bin=$1 setup=$2 cmd=$3 out
  out=$(mktemp -u /tmp/callgrind.XXXXXX)
  TOKIO_WORKER_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$bin" --port "$PORT" --save '' >/dev/null 2>&1 &
  local vp=$!
  for _ in $(seq 300); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
  local sha
  sha=$(redis-cli -p "$PORT" script load "$SCRIPT")
  cmd=${cmd//@SHA@/$sha}
  if [ -n "${setup#|}" ]; then
    # shellcheck disable=SC2086
    redis-benchmark -p "$PORT" -P 16 ${setup%%|*} -q ${setup#*|} >/dev/null 2>&1
  fi
  # shellcheck disable=SC2086
  redis-benchmark -p "$PORT" -n 2000 -c 1 -P 16 -q $cmd >/dev/null 2>&1
  callgrind_control -z "$vp" >/dev/null 2>&1
  # shellcheck disable=SC2086
  redis-benchmark -p "$PORT" -n "$N" -c 1 -P 16 -q $cmd >/dev/null 2>&1
  callgrind_control -d "$vp" >/dev/null 2>&1
  kill "$vp"
  wait "$vp" 2>/dev/null || true
  local total
  total=$(callgrind_annotate "$out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  rm -f "$out" "$out".*
  echo $((total / N))
}

printf '| workload | rediscover | Redis | ratio |\n| --- | ---: | ---: | ---: |\n'
for w in "${WORKLOADS[@]}"; do
  setup=${w%%;*}
  cmd=${w#*;}
  a=$(ir "$RD_BIN" "$setup" "$cmd")
  b=$(ir "$RS_BIN" "$setup" "$cmd")
  printf '| `%s` | %s | %s | %.2f |\n' "${cmd//@SHA@/<sha>}" "$a" "$b" "$(echo "$a / $b" | bc -l)"
done
