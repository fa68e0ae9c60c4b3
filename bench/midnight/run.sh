#!/usr/bin/env bash
# The Singles-Day midnight (issue 18) on the CN seed network, one `pudo serve` (release) on one
# machine: reservations concentrated on the shops of the largest cities (Zipf over the shops
# ranked by their city's population), retries, then arrivals and handovers of a share of them;
# afterwards every invariant of the mixed-load test on the database (benches/midnight.rs).
# On PostgreSQL, pgbench's TPC-B-like tps on the same server before and after, for ratios
# taken within one run. Prints a Markdown table line for BENCHMARKS.md § Singles-Day midnight.
#
#   bench/midnight/run.sh [postgres|sqlite]   (env: C=64 clients, D=60 s of reservations,
#       ZIPF=0.9, SHARE=0.25 handed over, REPEAT=10 (1 in 10 retried), REPLAY=4,
#       SEED=CN, POOL (PostgreSQL: 16; SQLite: the service's default), WORKERS (the
#       service's default), PGB_C=32 pgbench clients, PGB_D=15 s, PROFILE=release|debug,
#       TOOL_PROFILE (the load tool's build, PROFILE's by default), TOOL_TARGET_DIR (where
#       the load tool is built, the project's target directory by default: another one keeps a
#       build with other settings apart, e.g. CARGO_PROFILE_BENCH_LTO=off for a quicker
#       optimised build))
#   SMOKE=1 bench/midnight/run.sh sqlite      # a smoke run: ES network, 8 clients, 3 s
#
# Each run gets a fresh database: on PostgreSQL a copy of a template holding the seed network
# (kept between runs, keyed by the migrations and the seed file, so it is rebuilt when
# either changes); on SQLite a copy of a seeded file. Loopback only (port 18480); every phase
# is bounded (D, and each later phase by D too); the server is stopped on exit.
set -euo pipefail
BACKEND=${1:-postgres}
case "$BACKEND" in postgres|sqlite) ;; *) echo "usage: $0 [postgres|sqlite]" >&2; exit 2 ;; esac
if [ -n "${SMOKE:-}" ]; then
  C=${C:-8}; D=${D:-3}; SEED=${SEED:-ES}; PGB_D=${PGB_D:-3}; PROFILE=${PROFILE:-debug}
fi
C=${C:-64}; D=${D:-60}; ZIPF=${ZIPF:-0.9}; SHARE=${SHARE:-0.25}; REPEAT=${REPEAT:-10}
REPLAY=${REPLAY:-4}; SEED=${SEED:-CN}; PGB_C=${PGB_C:-32}; PGB_D=${PGB_D:-15}
PROFILE=${PROFILE:-release}; PORT=${PORT:-18480}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
WORK=${WORK:-/tmp/bench/midnight-$BACKEND}; rm -rf "$WORK"; mkdir -p "$WORK"
CACHE=${CACHE:-/tmp/bench/midnight-cache}; mkdir -p "$CACHE"
PGHOST=${PGHOST:-127.0.0.1}; PGUSER=${PGUSER:-postgres}
PG="env PGOPTIONS=-cclient_min_messages=warning psql -q -X -v ON_ERROR_STOP=1 -h $PGHOST -U $PGUSER -d postgres"
DB_BASE="postgres://$PGUSER@$PGHOST:5432"

case "$PROFILE" in
  release) build=(cargo build --release -q); PUDO=$root/target/release/pudo ;;
  debug) build=(cargo build -q); PUDO=$root/target/debug/pudo ;;
  *) echo "PROFILE must be release or debug" >&2; exit 2 ;;
esac
# The load tool's build: like pudo's by default. TOOL_PROFILE=debug builds it unoptimised:
# `cargo bench` rebuilds many dependencies with the dev-dependencies' features (slow on a busy
# 2-core machine, where pudo's own release build took 57 minutes on 2026-12-04), a debug build
# reuses the test build's; the tool then spends more CPU per request, which the summary reports.
case "${TOOL_PROFILE:-$PROFILE}" in
  release) tool_build=(cargo bench --no-run -q) ;;
  debug) tool_build=(cargo build -q) ;;
  *) echo "TOOL_PROFILE must be release or debug" >&2; exit 2 ;;
