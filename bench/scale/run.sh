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
#   QUOTA=0.25 bench/scale/run.sh      # each instance limited to 0.25 of a core (as root)
#
# QUOTA (cores per instance, a positive number; unset: no limit) starts each instance in a
# cgroup of its own with that CPU quota (cgroup v1 cpu.cfs_quota_us per cpu.cfs_period_us at
# /sys/fs/cgroup/cpu, or cgroup v2 cpu.max when /sys/fs/cgroup/cgroup.controllers lists cpu),
# to model instances that each have their own CPU budget, as in separate containers or VMs;
# PostgreSQL and the load tool stay unconstrained. It is a CPU-budget model, not more
# hardware: all instances still share the machine's cores, caches and memory bandwidth.
# The cgroups are removed on exit. With QUOTA, each results.jsonl line also carries "quota",
# "cgroup" and "cpu" (per phase: throttled periods from each cgroup's cpu.stat, CPU used per
# instance, by PostgreSQL and by the whole machine, in cores), and the table shows them.
#
# The load tool (benches/scale.rs) is the test's own mixed load (tests/api/load): every
# request goes to the next instance in turn, so each step of an order may be answered by a
# different instance. Each run gets a fresh copy of a template database holding the seed
# network, because the invariant check compares the whole database with the run's answers.
# Loopback only; every run is bounded by D / SEARCH_D; instances are stopped on exit.
set -euo pipefail
STEPS=${STEPS:-"1 2 4"}; RUNS=${RUNS:-3}; C=${C:-32}; D=${D:-20}; SEARCH_D=${SEARCH_D:-10}
SEED=${SEED:-ES}; PROFILE=${PROFILE:-release}; BASE_PORT=${BASE_PORT:-18300}

# The CPU quota: checked, and the cgroup controller found, before anything is built or removed.
QUOTA=${QUOTA:-}; CG_VERSION=; CG_BASE=; CG_PERIOD=100000; CG_QUOTA_US=
if [ -n "$QUOTA" ]; then
  [[ "$QUOTA" =~ ^([0-9]+(\.[0-9]*)?|\.[0-9]+)$ ]] && awk -v q="$QUOTA" 'BEGIN { exit !(q > 0) }' ||
    { echo "QUOTA must be a positive number of cores per instance (e.g. 0.25), not '$QUOTA'" >&2; exit 2; }
  QUOTA=$(awk -v q="$QUOTA" 'BEGIN { printf "%g", q }')
  CG_QUOTA_US=$(awk -v q="$QUOTA" -v p="$CG_PERIOD" 'BEGIN { printf "%d", q * p + 0.5 }')
  [ "$CG_QUOTA_US" -ge 1000 ] ||
    { echo "QUOTA=$QUOTA is below the kernel's minimum of 1 ms per ${CG_PERIOD} µs period (0.01 core)" >&2; exit 2; }
  [ "$(id -u)" = 0 ] || { echo "QUOTA needs root (it creates cgroups under /sys/fs/cgroup)" >&2; exit 2; }
  if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
    CG_VERSION=v1; CG_BASE=/sys/fs/cgroup/cpu
  elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
    CG_VERSION=v2; CG_BASE=/sys/fs/cgroup
    grep -qw cpu "$CG_BASE/cgroup.subtree_control" || echo +cpu > "$CG_BASE/cgroup.subtree_control" ||
      { echo "QUOTA: cannot enable the cgroup v2 cpu controller for children ($CG_BASE/cgroup.subtree_control)" >&2; exit 2; }
  else
    echo "QUOTA needs the cgroup CPU controller: found neither /sys/fs/cgroup/cpu/cpu.cfs_quota_us" \
      "(cgroup v1) nor cpu in /sys/fs/cgroup/cgroup.controllers (cgroup v2)" >&2
    exit 2
  fi
  [ -w "$CG_BASE" ] || { echo "QUOTA: $CG_BASE is not writable (a read-only cgroup mount?)" >&2; exit 2; }
