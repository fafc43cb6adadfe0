#!/usr/bin/env bash
# Replication benchmark: rediscover-server master + replica vs redis-server master + replica,
# same machine, same settings. See benches/src/bin/replbench.rs for what is measured.
#
#   benches/scripts/repl-compare.sh [runs] [mb] [lag-secs] [extra replbench flags...]
#
# Starts and kills its own servers on ports 17300-17399 (REPL_BASE_PORT to change), working
# directories under /tmp/replbench. Needs redis-server (Debian: apt-get install redis-server).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
MB=${2:-100}
SECS=${3:-5}
shift $(( $# < 3 ? $# : 3 ))

cargo build --release -q -p rediscover-testserver --bin rediscover-server -p rediscover-benches
exec ./target/release/replbench \
  --rediscover-server target/release/rediscover-server \
  --redis-server "$(command -v redis-server)" \
  --base-port "${REPL_BASE_PORT:-17300}" \
  --runs "$RUNS" --mb "$MB" --value-size 500 \
  --lag-secs "$SECS" --conns 50 --depth 16 --lag-value-size 64 --probe-interval-ms 5 \
  "$@"