esac
echo "== building ($PROFILE)" >&2
(cd "$root" && "${build[@]}")
TOOL=$(cd "$root" && CARGO_TARGET_DIR=${TOOL_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}} "${tool_build[@]}" --bench midnight --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "midnight" and m.get("executable"):
        print(m["executable"])')
[ -x "$TOOL" ] || { echo "the load tool was not built" >&2; exit 1; }

export PUDO_JWT_SECRET=midnight-bench-secret-midnight-bench-secret-01 PUDO_SEED=none RUST_LOG=warn
export PUDO_BIND=127.0.0.1:$PORT
if [ -n "${POOL:-}" ]; then export PUDO_DB_POOL=$POOL
elif [ "$BACKEND" = postgres ]; then export PUDO_DB_POOL=16
else unset PUDO_DB_POOL; fi
if [ -n "${WORKERS:-}" ]; then export PUDO_WORKERS=$WORKERS; else unset PUDO_WORKERS; fi

SERVER=
cleanup() { [ -z "$SERVER" ] || { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The template: the seed network under the current migrations.
key=$(cat "$root"/migrations/*/*/*.sql "$root"/seeds/places-cn-es.csv 2>/dev/null | cksum | cut -d' ' -f1)
key=$(echo "$SEED-$key" | tr 'A-Z' 'a-z')
seed_into() {  # DATABASE_URL given; prints the seed's last line
  local t=$(date +%s)
  "$PUDO" seed --country "$SEED" 2>&1 | tail -1 >&2
  echo "   seeded in $(( $(date +%s) - t )) s" >&2
}
if [ "$BACKEND" = postgres ]; then
  tpl=pudo_midnight_tpl_${key//-/_}
  if [ -z "$($PG -At -c "SELECT 1 FROM pg_database WHERE datname = '$tpl'")" ]; then
    echo "== template database $tpl: the $SEED seed network" >&2
    $PG -c "DROP DATABASE IF EXISTS ${tpl}_new" -c "CREATE DATABASE ${tpl}_new"
    DATABASE_URL=$DB_BASE/${tpl}_new seed_into
    $PG -c "ALTER DATABASE ${tpl}_new RENAME TO $tpl"
  fi
  $PG -c "DROP DATABASE IF EXISTS pudo_midnight" -c "CREATE DATABASE pudo_midnight TEMPLATE $tpl"
  export DATABASE_URL=$DB_BASE/pudo_midnight
else
  tpl=$CACHE/$key.db
  if [ ! -f "$tpl" ]; then
    echo "== template file $tpl: the $SEED seed network" >&2
    rm -f "$tpl.new"*
    DATABASE_URL=sqlite://$tpl.new seed_into
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()" "$tpl.new"
    rm -f "$tpl.new-wal" "$tpl.new-shm"; mv "$tpl.new" "$tpl"
  fi
  cp "$tpl" "$WORK/midnight.db"
  export DATABASE_URL=sqlite://$WORK/midnight.db
fi

pgbench_run() {
  echo "== pgbench TPC-B-like ($1), same server, $PGB_C clients, ${PGB_D}s; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  $PG -c "DROP DATABASE IF EXISTS pudo_midnight_pgbench" -c "CREATE DATABASE pudo_midnight_pgbench"
  pgbench -q -i -s 10 -h "$PGHOST" -U "$PGUSER" pudo_midnight_pgbench >/dev/null 2>&1
  pgbench -c "$PGB_C" -j 2 -T "$PGB_D" -h "$PGHOST" -U "$PGUSER" pudo_midnight_pgbench 2>/dev/null |
    grep -E 'tps|latency average' | tee "$WORK/pgbench-$1.txt" >&2
  $PG -c "DROP DATABASE pudo_midnight_pgbench"
}
# pgbench runs on the same PostgreSQL whichever backend pudo uses: the SQLite line is read
# against the same yardstick.
command -v pgbench >/dev/null && pgbench_run before || echo "(no pgbench: no ratios)" >&2

"$PUDO" serve > "$WORK/serve.log" 2>&1 & SERVER=$!
for _ in $(seq 300); do curl -sf "http://$PUDO_BIND/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://$PUDO_BIND/readyz" >/dev/null || { echo "pudo serve did not become ready:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== midnight ($BACKEND, $SEED, $C clients, ${D}s of reservations); load before: $load_before" >&2
# CPU seconds (user + system) of the server over the load, and of the load tool itself: on a
# shared 2-core machine the tool's own share is part of the picture.
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }
serve_cpu_before=$(cpu_of "$SERVER")
set +e
/usr/bin/time -f "%U %S %e" -o "$WORK/tool-time.txt" "$TOOL" --bases "http://$PUDO_BIND" --database "$DATABASE_URL" --secret "$PUDO_JWT_SECRET" \
  --clients "$C" --seconds "$D" --zipf "$ZIPF" --handover-share "$SHARE" --repeat "$REPEAT" \
  --replay "$REPLAY" --prefix "m$RANDOM" > "$WORK/midnight.json"
status=$?
set -e
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
serve_cpu=$(awk -v a="$serve_cpu_before" -v b="$(cpu_of "$SERVER")" 'BEGIN { printf "%.1f", b - a }')
tool_cpu=$(awk '{ printf "%.1f of %.1f s wall", $1 + $2, $3 }' "$WORK/tool-time.txt")
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
command -v pgbench >/dev/null && pgbench_run after || true
[ "$BACKEND" = postgres ] && $PG -c "DROP DATABASE IF EXISTS pudo_midnight"

python3 - "$WORK" "$BACKEND" "$SEED" "$C" "$D" "$load_before" "$load_after" "$(git -C "$root" rev-parse --short HEAD)" \
    "$serve_cpu" "$tool_cpu" "${TOOL_PROFILE:-$PROFILE}" <<'PY'
import json, pathlib, re, sys
work, backend, seed, c, d, lb, la, commit, serve_cpu, tool_cpu, tool_profile = sys.argv[1:]
w = pathlib.Path(work)
m = json.loads((w / "midnight.json").read_text())
tps = []
for f in ("pgbench-before.txt", "pgbench-after.txt"):
    p = w / f
    if p.exists():
        x = re.search(r"tps = ([0-9.]+)", p.read_text())
        if x: tps.append(float(x.group(1)))
mean = sum(tps) / len(tps) if tps else None
r, h, lat = m["reserve"], m["handover"], m["latency"]
def l(k):
    return f'{lat[k]["p50_ms"]} / {lat[k]["p99_ms"]}' if k in lat else "–"
ratio = lambda x: f" ({x / mean:.2f}×)" if mean else ""
refused = ", ".join(f"{k} {v}" for k, v in m["refusals"].items()) or "0"
inv = "all hold" if m["invariants"]["ok"] else f'{m["invariants"]["broken"]} BROKEN'
print("\n| backend | commit | clients | reservation requests/s (sustained) | created/s | handovers/s | p50 / p99 ms: reserve · retry · arrival · handover | refused | errors | invariants | pgbench tps (before, after) | load avg before → after |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
print(f'| {backend} ({seed}) | {commit} | {c} | {r["requests_per_s"]:.0f}{ratio(r["requests_per_s"])} ({r["requests_per_s_sustained"]:.0f}) | {r["created_per_s"]:.0f} | '
      f'{h["handovers_per_s"]:.0f}{ratio(h["handovers_per_s"])} | {l("reserve")} · {l("retry")} · {l("arrival")} · {l("handover")} | {refused} of {r["orders"]} | '
      f'{m["errors"]} | {inv} | {", ".join(f"{t:.0f}" for t in tps) or "–"} | {lb} → {la} |')
print(f'\nphases: reservations {r["seconds"]} s, arrivals {m["arrive"]["seconds"]} s ({m["arrive"]["arrivals_per_s"]:.0f}/s), '
      f'handovers {h["seconds"]} s; {m["refusing_shops"]} shops refused; CPU: pudo serve {serve_cpu} s, load tool ({tool_profile} build) {tool_cpu}')
print(f'reservation requests per second: {r["per_second"]}')
PY
exit $status
