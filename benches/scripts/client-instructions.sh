#!/bin/bash
# Client instructions per operation, counted by callgrind: unlike ops/sec or CPU time, the
# count does not move with the load of a shared machine, so it shows what a client change
# costs. Each loadgen binary runs the workload twice under callgrind (40k and 120k operations,
# rediscover only); the difference divided by 80k removes startup and prefill.
#
#   benches/scripts/client-instructions.sh HOST:PORT LOADGEN [LOADGEN...] -- LOADGEN-ARGS
#   benches/scripts/client-instructions.sh 127.0.0.1:6379 target/release/loadgen \
#       /tmp/baseline/target/release/loadgen -- --inflight 64 --pipeline 1 --cmd get
set -euo pipefail
addr=$1; shift
bins=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do bins+=("$1"); shift; done
[ $# -gt 0 ] && shift
for bin in "${bins[@]}"; do
  declare -A count
  for ops in 40000 120000; do
    log=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --addr "$addr" --ops $ops \
      --rounds 1 --clients rediscover "$@" > /dev/null 2> "$log"
    count[$ops]=$(grep -oE 'Collected : [0-9]+' "$log" | grep -oE '[0-9]+')
    rm -f "$log"
  done
  echo "$bin $*: $(( (${count[120000]} - ${count[40000]}) / 80000 )) instructions/op"
done
