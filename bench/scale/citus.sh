#!/usr/bin/env bash
# Orders per second of the mixed order load against the number of Citus workers (issue 16):
# for each step, a fresh cluster (deploy/citus/cluster.sh) with N workers, each worker's
# PostgreSQL in a cgroup of its own limited to QUOTA cores; beside it, the same load on a plain
# PostgreSQL (its own initdb, not the machine's main server) in one cgroup limited to the same
# total, N × QUOTA. Every invariant of the load is checked after each run. Prints a Markdown
# table for BENCHMARKS.md.
#
#   bench/scale/citus.sh                       (as root; env: STEPS="1 2 4" workers, QUOTA=0.2
#                                               core per worker, C=32 clients, D=20 s per run,
#                                               INSTANCES=2 pudo serve, SEED=ES, SHARDS=32,
#                                               PROFILE=release|debug, PLAIN=1 (0: Citus
#                                               only), EXEC_POOL=1 (empty: Citus default) sets the database's
#                                               citus.max_adaptive_executor_pool_size)
#   STEPS="1 2" D=5 SEED=ES PROFILE=debug bench/scale/citus.sh      # a smoke run
#
# What is limited and what is not (state it with the figures):
# - each worker's postmaster and every backend it forks: QUOTA cores (cgroup v1
#   cpu.cfs_quota_us, or v2 cpu.max), moved into its cgroup once the network is seeded (the
#   seed itself runs unlimited);
# - the coordinator: NOT limited (its own cgroup only to count its CPU). Every statement is
#   planned on it and routed to a worker, so it does work that grows with the load; its CPU is
#   reported beside the workers' so that one can see whether it was the limit;
# - the pudo instances and the load tool: not limited (counted as well);
# - plain PostgreSQL: one cgroup, N × QUOTA cores.
# All of it shares the machine's cores: a CPU-budget model, not more hardware. The load
# average (/proc/loadavg) is recorded at the start and end of every run.
#
# Ports: pudo instances from BASE_PORT (18300), the cluster's coordinator on CITUS_PORT (18350)
# and its workers on the next ports, plain PostgreSQL on PLAIN_PORT (18360): bench/scale's
# range, away from the test clusters. Data under WORK (/tmp/bench/citus), removed at the start;
# every cluster, server and cgroup is stopped or removed on exit.
set -euo pipefail
STEPS=${STEPS:-"1 2 4"}; QUOTA=${QUOTA:-0.2}; C=${C:-32}; D=${D:-20}; INSTANCES=${INSTANCES:-2}
SEED=${SEED:-ES}; SHARDS=${SHARDS:-32}; PROFILE=${PROFILE:-release}; PLAIN=${PLAIN:-1}
EXEC_POOL=${EXEC_POOL-1}
BASE_PORT=${BASE_PORT:-18300}; CITUS_PORT=${CITUS_PORT:-18350}; PLAIN_PORT=${PLAIN_PORT:-18360}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

die() { echo "citus.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (cgroups, and PostgreSQL run as the postgres user)"
[[ "$QUOTA" =~ ^([0-9]+(\.[0-9]*)?|\.[0-9]+)$ ]] && awk -v q="$QUOTA" 'BEGIN { exit !(q >= 0.01) }' ||
  die "QUOTA must be a number of cores per worker, at least 0.01, not '$QUOTA'"
for n in $STEPS; do [[ "$n" =~ ^[1-8]$ ]] || die "STEPS must list worker counts from 1 to 8, not '$n'"; done
CG_PERIOD=100000
quota_us() { awk -v q="$1" -v p="$CG_PERIOD" 'BEGIN { printf "%d", q * p + 0.5 }'; }
if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
  CG_VERSION=v1; CG_BASE=/sys/fs/cgroup/cpu; CG_ACCT=/sys/fs/cgroup/cpuacct
  [ -f "$CG_ACCT/cpuacct.usage" ] || die "cgroup v1 without cpuacct at $CG_ACCT"
elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
  CG_VERSION=v2; CG_BASE=/sys/fs/cgroup; CG_ACCT=
  grep -qw cpu "$CG_BASE/cgroup.subtree_control" || echo +cpu > "$CG_BASE/cgroup.subtree_control"
else
  die "no cgroup CPU controller (v1 /sys/fs/cgroup/cpu or v2 with cpu)"
fi

here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
WORK=${WORK:-/tmp/bench/citus}; rm -rf "$WORK"; mkdir -p "$WORK"; chmod 755 "$WORK"
CLUSTER_DIR=$WORK/cluster; PLAIN_DIR=$WORK/plain
case "$PROFILE" in
  release) build=(cargo build --release -q); tool_build=(cargo bench --no-run -q); PUDO=$root/target/release/pudo ;;
  debug) build=(cargo build -q); tool_build=(cargo build -q); PUDO=$root/target/debug/pudo ;;
  *) die "PROFILE must be release or debug" ;;
