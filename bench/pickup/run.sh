#!/usr/bin/env bash
# Handover confirmations and reservations per second through HTTP, with pgbench's default
# TPC-B-like tps on the same PostgreSQL server in the same run.
#   bench/pickup/run.sh [postgres|sqlite]     (env: C=64 HTTP connections, PG_C=32 pgbench
#                                              clients, D=15 s, PARCELS=160000: more than
#                                              15 s of handovers take, so none is a replay; POOL)
# The write path's settings pass through (PUDO_WRITE_PATH, PUDO_GROUP_COMMIT_MAX=1 for group
# commit off, …: docs/operations.md). Loopback only; every load run is bounded by -d / -T.
set -euo pipefail
BACKEND=${1:-postgres}
C=${C:-64}; PG_C=${PG_C:-32}; D=${D:-15}; PARCELS=${PARCELS:-160000}; SHOPS=200; THREADS=2
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
export WORK=${WORK:-/tmp/bench/pickup-$BACKEND}; rm -rf "$WORK"; mkdir -p "$WORK"
command -v wrk >/dev/null && command -v pgbench >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk postgresql-contrib >/dev/null; }
cargo build --release --manifest-path "$root/Cargo.toml" -q
PUDO=$root/target/release/pudo
PG="psql -q -h 127.0.0.1 -U postgres -d test"
export PUDO_JWT_SECRET=bench-secret-bench-secret-bench-secret-0001 PUDO_SEED=none RUST_LOG=warn
export PUDO_BIND=127.0.0.1:18280
# Pool: POOL if given; else 16 on PostgreSQL (one connection per two clients) and the
# service's default on SQLite (2: one writer at a time).
if [ -n "${POOL:-}" ]; then export PUDO_DB_POOL=$POOL
elif [ "$BACKEND" = postgres ]; then export PUDO_DB_POOL=16
else unset PUDO_DB_POOL; fi
if [ "$BACKEND" = postgres ]; then
  $PG -c "DROP DATABASE IF EXISTS pudo_pickup_bench" -c "CREATE DATABASE pudo_pickup_bench"
  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/pudo_pickup_bench
else
  export DATABASE_URL=sqlite://$WORK/pickup.db
fi
# pgbench's default TPC-B-like script on the same server, before and after the HTTP runs (the
# machine's speed drifts over minutes; the ratio uses the mean of the two).
pgbench_run() {
  echo "== pgbench TPC-B-like ($1), same server, $PG_C clients, ${D}s"
  $PG -c "DROP DATABASE IF EXISTS pudo_pgbench" -c "CREATE DATABASE pudo_pgbench"
  pgbench -q -i -s 10 -h 127.0.0.1 -U postgres pudo_pgbench >/dev/null 2>&1
  pgbench -c "$PG_C" -j $THREADS -T "$D" -h 127.0.0.1 -U postgres pudo_pgbench 2>/dev/null |
    grep -E 'tps|latency average' | tee "$WORK/pgbench-$1.txt"
}
python3 "$here/prepare.py" --work "$WORK" --shops $SHOPS --secret "$PUDO_JWT_SECRET"
$PUDO import shops "$WORK/shops.csv" 2>&1 | tail -1
$PUDO serve > "$WORK/serve.log" 2>&1 & SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf http://$PUDO_BIND/readyz >/dev/null && break; sleep 0.2; done
python3 "$here/prepare.py" --work "$WORK" --shops $SHOPS --secret "$PUDO_JWT_SECRET" --base "http://$PUDO_BIND" --parcels "$PARCELS"
pgbench_run "before"
echo "== handovers ($BACKEND, $C connections, ${D}s)"
THREADS=$THREADS wrk --latency -t$THREADS -c"$C" -d"${D}s" -s "$here/handover.lua" "http://$PUDO_BIND" | tee "$WORK/handover.txt"
if [ "$BACKEND" = postgres ]; then
  $PG -d pudo_pickup_bench -At -c "SELECT 'picked up (first confirmations): ' || count(*) FROM parcels WHERE state = 'picked_up'" | tee "$WORK/picked.txt"
else
  python3 -c "import sqlite3,sys; print('picked up (first confirmations):', sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM parcels WHERE state='picked_up'\").fetchone()[0])" "$WORK/pickup.db" | tee "$WORK/picked.txt"
fi
echo "== reservations ($BACKEND, $C connections, ${D}s)"
RUN=r$RANDOM SHOPS=$SHOPS wrk --latency -t$THREADS -c"$C" -d"${D}s" -s "$here/reserve.lua" "http://$PUDO_BIND" | tee "$WORK/reserve.txt"
kill $SERVER; wait $SERVER 2>/dev/null || true
pgbench_run "after"
echo "== ratios (HTTP requests/s over the mean of the two pgbench runs)"
D=$D python3 - "$WORK" <<'PY'
import re, sys, pathlib
w = pathlib.Path(sys.argv[1])
rps = lambda f: float(re.search(r"Requests/sec:\s+([0-9.]+)", (w / f).read_text()).group(1))
tps = [float(re.search(r"tps = ([0-9.]+)", (w / f).read_text()).group(1)) for f in ("pgbench-before.txt", "pgbench-after.txt")]
mean = sum(tps) / 2
p99 = lambda f: re.search(r"99%\s+(\S+)", (w / f).read_text()).group(1)
for name in ("handover", "reserve"):
    print(f"{name}: {rps(name + '.txt'):.0f}/s (p99 {p99(name + '.txt')}) over pgbench {mean:.0f} tps (runs {tps[0]:.0f}, {tps[1]:.0f}) = {rps(name + '.txt') / mean:.2f}")
# Confirmations beyond the prepared codes are replays (cheaper): the first confirmations count.
picked = int(re.search(r"(\d+)\s*$", (w / "picked.txt").read_text()).group(1))
print(f"first confirmations: {picked} in the handover run, {picked / float(__import__('os').environ.get('D', '15')):.0f}/s (a replay answered for the rest)")
PY