fi
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
cgroups=()
cleanup() {
  stop_instances
  for cg in "${cgroups[@]}"; do
    for _ in $(seq 50); do [ -d "$cg" ] || break; rmdir "$cg" 2>/dev/null || sleep 0.1; done
    [ ! -d "$cg" ] || echo "could not remove the cgroup $cg (a process still in it?)" >&2
  done
  cgroups=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One cgroup per instance slot, for the whole script; its cpu.stat counters are read before
# and after each phase.
if [ -n "$QUOTA" ]; then
  max=0; for n in $STEPS; do [ "$n" -le "$max" ] || max=$n; done
  for i in $(seq 0 $((max - 1))); do
    cg=$CG_BASE/pudo-scale-$$-$i
    mkdir "$cg" || { echo "QUOTA: cannot create the cgroup $cg" >&2; exit 2; }
    cgroups+=("$cg")
    if [ "$CG_VERSION" = v1 ]; then
      echo "$CG_PERIOD" > "$cg/cpu.cfs_period_us" && echo "$CG_QUOTA_US" > "$cg/cpu.cfs_quota_us"
    else
      echo "$CG_QUOTA_US $CG_PERIOD" > "$cg/cpu.max"
    fi || { echo "QUOTA: cannot set the CPU quota of $cg" >&2; exit 2; }
  done
  echo "== each instance in its own cgroup ($CG_VERSION, $CG_BASE/pudo-scale-$$-*): $QUOTA core" \
    "($CG_QUOTA_US µs per $CG_PERIOD µs)" >&2
fi

# Runs the load tool (its arguments), with, under QUOTA, a CPU snapshot before and after;
# appends its JSON line (with the quota and the CPU figures added) to results.jsonl and
# shows it; returns the tool's status.
measure() {
  local status=0 cg_list
  cg_list=$(IFS=,; echo "${cgroups[*]:0:${#pids[@]}}")
  if [ -n "$QUOTA" ]; then
    python3 "$here/cpustat.py" snapshot "$WORK/before.json" "$(IFS=,; echo "${pids[*]}")" "$cg_list" ||
      { echo "QUOTA: the CPU figures could not be read" >&2; return 1; }
  fi
  "$TOOL" "$@" > "$WORK/line.json" || status=$?
  if [ -n "$QUOTA" ] && [ -s "$WORK/line.json" ]; then
    python3 "$here/cpustat.py" snapshot "$WORK/after.json" "$(IFS=,; echo "${pids[*]}")" "$cg_list" &&
      python3 "$here/cpustat.py" merge "$WORK/line.json" "$WORK/before.json" "$WORK/after.json" \
        "$QUOTA" "$CG_VERSION" > "$WORK/line.q.json" &&
      mv "$WORK/line.q.json" "$WORK/line.json" || { echo "QUOTA: the CPU figures could not be read" >&2; return 1; }
  fi
  tee -a "$WORK/results.jsonl" < "$WORK/line.json" >&2
  return "$status"
}

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
      if [ -n "$QUOTA" ]; then
        # The subshell moves itself into the cgroup, then becomes the instance: every thread
        # of the instance starts inside the cgroup.
        cg=${cgroups[$i]}
        ( echo "$BASHPID" > "$cg/cgroup.procs" || { echo "cannot join the cgroup $cg" >&2; exit 1; }
          PUDO_BIND=127.0.0.1:$port exec "$PUDO" serve ) > "$WORK/serve-$n-$run-$i.log" 2>&1 &
      else
        PUDO_BIND=127.0.0.1:$port "$PUDO" serve > "$WORK/serve-$n-$run-$i.log" 2>&1 &
      fi
      pids+=($!)
      bases+=("http://127.0.0.1:$port")
    done
    for b in "${bases[@]}"; do
      for _ in $(seq 300); do curl -sf "$b/readyz" >/dev/null && break; sleep 0.2; done
      curl -sf "$b/readyz" >/dev/null || { echo "instance $b did not become ready:" >&2; cat "$WORK"/serve-"$n"-"$run"-*.log >&2; exit 1; }
    done
    if [ -n "$QUOTA" ]; then
      for i in "${!pids[@]}"; do
        grep -q ":/pudo-scale-$$-$i\$" "/proc/${pids[$i]}/cgroup" ||
          { echo "instance $i (pid ${pids[$i]}) is not in its cgroup ${cgroups[$i]}" >&2; exit 1; }
      done
    fi
    list=$(IFS=,; echo "${bases[*]}")
    echo "== $n instance(s), run $run: orders for ${D}s, then searches for ${SEARCH_D}s, $C clients" >&2
    measure --mode orders --bases "$list" --database "$DATABASE_URL" --secret "$PUDO_JWT_SECRET" \
      --clients "$C" --seconds "$D" --prefix "s$n-r$run" ||
      { echo "== run $run with $n instance(s): an invariant broke or the load failed (above); logs in $WORK" >&2; exit 1; }
    measure --mode search --bases "$list" --database "$DATABASE_URL" \
      --clients "$C" --seconds "$SEARCH_D" ||
      { echo "== searches with $n instance(s) failed (above); logs in $WORK" >&2; exit 1; }
    stop_instances
  done
done
$PG -c "DROP DATABASE IF EXISTS pudo_scale" -c "DROP DATABASE IF EXISTS pudo_scale_template"

python3 - "$WORK/results.jsonl" "$root" "$C" "$D" "$SEARCH_D" "$RUNS" "$PUDO_WORKERS" "$PUDO_DB_POOL" "$PROFILE" "$SEED" \
    "$QUOTA" "$CG_VERSION" "$CG_QUOTA_US" "$CG_PERIOD" <<'PY'
import json, statistics, sys, subprocess, os
path, root, c, d, sd, runs, workers, pool, profile, seed, quota, cgv, quota_us, period = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
steps = sorted({r["instances"] for r in rows})
med = lambda xs: statistics.median(xs) if xs else float("nan")
def figures(n, mode, key):
    return [r[key] for r in rows if r["instances"] == n and r["mode"] == mode]
base_orders = med(figures(steps[0], "orders", "orders_per_s"))
base_search = med(figures(steps[0], "search", "searches_per_s"))
commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
if quota:
    limit = (f"cgroup v1 cpu.cfs_quota_us={quota_us}, cpu.cfs_period_us={period}" if cgv == "v1"
             else f"cgroup v2 cpu.max \"{quota_us} {period}\"")
    print(f"\n### Multi-instance, CPU quota {quota} core per instance ({limit}; PostgreSQL and the "
          f"load tool unconstrained): {seed} seed network, one PostgreSQL, {c} clients in all, "
          f"{runs} run(s) per step, medians ({profile} build; orders {d} s, searches {sd} s per run; "
          f"each instance PUDO_WORKERS={workers}, PUDO_DB_POOL={pool}; {os.cpu_count()} CPUs)\n")
    print("| instances | CPU quota, cores (per instance × instances) | reservations + handovers /s | × 1 instance | order requests /s | searches /s | × 1 instance | invariants after each order run |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
else:
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
    share = f" {quota} × {n} = {float(quota) * n:.2f} |" if quota else ""
    print(f"| {n} |{share} {o:,.0f} ({runs_o}) | {o / base_orders:.2f} | {q:,.0f} | {s:,.0f} ({runs_s}) | {s / base_search:.2f} | {verdict} ({len(inv)} runs) |")
if quota:
    print("\nCPU during each phase (medians of the runs; from the start to the end of the load tool):"
          " periods throttled = the instances' cgroup periods (" + f"{int(period) // 1000}" + " ms each) in which the quota ran"
          " out, over all periods in which they ran (cpu.stat nr_throttled / nr_periods);"
          " instance CPU from /proc/PID/stat, PostgreSQL = all its processes, machine = all"
          " cores busy.\n")
    print("| instances | phase | periods throttled | CPU per instance, cores (quota " + quota + "; lowest–highest) | PostgreSQL, cores | machine busy, cores of " + str(os.cpu_count()) + " |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in steps:
        for mode, name in (("orders", "orders"), ("search", "searches")):
            cpu = [r["cpu"] for r in rows if r["instances"] == n and r["mode"] == mode and "cpu" in r]
            if not cpu:
                continue
            frac = med([x["throttled_periods"] / x["periods"] if x["periods"] else 0.0 for x in cpu])
            inst = med([statistics.mean(v for v in x["instance_cores"] if v is not None) for x in cpu])
            lo = min(min(v for v in x["instance_cores"] if v is not None) for x in cpu)
            hi = max(max(v for v in x["instance_cores"] if v is not None) for x in cpu)
            pg = med([x["postgres_cores"] for x in cpu])
            mach = med([x["machine_cores"] for x in cpu])
            print(f"| {n} | {name} | {frac:.0%} | {inst:.3f} ({lo:.3f}–{hi:.3f}) | {pg:.2f} | {mach:.2f} |")
print(f"\nCommand: `{'QUOTA=' + quota + ' ' if quota else ''}bench/scale/run.sh` (STEPS, RUNS, C, D, SEARCH_D, WORKERS, POOL as above)"
      + (f"; code {commit}" if commit else "") + ". Every order run is one mixed load of the "
      "multi-instance test: reservations (1 in 5 sent twice), cancellations, moves, arrivals, "
      "code reads, handovers (1 in 4 confirmed twice), each request to the next instance in turn.")
PY
