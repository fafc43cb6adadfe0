#!/usr/bin/env bash
# Runs redis-py's own test suite against rediscover-server and against a real redis-server,
# then prints pass/fail/skip counts for both and the tests whose outcome differs.
#
# Usage: tools/redis-py-suite.sh <redis-py checkout> [sync|async|all]
#
# Fetches nothing. Needs: the redis-py checkout (tag matching the installed `redis` package,
# e.g. v5.3.1), its test dependencies installed (pytest, pytest-asyncio<0.24, pytest-cov,
# pytest-timeout, mock, ujson, numpy, redis-entraid), a built rediscover-server
# (`cargo build --release -p rediscover-testserver --bin rediscover-server`), and redis-server.
#
# Environment:
#   REDISCOVER_SERVER        our binary (default: target/release/rediscover-server)
#   REDISCOVER_REAL_REDIS_SERVER  real binary (default: /usr/bin/redis-server)
#   OUT                      directory for logs and junit files (default: a new mktemp dir)
#   PROTOCOL                 RESP version the clients speak, 2 (default) or 3
#   PYTEST_EXTRA             extra pytest arguments (e.g. "-k test_xadd")
set -euo pipefail

checkout=${1:?usage: $0 <redis-py checkout> [sync|async|all]}
which=${2:-sync}
checkout=$(cd "$checkout" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
ours=${REDISCOVER_SERVER:-$repo/target/release/rediscover-server}
real=${REDISCOVER_REAL_REDIS_SERVER:-/usr/bin/redis-server}
out=${OUT:-$(mktemp -d /tmp/redis-py-suite.XXXXXX)}
mkdir -p "$out"

[ -x "$ours" ] || { echo "no rediscover-server at $ours (build it first)" >&2; exit 2; }
[ -x "$real" ] || { echo "no redis-server at $real" >&2; exit 2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# start <name> <binary>: starts the server in its own directory; sets PORT and SERVER_PID.
start() {
    local name=$1 bin=$2 dir
    PORT=$(free_port)
    dir=$out/$name-data
    mkdir -p "$dir"
    "$bin" --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --enable-debug-command yes --dir "$dir" >"$out/$name-server.log" 2>&1 &
    SERVER_PID=$!
    pids+=("$SERVER_PID")
    for _ in $(seq 100); do
        if python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$PORT),0.2); s.sendall(b'PING\r\n'); sys.exit(0 if s.recv(16).startswith(b'+PONG') else 1)" 2>/dev/null; then
            return
        fi
        sleep 0.1
    done
    echo "$name did not start, see $out/$name-server.log" >&2
    exit 2
}

markers='not onlycluster and not redismod and not graph and not ssl and not cp_integration'
sync_args=(tests/ --ignore=tests/test_asyncio --ignore=tests/test_cluster.py
    --ignore=tests/test_sentinel.py --ignore=tests/test_ssl.py --ignore=tests/test_auth
    --ignore=tests/test_bloom.py --ignore=tests/test_json.py --ignore=tests/test_search.py
    --ignore=tests/test_timeseries.py --ignore=tests/test_graph.py)
async_args=(tests/test_asyncio --ignore=tests/test_asyncio/test_cluster.py
    --ignore=tests/test_asyncio/test_sentinel.py
    --ignore=tests/test_asyncio/test_sentinel_managed_connection.py
    --ignore=tests/test_asyncio/test_bloom.py --ignore=tests/test_asyncio/test_json.py
    --ignore=tests/test_asyncio/test_search.py --ignore=tests/test_asyncio/test_timeseries.py
    --ignore=tests/test_asyncio/test_graph.py)

# run <name> <port> <part>: one pytest run, junit written to $out/<name>-<part>.xml.
run() {
    local name=$1 port=$2 part=$3 args
    if [ "$part" = sync ]; then args=("${sync_args[@]}"); else args=("${async_args[@]}"); fi
    (cd "$checkout" && python3 -m pytest "${args[@]}" -p no:cacheprovider -o addopts= -q \
        -m "$markers" --redis-url="redis://127.0.0.1:$port/0" --protocol="${PROTOCOL:-2}" \
        --junit-xml="$out/$name-$part.xml" ${PYTEST_EXTRA:-} >"$out/$name-$part.txt" 2>&1) || true
}

parts=()
case $which in
    sync) parts=(sync) ;;
    async) parts=(async) ;;
    all) parts=(sync async) ;;
    *) echo "second argument: sync, async or all" >&2; exit 2 ;;
esac

for name in real ours; do
    if [ $name = real ]; then bin=$real; else bin=$ours; fi
    for part in "${parts[@]}"; do
        # A fresh server for every run: tests leave configuration and ACL users behind.
        start "$name" "$bin"
        run "$name" "$PORT" "$part"
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    done
done

python3 - "$out" "${parts[@]}" <<'EOF'
import sys, xml.etree.ElementTree as ET
out, parts = sys.argv[1], sys.argv[2:]
def outcomes(name, part):
    res = {}
    for case in ET.parse(f"{out}/{name}-{part}.xml").getroot().iter("testcase"):
        key = f"{case.get('classname')}::{case.get('name')}"
        kids = {c.tag for c in case}
        res[key] = ("failed" if kids & {"failure", "error"} else
                    "skipped" if "skipped" in kids else "passed")
    return res
for part in parts:
    real, ours = outcomes("real", part), outcomes("ours", part)
    for label, res in (("redis-server", real), ("rediscover-server", ours)):
        counts = {k: sum(1 for v in res.values() if v == k) for k in ("passed", "failed", "skipped")}
        print(f"{part:5} {label:18} passed={counts['passed']} failed={counts['failed']} skipped={counts['skipped']}")
    worse = sorted(k for k, v in real.items() if v == "passed" and ours.get(k) != "passed")
    better = sorted(k for k, v in ours.items() if v == "passed" and real.get(k) != "passed")
    print(f"{part:5} pass on redis-server only: {len(worse)}")
    for k in worse:
        print(f"    {k}  ({ours.get(k, 'missing')})")
    print(f"{part:5} pass on rediscover-server only: {len(better)}")
    for k in better:
        print(f"    {k}  ({real.get(k, 'missing')})")
print(f"logs and junit files: {out}")
EOF
