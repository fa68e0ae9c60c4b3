#!/usr/bin/env bash
# Handover confirmations and reservations per second through HTTP, with pgbench's default
# TPC-B-like tps on the same PostgreSQL server in the same run.
#   bench/pickup/run.sh [postgres|sqlite]     (env: C=32 clients, D=15 s, PARCELS=40000)
# Loopback only; every load run is bounded by -d / -T.
set -euo pipefail
BACKEND=${1:-postgres}
C=${C:-32}; D=${D:-15}; PARCELS=${PARCELS:-40000}; SHOPS=200; THREADS=2
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
export WORK=${WORK:-/tmp/bench/pickup-$BACKEND}; rm -rf "$WORK"; mkdir -p "$WORK"
command -v wrk >/dev/null && command -v pgbench >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk postgresql-contrib >/dev/null; }
cargo build --release --manifest-path "$root/Cargo.toml" -q
PUDO=$root/target/release/pudo
PG="psql -q -h 127.0.0.1 -U postgres -d test"
export PUDO_JWT_SECRET=bench-secret-bench-secret-bench-secret-0001 PUDO_SEED=none RUST_LOG=warn
export PUDO_BIND=127.0.0.1:18280 PUDO_DB_POOL=${POOL:-16}
if [ "$BACKEND" = postgres ]; then
  $PG -c "DROP DATABASE IF EXISTS pudo_pickup_bench" -c "CREATE DATABASE pudo_pickup_bench"
  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/pudo_pickup_bench
else
  export DATABASE_URL=sqlite://$WORK/pickup.db
fi
python3 "$here/prepare.py" --work "$WORK" --shops $SHOPS --secret "$PUDO_JWT_SECRET"
$PUDO import shops "$WORK/shops.csv" 2>&1 | tail -1
$PUDO serve > "$WORK/serve.log" 2>&1 & SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf http://$PUDO_BIND/readyz >/dev/null && break; sleep 0.2; done
python3 "$here/prepare.py" --work "$WORK" --shops $SHOPS --secret "$PUDO_JWT_SECRET" --base "http://$PUDO_BIND" --parcels "$PARCELS"
echo "== handovers ($BACKEND, $C connections, ${D}s)"
THREADS=$THREADS wrk -t$THREADS -c"$C" -d"${D}s" -s "$here/handover.lua" "http://$PUDO_BIND" | tee "$WORK/handover.txt"
if [ "$BACKEND" = postgres ]; then
  $PG -d pudo_pickup_bench -At -c "SELECT 'picked up (first confirmations): ' || count(*) FROM parcels WHERE state = 'picked_up'"
else
  python3 -c "import sqlite3,sys; print('picked up (first confirmations):', sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM parcels WHERE state='picked_up'\").fetchone()[0])" "$WORK/pickup.db"
fi
echo "== reservations ($BACKEND, $C connections, ${D}s)"
RUN=r$RANDOM SHOPS=$SHOPS wrk -t$THREADS -c"$C" -d"${D}s" -s "$here/reserve.lua" "http://$PUDO_BIND" | tee "$WORK/reserve.txt"
kill $SERVER; wait $SERVER 2>/dev/null || true
echo "== pgbench TPC-B-like, same server, $C clients, ${D}s"
$PG -c "DROP DATABASE IF EXISTS pudo_pgbench" -c "CREATE DATABASE pudo_pgbench"
pgbench -q -i -s 10 -h 127.0.0.1 -U postgres pudo_pgbench >/dev/null 2>&1
pgbench -c "$C" -j $THREADS -T "$D" -h 127.0.0.1 -U postgres pudo_pgbench 2>/dev/null | grep -E 'tps|latency average'
