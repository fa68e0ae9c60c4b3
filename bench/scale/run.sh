#!/usr/bin/env bash
# Throughput with 1, 2 and 4 `pudo serve` instances on one PostgreSQL, same total client
# concurrency, several runs per step, medians; every invariant of issue 3 checked after each
# order run. Prints a Markdown table for BENCHMARKS.md § Multi-instance.
#
#   bench/scale/run.sh                 (env: STEPS="1 2 4", RUNS=3, C=32 clients, D=20 s per
#                                       order run, SEARCH_D=10 s per search run, SEED=ES,
#                                       WORKERS=2 HTTP workers and POOL=8 connections per
#                                       instance, PROFILE=release|debug)
#   STEPS="1 2" RUNS=1 D=3 SEARCH_D=2 PROFILE=debug bench/scale/run.sh    # a smoke run
#
# The load tool (benches/scale.rs) is the test's own mixed load (tests/api/load): every
# request goes to the next instance in turn, so each step of an order may be answered by a
# different instance. Each run gets a fresh copy of a template database holding the seed
# network, because the invariant check compares the whole database with the run's answers.
# Loopback only; every run is bounded by D / SEARCH_D; instances are stopped on exit.
set -euo pipefail
STEPS=${STEPS:-"1 2 4"}; RUNS=${RUNS:-3}; C=${C:-32}; D=${D:-20}; SEARCH_D=${SEARCH_D:-10}
SEED=${SEED:-ES}; PROFILE=${PROFILE:-release}; BASE_PORT=${BASE_PORT:-18300}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
WORK=${WORK:-/tmp/bench/scale}; rm -rf "$WORK"; mkdir -p "$WORK"
PGHOST=${PGHOST:-127.0.0.1}; PGUSER=${PGUSER:-postgres}
PG="psql -q -X -v ON_ERROR_STOP=1 -h $PGHOST -U $PGUSER -d postgres"
DB_BASE="postgres://$PGUSER@$PGHOST:5432"

case "$PROFILE" in
  release) build=(cargo build --release -q); tool_build=(cargo bench --no-run -q); PUDO=$root/target/release/pudo ;;
  debug) build=(cargo build -q); tool_build=(cargo build -q); PUDO=$root/target/debug/pudo ;;
  *) echo "PROFILE must be release or debug" >&2; exit 2 ;;
