#!/usr/bin/env bash
# Reproduces BENCHMARKS.md, "Staging allocator" (issue 4): pudo's exact allocator on the CN seed
# network against HiGHS solving the same model as an LP, on a ladder of forecast sizes.
#
#   bench/staging/run.sh [ZONES ...]        (default: 2000 5000 10000 50000)
#
# HiGHS (highspy, benchmark-only) is installed into target/bench-venv from
# bench/staging/requirements.txt. Instances go to $PUDO_BENCH_DIR/alloc (default /tmp/bench).
# The whole LP is attempted up to 10,000 zones (HIGHS_WHOLE_MAX); larger instances are checked
# by solving each connected component of the zone-shop graph separately, whose optima sum to
# the whole problem's optimum.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${PUDO_BENCH_DIR:-/tmp/bench}/alloc
cd "$ROOT"
[[ $# -gt 0 ]] || set -- 2000 5000 10000 50000

VENV=$ROOT/target/bench-venv
if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q -r bench/staging/requirements.txt

cargo bench --bench allocator --no-run
BIN=$(cargo bench --bench allocator --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
rm -rf "$OUT"
mkdir -p "$OUT"
"$ROOT/bench/search/quiet.sh"
echo "== pudo allocator (median of ${PUDO_BENCH_RUNS:-5} runs per size)"
PUDO_BENCH_EXPORT=$OUT /usr/bin/time -f "allocator bench process: max RSS %M KiB" "$BIN" "$@"
"$ROOT/bench/search/quiet.sh"
echo "== HiGHS $("$VENV/bin/python" -c 'import highspy; h = highspy.Highs(); print(h.version())')"
"$VENV/bin/python" bench/staging/allocator_vs_highs.py "$OUT" --time-limit "${HIGHS_TIME_LIMIT:-1200}" \
  --skip-whole-above "${HIGHS_WHOLE_MAX:-10000}" --by-components
