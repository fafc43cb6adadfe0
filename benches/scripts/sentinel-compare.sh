#!/usr/bin/env bash
# Sentinel failover benchmark: rediscover-server nodes and sentinels vs redis-server and
# redis-sentinel, same machine, same deployment. See benches/src/bin/sentinelbench.rs.
#
#   benches/scripts/sentinel-compare.sh [runs] [down-after-ms] [timers-factor] [flags...]
#
# Starts and kills its own processes on ports 17600-17612 (SENTINEL_BASE_PORT to change),
# working directories under /tmp/sentinelbench. Needs redis-server and redis-sentinel
# (Debian: apt-get install redis-server redis-sentinel).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
DOWN_AFTER=${2:-1000}
FACTOR=${3:-10}
shift $(( $# < 3 ? $# : 3 ))

cargo build --release -q -p rediscover-testserver --bin rediscover-server -p rediscover-benches
exec ./target/release/sentinelbench \
  --rediscover-server target/release/rediscover-server \
  --redis-server "$(command -v redis-server)" \
  --redis-sentinel "$(command -v redis-sentinel)" \
  --base-port "${SENTINEL_BASE_PORT:-17600}" \
  --runs "$RUNS" --down-after-ms "$DOWN_AFTER" --timers-factor "$FACTOR" \
  "$@"
