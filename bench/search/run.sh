#!/usr/bin/env bash
# Reproduces the figures of BENCHMARKS.md, sections "Search" and "Import" (issue 2).
#
#   bench/search/run.sh [machine|nearest|postgis|import|http|httpload|pgbench|all] ...
#
# Generated data goes to $PUDO_BENCH_DIR (default /tmp/bench), never into the repository.
# PostgreSQL: $PUDO_BENCH_PG (default postgres://postgres@127.0.0.1:5432, trust auth); the
# script creates and uses only the databases pudo_bench_postgis and pudo_bench_import.
# Every load run is bounded in time and targets 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${PUDO_BENCH_DIR:-/tmp/bench}
PG=${PUDO_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PORT=${PUDO_BENCH_PORT:-8089}
RUNS=${PUDO_BENCH_RUNS:-5}
DURATION=${PUDO_BENCH_DURATION:-20}
# Load-generator threads for wrk and pgbench alike (32 connections either way): one thread
# leaves more of the 2 shared cores to the server under test, for both tools.
LOAD_THREADS=${PUDO_BENCH_LOAD_THREADS:-1}
PUDO=$ROOT/target/release/pudo
mkdir -p "$OUT"
cd "$ROOT"

# shellcheck source=bench/search/common.sh
source "$ROOT/bench/search/common.sh"

say() { printf '\n== %s\n' "$*"; }

# Every measurement waits for an idle machine first (see bench/search/quiet.sh).
wait_quiet() { "$ROOT/bench/search/quiet.sh"; }

# CPU time (user + system, in clock ticks) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Prints the cores a process kept busy: cpu_share NAME TICKS SECONDS.
cpu_share() {
  awk -v n="$1" -v t="$2" -v s="$3" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%s used %.2f of the 2 cores\n", n, t / hz / s }'
}

# The benchmark tools come from Debian (PostGIS from postgresql-15-postgis-3, as the issue asks).
tools() {
  local need=()
  command -v wrk >/dev/null || need+=(wrk)
  command -v hyperfine >/dev/null || need+=(hyperfine)
  command -v jq >/dev/null || need+=(jq)
  command -v pgbench >/dev/null || need+=(postgresql-contrib)
  [[ -d /usr/share/postgresql/15/extension && -n $(ls /usr/share/postgresql/15/extension/postgis.control 2>/dev/null) ]] ||
    need+=(postgresql-15-postgis-3)
  if ((${#need[@]})); then
    local sudo=; [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  fi
}

build() {
  if [[ ! -x $PUDO || -n ${PUDO_BENCH_REBUILD:-} ]]; then
    cargo build --release
  fi
  cargo bench --no-run >/dev/null 2>&1 || cargo bench --no-run
}

machine() {
  say machine
  date -u +%Y-%m-%dT%H:%MZ
  echo "nproc: $(nproc)"
  lscpu | head -20
  free -h | head -2
  uname -r
  rustc --version
  psql "$PG/postgres" -Atc "SELECT version()"
}

nearest() {
  say "nearest-10 in process (criterion)"
  wait_quiet
  cargo bench --bench nearest 2>&1 | grep -v '^\s*$' | tee "$OUT/nearest.log"
  for b in nearest10_cn_616k nearest10_open_at_cn_616k; do
    jq -r --arg b "$b" '"criterion \($b): mean \(.mean.point_estimate|floor) ns, median of samples \(.median.point_estimate|floor) ns"' \
      "target/criterion/$b/new/estimates.json"
  done
}

postgis() {
  say "PostGIS comparison (loads pudo_bench_postgis on first use)"
  wait_quiet
  cargo bench --bench postgis 2>&1 | grep -v '^\s*$' | tee "$OUT/postgis.log"
  say "PostGIS, one connection, prepared statement (pgbench -M prepared -c 1, 20 s)"
  wait_quiet
  rm -f "$OUT"/pgb1.*
  (cd "$OUT" && pgbench -n -M prepared -c 1 -j 1 -T "$DURATION" -l --log-prefix=pgb1 \
    -f "$ROOT/bench/search/knn.sql" "$PG/pudo_bench_postgis") | grep -E 'latency|tps|transactions actually'
  # Per-transaction log: the third field is the latency in microseconds.
  cat "$OUT"/pgb1.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "pgbench -c 1 per-query median %d us over %d queries\n", a[int(NR/2)+1], NR}'
}

import() {
  say "import of the CN network ($RUNS runs each)"
  "$PUDO" seed --country CN --out "$OUT/cn.csv"
  wait_quiet
  hyperfine --runs "$RUNS" --export-json "$OUT/import-sqlite.json" \
    --prepare "rm -f $OUT/import.db $OUT/import.db-wal $OUT/import.db-shm; $ROOT/bench/search/quiet.sh" \
    "env RUST_LOG=warn DATABASE_URL=sqlite://$OUT/import.db $PUDO import shops $OUT/cn.csv"
  jq -r '.results[0] | "SQLite import: median \(.median*100|round/100) s (runs: \([.times[]*100|round/100]|join(", ")) s)"' "$OUT/import-sqlite.json"
  wait_quiet
  hyperfine --runs "$RUNS" --export-json "$OUT/import-postgres.json" \
    --prepare "psql -q $PG/postgres -c 'DROP DATABASE IF EXISTS pudo_bench_import' -c 'CREATE DATABASE pudo_bench_import'; $ROOT/bench/search/quiet.sh" \
    "env RUST_LOG=warn DATABASE_URL=$PG/pudo_bench_import $PUDO import shops $OUT/cn.csv"
  jq -r '.results[0] | "PostgreSQL import: median \(.median*100|round/100) s (runs: \([.times[]*100|round/100]|join(", ")) s)"' "$OUT/import-postgres.json"
  say "peak memory of one import (SQLite, then PostgreSQL)"
  rm -f "$OUT"/import.db*
  wait_quiet
  env RUST_LOG=warn DATABASE_URL="sqlite://$OUT/import.db" /usr/bin/time -f "SQLite: %e s, max RSS %M KiB" \
    "$PUDO" import shops "$OUT/cn.csv"
  psql -q "$PG/postgres" -c 'DROP DATABASE IF EXISTS pudo_bench_import' -c 'CREATE DATABASE pudo_bench_import'
  wait_quiet
  env RUST_LOG=warn DATABASE_URL="$PG/pudo_bench_import" /usr/bin/time -f "PostgreSQL: %e s, max RSS %M KiB" \
    "$PUDO" import shops "$OUT/cn.csv"
}

# Starts the release `pudo serve` on the CN network in $OUT/serve.db (seeded on first use);
# serve_stop (bench/search/common.sh) ends it.
serve_release() {
  [[ -f $OUT/points.csv ]] || postgis
  if [[ ! -f $OUT/serve.db ]]; then
    echo "seeding $OUT/serve.db with the CN network"
    env RUST_LOG=warn DATABASE_URL="sqlite://$OUT/serve.db" "$PUDO" seed --country CN
  fi
  serve_start "$PUDO"
}

http() {
  say "HTTP under load: pudo serve on SQLite (CN network), wrk -t$LOAD_THREADS -c32 -d${DURATION}s"
  serve_release
  wrk -t"$LOAD_THREADS" -c32 -d5s -s bench/search/points.lua "http://127.0.0.1:$PORT" -- "$OUT/points.csv" >/dev/null
  wait_quiet
  local s0 s1 w0 w1 wrk_pid
  s0=$(ticks "$SERVER_PID")
  wrk -t"$LOAD_THREADS" -c32 -d"${DURATION}s" --latency -s bench/search/points.lua "http://127.0.0.1:$PORT" -- "$OUT/points.csv" \
    > "$OUT/wrk.log" &
  wrk_pid=$!
  sleep 0.5; w0=$(ticks "$wrk_pid"); sleep $((DURATION - 2)); w1=$(ticks "$wrk_pid")
  wait "$wrk_pid"
  s1=$(ticks "$SERVER_PID")
  cat "$OUT/wrk.log"
  cpu_share "pudo serve" $((s1 - s0)) "$DURATION"
  cpu_share "wrk" $((w1 - w0)) $((DURATION - 2))
  say "HTTP answers against the in-process index (every 20th query point)"
  cargo bench --bench postgis -- http "http://127.0.0.1:$PORT" 20 2>&1 | grep -E 'HTTP check|differs|error'
  serve_stop
}

# The same load as http (32 keep-alive connections, one request in flight each, cycling the
# query points) from the project's own generator, benches/httpload.rs: no per-request Lua,
# so less of the 2 shared cores goes to the load tool. Same server, warm-up and CPU windows.
httpload() {
  say "HTTP under load: pudo serve on SQLite (CN network), httpload -c32 -d${DURATION}s (one thread)"
  local bin
  bin=$(httpload_bin)
  local load=("$bin" --url "http://127.0.0.1:$PORT" --points "$OUT/points.csv" --connections 32)
  serve_release
  "${load[@]}" --seconds 5 --warmup 0 >/dev/null
  wait_quiet
  local s0 s1 h0 h1 load_pid rc=0
  s0=$(ticks "$SERVER_PID")
  "${load[@]}" --seconds "$DURATION" --warmup 0 > "$OUT/httpload.log" &
  load_pid=$!
  # A run that stops on an error leaves no /proc entry to read: report its exit status instead.
  sleep 0.5; h0=$(ticks "$load_pid" 2>/dev/null) || h0=0
  sleep $((DURATION - 2)); h1=$(ticks "$load_pid" 2>/dev/null) || h1=$h0
  wait "$load_pid" || rc=$?
  s1=$(ticks "$SERVER_PID")
  cat "$OUT/httpload.log"
  cpu_share "pudo serve" $((s1 - s0)) "$DURATION"
  cpu_share "httpload" $((h1 - h0)) $((DURATION - 2))
  serve_stop
  ((rc == 0)) || { echo "httpload failed (exit status $rc)" >&2; exit 1; }
}

pgbench_load() {
  say "PostGIS under load: pgbench -M prepared -c 32 -j $LOAD_THREADS -T $DURATION"
  [[ -f $OUT/points.csv ]] || postgis
  wait_quiet
  local p0 p1 pgb_pid
  "${PGBENCH_KNN[@]}" -T "$DURATION" "$PG/pudo_bench_postgis" > "$OUT/pgbench.log" 2>&1 &
  pgb_pid=$!
  sleep 0.5; p0=$(ticks "$pgb_pid"); sleep $((DURATION - 2)); p1=$(ticks "$pgb_pid")
  wait "$pgb_pid"
  grep -E 'latency|tps|transactions actually|failed' "$OUT/pgbench.log"
  cpu_share "pgbench" $((p1 - p0)) $((DURATION - 2))
}

tools
build
[[ $# -gt 0 ]] || set -- all
for step in "$@"; do
  case $step in
    machine) machine ;;
    nearest) nearest ;;
    postgis) postgis ;;
    import) import ;;
    http) http ;;
    httpload) httpload ;;
    pgbench) pgbench_load ;;
    all) machine; nearest; postgis; import; http; pgbench_load ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