esac
(cd "$root" && "${build[@]}")
TOOL=$(cd "$root" && "${tool_build[@]}" --bench scale --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "scale" and m.get("executable"):
        print(m["executable"])')
[ -x "$TOOL" ] || die "the load tool was not built"

export PUDO_JWT_SECRET=scale-bench-secret-scale-bench-secret-0001 PUDO_SEED=none RUST_LOG=warn
export PUDO_WORKERS=${WORKERS_HTTP:-2} PUDO_DB_POOL=${POOL:-8}
unset PUDO_BIND

# --- cgroups: NAME [QUOTA] creates one (QUOTA unset: unlimited, for counting only) ---------
cgroups=()
cg_make() {
  local name=$1 q=${2:-} cg=$CG_BASE/pudo-citus-$$-$1
  mkdir -p "$cg"; cgroups+=("$cg")
  [ -z "$CG_ACCT" ] || { mkdir -p "$CG_ACCT/pudo-citus-$$-$name"; cgroups+=("$CG_ACCT/pudo-citus-$$-$name"); }
  cg_quota "$name" "$q"
}
cg_quota() { # NAME QUOTA|"" (unlimited)
  local cg=$CG_BASE/pudo-citus-$$-$1
  if [ "$CG_VERSION" = v1 ]; then
    echo "$CG_PERIOD" > "$cg/cpu.cfs_period_us"
    if [ -n "$2" ]; then quota_us "$2" > "$cg/cpu.cfs_quota_us"; else echo -1 > "$cg/cpu.cfs_quota_us"; fi
  else
    if [ -n "$2" ]; then echo "$(quota_us "$2") $CG_PERIOD" > "$cg/cpu.max"; else echo "max $CG_PERIOD" > "$cg/cpu.max"; fi
  fi
}
cg_join() { # NAME PID...: moves processes (each with all its threads)
  local name=$1 pid; shift
  for pid in "$@"; do
    echo "$pid" > "$CG_BASE/pudo-citus-$$-$name/cgroup.procs" 2>/dev/null || continue
    [ -z "$CG_ACCT" ] || echo "$pid" > "$CG_ACCT/pudo-citus-$$-$name/cgroup.procs" 2>/dev/null || true
  done
}
pg_join() { # NAME DATADIR: a postmaster and every process it forked
  local pm; pm=$(head -1 "$2/postmaster.pid")
  cg_join "$1" "$pm" $(pgrep -P "$pm" || true)
}

pids=()
stop_instances() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_instances
  WORKERS=${current_workers:-1} CITUS_DIR=$CLUSTER_DIR CITUS_PORT=$CITUS_PORT "$root/deploy/citus/cluster.sh" down >/dev/null 2>&1 || true
  [ ! -f "$PLAIN_DIR/postmaster.pid" ] || runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PLAIN_DIR" -m fast -w stop >/dev/null 2>&1 || true
  for cg in "${cgroups[@]}"; do
    for _ in $(seq 50); do [ -d "$cg" ] || break; rmdir "$cg" 2>/dev/null || sleep 0.1; done
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cg_make coordinator; cg_make pudo; cg_make tool; cg_make plain "$QUOTA"
for i in 1 2 3 4 5 6 7 8; do cg_make "w$i" "$QUOTA"; done

# --- one measured run: starts the instances on URL, runs the load, appends a JSON line ------
# ARGS: LABEL WORKERS URL GROUPS (comma-separated cgroup names whose CPU is reported)
run_load() {
  local label=$1 n=$2 url=$3 groups=$4 bases=() i port
  for i in $(seq 0 $((INSTANCES - 1))); do
    port=$((BASE_PORT + i))
    ( cg_join pudo "$BASHPID"; DATABASE_URL=$url PUDO_BIND=127.0.0.1:$port exec "$PUDO" serve ) \
      > "$WORK/serve-$label-$n-$i.log" 2>&1 &
    pids+=($!); bases+=("http://127.0.0.1:$port")
  done
  for b in "${bases[@]}"; do
    for _ in $(seq 600); do curl -sf "$b/readyz" >/dev/null && break; sleep 0.2; done
    curl -sf "$b/readyz" >/dev/null || { cat "$WORK"/serve-"$label"-"$n"-*.log >&2; die "instance $b did not become ready"; }
  done
  python3 "$here/citus_cpu.py" snapshot "$WORK/before.json" "$CG_BASE" "$CG_ACCT" "pudo-citus-$$" "$groups"
  local status=0
  ( cg_join tool "$BASHPID"; exec "$TOOL" --mode orders --bases "$(IFS=,; echo "${bases[*]}")" --database "$url" \
      --secret "$PUDO_JWT_SECRET" --clients "$C" --seconds "$D" --prefix "$label-$n" ) > "$WORK/line.json" || status=$?
  python3 "$here/citus_cpu.py" snapshot "$WORK/after.json" "$CG_BASE" "$CG_ACCT" "pudo-citus-$$" "$groups"
  stop_instances
  [ -s "$WORK/line.json" ] || die "the load tool printed nothing ($label, $n)"
  python3 "$here/citus_cpu.py" merge "$WORK/line.json" "$WORK/before.json" "$WORK/after.json" \
    "$label" "$n" "$QUOTA" | tee -a "$WORK/results.jsonl" >&2
  [ "$status" = 0 ] || die "an invariant broke or the load failed ($label with $n); logs in $WORK"
}

# --- plain PostgreSQL: one initdb, the seed network in a template database -------------------
if [ "$PLAIN" = 1 ]; then
  echo "== plain PostgreSQL on $PLAIN_PORT ($PLAIN_DIR), the $SEED seed network" >&2
  chown postgres: "$WORK"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$PLAIN_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$PLAIN_DIR/postgresql.conf" <<EOF
port = $PLAIN_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
EOF
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PLAIN_DIR" -l "$WORK/plain.log" -w start >/dev/null
  PLAIN_PSQL="$PG_BIN/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $PLAIN_PORT -U postgres -d postgres"
  $PLAIN_PSQL -c "CREATE DATABASE pudo_template"
  DATABASE_URL=postgres://postgres@127.0.0.1:$PLAIN_PORT/pudo_template "$PUDO" seed --country "$SEED" 2>&1 | tail -1 >&2
fi

for n in $STEPS; do
  current_workers=$n
  echo "== Citus, $n worker(s) of $QUOTA core each; $SHARDS shards per table" >&2
  WORKERS=$n CITUS_DIR=$CLUSTER_DIR CITUS_PORT=$CITUS_PORT "$root/deploy/citus/cluster.sh" down >/dev/null 2>&1 || true
  url=$(WORKERS=$n CITUS_DIR=$CLUSTER_DIR CITUS_PORT=$CITUS_PORT "$root/deploy/citus/cluster.sh" up | tail -n1)
  "$PG_BIN/psql" -X -q "$url" -c "ALTER DATABASE pudo SET citus.shard_count = $SHARDS"
  # Connections per worker a statement may open (Citus's default 16): every connection the
  # coordinator opens beyond its cached one is a new backend (and TLS handshake) on a worker.
  [ -z "$EXEC_POOL" ] || "$PG_BIN/psql" -X -q "$url" -c "ALTER DATABASE pudo SET citus.max_adaptive_executor_pool_size = $EXEC_POOL"
  started=$SECONDS
  DATABASE_URL=$url "$PUDO" seed --country "$SEED" 2>&1 | tail -1 >&2
  echo "   seeded in $((SECONDS - started)) s; shops per worker (by the placement of their region's shard):" >&2
  "$PG_BIN/psql" -X -At "$url" -c "SELECT n.nodeport, count(*) FROM shops s JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('shop_load', s.region) JOIN pg_dist_node n ON n.groupid = p.groupid GROUP BY 1 ORDER BY 1" \
    | tee "$WORK/spread-$n.txt" >&2
  pg_join coordinator "$CLUSTER_DIR/coordinator"
  groups=coordinator,pudo,tool
  for i in $(seq 1 "$n"); do pg_join "w$i" "$CLUSTER_DIR/worker$i"; groups=$groups,w$i; done
  run_load citus "$n" "$url" "$groups"
  WORKERS=$n CITUS_DIR=$CLUSTER_DIR CITUS_PORT=$CITUS_PORT "$root/deploy/citus/cluster.sh" down >/dev/null 2>&1

  if [ "$PLAIN" = 1 ]; then
    total=$(awk -v q="$QUOTA" -v n="$n" 'BEGIN { printf "%g", q * n }')
    echo "== plain PostgreSQL limited to $total core(s) (= $n × $QUOTA)" >&2
    $PLAIN_PSQL -c "DROP DATABASE IF EXISTS pudo" -c "CREATE DATABASE pudo TEMPLATE pudo_template"
    cg_quota plain "$total"
    pg_join plain "$PLAIN_DIR"
    run_load plain "$n" "postgres://postgres@127.0.0.1:$PLAIN_PORT/pudo" "plain,pudo,tool"
  fi
done

python3 "$here/citus_cpu.py" table "$WORK/results.jsonl" "$QUOTA" "$C" "$D" "$INSTANCES" "$SEED" "$SHARDS shards per table${EXEC_POOL:+, citus.max_adaptive_executor_pool_size = $EXEC_POOL}" "$PROFILE" "$CG_VERSION" \
  "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || true)" "$WORK"