esac
(cd "$root" && "${build[@]}")
TOOL=$(cd "$root" && "${tool_build[@]}" --bench scale --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "scale" and m.get("executable"):
        print(m["executable"])')
[ -x "$TOOL" ] || { echo "the load tool was not built" >&2; exit 1; }

export PUDO_JWT_SECRET=scale-bench-secret-scale-bench-secret-0001 PUDO_SEED=none RUST_LOG=warn
export PUDO_WORKERS=${WORKERS:-2} PUDO_DB_POOL=${POOL:-8}
unset PUDO_BIND

pids=()
stop_instances() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap stop_instances EXIT

echo "== template database: the $SEED seed network" >&2
$PG -c "DROP DATABASE IF EXISTS pudo_scale" -c "DROP DATABASE IF EXISTS pudo_scale_template" \
    -c "CREATE DATABASE pudo_scale_template"
DATABASE_URL=$DB_BASE/pudo_scale_template "$PUDO" seed --country "$SEED" 2>&1 | tail -1 >&2

for n in $STEPS; do
  for run in $(seq "$RUNS"); do
    $PG -c "DROP DATABASE IF EXISTS pudo_scale" -c "CREATE DATABASE pudo_scale TEMPLATE pudo_scale_template"
    export DATABASE_URL=$DB_BASE/pudo_scale
    bases=()
    for i in $(seq 0 $((n - 1))); do
      port=$((BASE_PORT + i))
      PUDO_BIND=127.0.0.1:$port "$PUDO" serve > "$WORK/serve-$n-$run-$i.log" 2>&1 &
      pids+=($!)
      bases+=("http://127.0.0.1:$port")
    done
    for b in "${bases[@]}"; do
      for _ in $(seq 300); do curl -sf "$b/readyz" >/dev/null && break; sleep 0.2; done
      curl -sf "$b/readyz" >/dev/null || { echo "instance $b did not become ready:" >&2; cat "$WORK"/serve-"$n"-"$run"-*.log >&2; exit 1; }
    done
    list=$(IFS=,; echo "${bases[*]}")
    echo "== $n instance(s), run $run: orders for ${D}s, then searches for ${SEARCH_D}s, $C clients" >&2
    "$TOOL" --mode orders --bases "$list" --database "$DATABASE_URL" --secret "$PUDO_JWT_SECRET" \
      --clients "$C" --seconds "$D" --prefix "s$n-r$run" | tee -a "$WORK/results.jsonl" >&2 ||
      { echo "== run $run with $n instance(s): an invariant broke or the load failed (above); logs in $WORK" >&2; exit 1; }
    "$TOOL" --mode search --bases "$list" --database "$DATABASE_URL" \
      --clients "$C" --seconds "$SEARCH_D" | tee -a "$WORK/results.jsonl" >&2 ||
      { echo "== searches with $n instance(s) failed (above); logs in $WORK" >&2; exit 1; }
    stop_instances
  done
done
$PG -c "DROP DATABASE IF EXISTS pudo_scale" -c "DROP DATABASE IF EXISTS pudo_scale_template"

python3 - "$WORK/results.jsonl" "$root" "$C" "$D" "$SEARCH_D" "$RUNS" "$PUDO_WORKERS" "$PUDO_DB_POOL" "$PROFILE" "$SEED" <<'PY'
import json, statistics, sys, subprocess, os
path, root, c, d, sd, runs, workers, pool, profile, seed = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
steps = sorted({r["instances"] for r in rows})
med = lambda xs: statistics.median(xs) if xs else float("nan")
def figures(n, mode, key):
    return [r[key] for r in rows if r["instances"] == n and r["mode"] == mode]
base_orders = med(figures(steps[0], "orders", "orders_per_s"))
base_search = med(figures(steps[0], "search", "searches_per_s"))
commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print(f"\n### Multi-instance: {seed} seed network, one PostgreSQL, {c} clients in all, "
      f"{runs} run(s) per step, medians ({profile} build; orders {d} s, searches {sd} s per run; "
      f"each instance PUDO_WORKERS={workers}, PUDO_DB_POOL={pool}; {os.cpu_count()} CPUs)\n")
print("| instances | reservations + handovers /s | × 1 instance | order requests /s | searches /s | × 1 instance | invariants after each order run |")
print("|---:|---:|---:|---:|---:|---:|---|")
for n in steps:
    o = med(figures(n, "orders", "orders_per_s"))
    q = med(figures(n, "orders", "requests_per_s"))
    s = med(figures(n, "search", "searches_per_s"))
    inv = figures(n, "orders", "invariants")
    verdict = "all hold" if inv and all(v == "ok" for v in inv) else "BROKEN: " + ", ".join(inv)
    runs_o = ", ".join(f"{x:.0f}" for x in figures(n, "orders", "orders_per_s"))
    runs_s = ", ".join(f"{x:.0f}" for x in figures(n, "search", "searches_per_s"))
    print(f"| {n} | {o:,.0f} ({runs_o}) | {o / base_orders:.2f} | {q:,.0f} | {s:,.0f} ({runs_s}) | {s / base_search:.2f} | {verdict} ({len(inv)} runs) |")
print("\nCommand: `bench/scale/run.sh` (STEPS, RUNS, C, D, SEARCH_D, WORKERS, POOL as above)"
      + (f"; code {commit}" if commit else "") + ". Every order run is one mixed load of the "
      "multi-instance test: reservations (1 in 5 sent twice), cancellations, moves, arrivals, "
      "code reads, handovers (1 in 4 confirmed twice), each request to the next instance in turn.")
PY
