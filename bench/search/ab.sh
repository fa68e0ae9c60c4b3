#!/usr/bin/env bash
# Interleaved A/B of pudo binaries under the search load, with PostGIS measured in every round:
#
#   bench/search/ab.sh ROUNDS SECONDS BINARY...
#
# Each round runs pgbench (as `run.sh pgbench`), then, for every BINARY in turn, a fresh
# `pudo serve` on $PUDO_BENCH_DIR/serve.db, a 4 s warm-up and SECONDS of benches/httpload
# (32 connections, as `run.sh httpload`), then pgbench again. Each binary's ratio is taken
# against the mean of its round's two pgbench runs, so a machine that slows down or speeds up
# between rounds moves both sides. Needs the data of `run.sh postgis http` (points.csv,
# serve.db, the pudo_bench_postgis database). Prints one line per measurement.
set -euo pipefail

if [[ $# -lt 3 || ! $1 =~ ^[1-9][0-9]*$ || ! $2 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bench/search/ab.sh ROUNDS SECONDS BINARY..." >&2
  exit 2
fi
ROUNDS=$1 SECONDS_EACH=$2
shift 2
for bin in "$@"; do
  [[ -x $bin ]] || { echo "ab.sh: $bin is not an executable" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${PUDO_BENCH_DIR:-/tmp/bench}
PG=${PUDO_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PORT=${PUDO_BENCH_PORT:-8089}
for f in "$OUT/points.csv" "$OUT/serve.db"; do
  [[ -f $f ]] || { echo "ab.sh: $f is missing (run bench/search/run.sh postgis http first)" >&2; exit 2; }
done
cd "$ROOT"

# shellcheck source=bench/search/common.sh
source "$ROOT/bench/search/common.sh"
load=$(httpload_bin)

pgbench_tps() {
  "$ROOT/bench/search/quiet.sh"
  "${PGBENCH_KNN[@]}" -T "$SECONDS_EACH" "$PG/pudo_bench_postgis" > "$OUT/ab-pgbench.log" 2>&1
  awk '/^tps = / {printf "%d", $3}' "$OUT/ab-pgbench.log"
}

# Prints the req/s of one binary: a fresh server, warm-up, measurement, stop.
httpload_rps() {
  serve_start "$1" || exit 1
  local args=(--url "http://127.0.0.1:$PORT" --points "$OUT/points.csv" --connections 32 --warmup 0)
  "$load" "${args[@]}" --seconds 4 >/dev/null
  "$ROOT/bench/search/quiet.sh"
  "$load" "${args[@]}" --seconds "$SECONDS_EACH" | tail -n 1 | jq -r '.requests_per_s | floor'
  serve_stop
}

for round in $(seq 1 "$ROUNDS"); do
  before=$(pgbench_tps)
  declare -A rps=()
  for bin in "$@"; do rps[$bin]=$(httpload_rps "$bin"); done
  after=$(pgbench_tps)
  for bin in "$@"; do
    awk -v r="$round" -v b="$bin" -v h="${rps[$bin]}" -v p0="$before" -v p1="$after" \
      'BEGIN { printf "round %d  %-40s httpload %6d req/s  pgbench %d, %d tps  ratio %.2fx\n", r, b, h, p0, p1, h / ((p0 + p1) / 2) }'
  done
  unset rps
done
