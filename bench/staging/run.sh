#!/usr/bin/env bash
# Reproduces BENCHMARKS.md, "Staging allocator" (issue 4): pudo's exact allocator on the CN seed
# network against HiGHS solving the same model as an LP, on a ladder of forecast sizes.
#
#   bench/staging/run.sh [ZONES ...]        (default: 2000 5000 10000 50000)
#
# HiGHS (highspy) and OR-Tools (ortools), benchmark-only, are installed into target/bench-venv
# from bench/staging/requirements.txt. Instances go to $PUDO_BENCH_DIR/alloc (default
# /tmp/bench). The whole LP is attempted up to 10,000 zones (HIGHS_WHOLE_MAX); larger
# instances are checked by solving each connected component of the zone-shop graph
# separately, whose optima sum to the whole problem's optimum.
#
# Then issue 18's comparison with the dedicated min-cost-flow solvers: MCF_ROUNDS rounds
# (default 5), each solving every size once with pudo and LEMON's network simplex through the
# mcmf crate (in the bench process, interleaved per size), then with LEMON's network simplex
# on 64-bit costs (lemon_ns.cpp, compiled here with $CXX, default c++) and OR-Tools'
# SimpleMinCostFlow; allocator_vs_mcf.py reports the medians, the objectives (equal to 1e-9
# relative, or the script fails) and pudo's ratio. COMPARE=highs or COMPARE=mcf runs one part.
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
# The bench's own executable (the JSON also lists the pudo binary that benches get built with).
BIN=$(cargo bench --bench allocator --no-run --message-format=json 2>/dev/null |
  grep '"name":"allocator"' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
rm -rf "$OUT"
mkdir -p "$OUT"
COMPARE=${COMPARE:-highs,mcf}
# Without HiGHS this run only exports the instances (the rounds below time pudo).
[[ $COMPARE == *highs* ]] || export PUDO_BENCH_RUNS=${PUDO_BENCH_RUNS:-1}
"$ROOT/bench/search/quiet.sh"
echo "== pudo allocator (median of ${PUDO_BENCH_RUNS:-5} runs per size)"
PUDO_BENCH_EXPORT=$OUT /usr/bin/time -f "allocator bench process: max RSS %M KiB" "$BIN" "$@"
if [[ $COMPARE == *highs* ]]; then
  "$ROOT/bench/search/quiet.sh"
  echo "== HiGHS $("$VENV/bin/python" -c 'import highspy; h = highspy.Highs(); print(h.version())')"
  "$VENV/bin/python" bench/staging/allocator_vs_highs.py "$OUT" --time-limit "${HIGHS_TIME_LIMIT:-1200}" \
    --skip-whole-above "${HIGHS_WHOLE_MAX:-10000}" --by-components
fi
if [[ $COMPARE == *mcf* ]]; then
  # LEMON with 64-bit costs: the sources vendored in the mcmf crate, compiled -O3 as the crate
  # compiles its own binding (see lemon_ns.cpp for why the crate alone cannot take pudo's costs).
  MCMF=$(cargo metadata --format-version 1 2>/dev/null | "$VENV/bin/python" -c '
import json, os, sys
p = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == "mcmf")
print(p["version"], os.path.dirname(p["manifest_path"]))')
  LEMON_NS=$ROOT/target/bench-lemon/lemon_ns
  mkdir -p "$(dirname "$LEMON_NS")"
  if [[ ! -x $LEMON_NS || bench/staging/lemon_ns.cpp -nt $LEMON_NS ]]; then
    ${CXX:-c++} -O3 -I"${MCMF#* }" bench/staging/lemon_ns.cpp -o "$LEMON_NS"
  fi
  echo "== pudo, LEMON (mcmf ${MCMF%% *}: the crate, and its LEMON with 64-bit costs, $(${CXX:-c++} --version | head -n1))" \
    "and OR-Tools $("$VENV/bin/python" -c 'import ortools; print(ortools.__version__)'): ${MCF_ROUNDS:-5} rounds"
  rm -f "$OUT/mcf.jsonl"
  for round in $(seq 1 "${MCF_ROUNDS:-5}"); do
    "$ROOT/bench/search/quiet.sh"
    echo "-- round $round, $(uptime)"
    PUDO_BENCH_RUNS=1 PUDO_BENCH_LEMON=1 PUDO_BENCH_ROUND=$round PUDO_BENCH_TIMINGS=$OUT/mcf.jsonl "$BIN" "$@" |
      grep -E 'median|LEMON'
    # pudo on one core as well (its candidate-arc search is the only parallel part).
    RAYON_NUM_THREADS=1 PUDO_BENCH_RUNS=1 PUDO_BENCH_ROUND=$round PUDO_BENCH_TIMINGS=$OUT/mcf.jsonl "$BIN" "$@" |
      grep -E 'median' | sed 's/^/one core: /'
    for zones in "$@"; do
      "$LEMON_NS" "$OUT/instance_$zones" "$round" | tee -a "$OUT/mcf.jsonl"
    done
    "$VENV/bin/python" bench/staging/allocator_vs_mcf.py ortools "$OUT" --round "$round" \
      --timings "$OUT/mcf.jsonl"
  done
  echo "-- after the last round, $(uptime)"
  "$VENV/bin/python" bench/staging/allocator_vs_mcf.py report "$OUT/mcf.jsonl"
fi
