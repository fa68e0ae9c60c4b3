#!/usr/bin/env bash
# A Citus cluster on this machine for development, tests and CI: one coordinator and WORKERS
# workers, each a PostgreSQL 15 server of its own (initdb) on a fixed loopback port.
#
#   deploy/citus/cluster.sh up        # builds Citus if missing, starts the cluster; the last
#                                     # line on stdout is the coordinator's DATABASE_URL
#   deploy/citus/cluster.sh status    # the nodes, as the coordinator sees them
#   deploy/citus/cluster.sh down      # stops every node and removes the cluster's directory
#   deploy/citus/cluster.sh stop-worker I    # stops worker I (1..WORKERS) only: a worker down
#   deploy/citus/cluster.sh start-worker I   # starts it again
#
#   export DATABASE_URL=$(deploy/citus/cluster.sh up | tail -n1)
#
# Settings (environment):
#   WORKERS=2          number of workers, 1 to 8 (the benchmarks use 1, 2 and 4)
#   CITUS_DIR=DIR      where the data directories live (default: target/citus-cluster in the
#                      repository, so a fresh clone is self-contained; removed by `down`)
#   CITUS_PORT=25432   the coordinator's port; worker i listens on CITUS_PORT + i. Below 32768,
#                      where the kernel never hands out ports to outgoing connections.
#   CITUS_DB=pudo      the database created on every node (with the citus extension)
#   CITUS_SRC=FILE     Citus source tarball to build from when the extension is not installed
#                      (default: ../shared/citus/citus-13.2.2.tar.gz beside the repository);
#                      a patch `citus-pg15.20.patch` beside it is applied when present
#   PG_BIN=DIR         PostgreSQL 15 binaries (default: /usr/lib/postgresql/15/bin)
#
# Idempotent: `up` on a running cluster prints its URL again; `up` on a stopped one restarts
# its nodes; `down` with nothing up does nothing. Citus is built once per machine (about four
# minutes on two cores) and reused whenever citus.so is installed, however it was installed.
# Never touches any other PostgreSQL server (the machine's main one on 5432 included): every
# node is started from its own data directory, on its own port, listening on 127.0.0.1 only,
# with trust authentication for loopback connections only.
#
# PostgreSQL refuses to run as root: as root, the nodes run as the `postgres` system user
# (created by Debian's postgresql packages), which owns the cluster's directory.
set -euo pipefail

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*" >&2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CMD=${1:-}
case "$CMD" in up|down|status|stop-worker|start-worker) ;; *) die "usage: $0 up|down|status|stop-worker I|start-worker I (got '${CMD}')" ;; esac

WORKERS=${WORKERS:-2}
[[ "$WORKERS" =~ ^[1-8]$ ]] || die "WORKERS must be a number of workers from 1 to 8, not '$WORKERS'"
CITUS_PORT=${CITUS_PORT:-25432}
[[ "$CITUS_PORT" =~ ^[0-9]+$ ]] && [ "$CITUS_PORT" -ge 1024 ] && [ $((CITUS_PORT + WORKERS)) -lt 32768 ] ||
  die "CITUS_PORT must be a port from 1024 such that CITUS_PORT + WORKERS stays below 32768, not '$CITUS_PORT'"
CITUS_DB=${CITUS_DB:-pudo}
[[ "$CITUS_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "CITUS_DB must be a plain lower-case database name, not '$CITUS_DB'"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
CITUS_DIR=${CITUS_DIR:-$ROOT/target/citus-cluster}
case "$CITUS_DIR" in /*) ;; *) CITUS_DIR=$PWD/$CITUS_DIR ;; esac
MARKER=$CITUS_DIR/.pudo-citus-cluster
URL="postgres://postgres@127.0.0.1:$CITUS_PORT/$CITUS_DB"

# As root, PostgreSQL's programs run as the postgres user; otherwise as whoever runs this.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to run PostgreSQL as (apt-get install postgresql-15 creates it)"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi
psql_at() { # PORT SQL...: runs SQL on one node's database, prints unaligned rows
  local port=$1; shift
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$CITUS_DB" "$@"
}

nodes() { # name:port per node, coordinator first
  echo "coordinator:$CITUS_PORT"
  local i
  for i in $(seq 1 "$WORKERS"); do echo "worker$i:$((CITUS_PORT + i))"; done
}
running() { [ -f "$CITUS_DIR/$1/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$CITUS_DIR/$1" status >/dev/null 2>&1; }
port_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
# As PostgreSQL does: connections of a node stopped a moment ago (TIME_WAIT) do not count,
# a listening socket does.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# ---------------------------------------------------------------------------------------------
# Citus: installed, or built from source once per machine.

citus_installed() {
  local lib share
  lib=$("$PG_BIN/pg_config" --pkglibdir 2>/dev/null) && share=$("$PG_BIN/pg_config" --sharedir 2>/dev/null) &&
    [ -f "$lib/citus.so" ] && [ -f "$share/extension/citus.control" ]
}

build_citus() {
  local src=${CITUS_SRC:-}
  if [ -z "$src" ]; then
    src=$(cd "$ROOT/.." && pwd)/shared/citus/citus-13.2.2.tar.gz
    # A clone made elsewhere than beside shared/ finds the machine's copy at its usual place.
    [ -f "$src" ] || [ ! -f /work/shared/citus/citus-13.2.2.tar.gz ] \
      || src=/work/shared/citus/citus-13.2.2.tar.gz
    [ -f "$src" ] || die "Citus is not installed in $("$PG_BIN/pg_config" --pkglibdir 2>/dev/null || echo "$PG_BIN/..") and there is no source to build it from: set CITUS_SRC to a Citus source tarball (e.g. citus-13.2.2.tar.gz), or install Citus from its vendor's packages (default looked for: $src)"
  fi
  [ -f "$src" ] || die "CITUS_SRC=$src: no such file (expected a Citus source tarball, .tar.gz)"
  tar tzf "$src" >/dev/null 2>&1 || die "CITUS_SRC=$src is not a readable .tar.gz archive"
  [ "$(id -u)" = 0 ] || die "Citus must be built and installed into $("$PG_BIN/pg_config" --pkglibdir), which needs root (or install Citus from its vendor's packages)"
  local patch_file
  patch_file=$(dirname "$src")/citus-pg15.20.patch

  say "Citus is not installed: installing its build dependencies (apt-get)"
  apt-get update -qq >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential patch python3 \
    postgresql-server-dev-15 liblz4-dev libzstd-dev libkrb5-dev libselinux1-dev libxslt1-dev \
    libpam0g-dev libreadline-dev libcurl4-openssl-dev >/dev/null || die "apt-get install of Citus's build dependencies failed"

  local build=$ROOT/target/citus-build started=$SECONDS
  rm -rf "$build"; mkdir -p "$build/src"
  say "building Citus from $src in $build (about 4 minutes on two cores; log: $build/build.log)"
  tar xzf "$src" -C "$build/src" --strip-components=1
  [ -x "$build/src/configure" ] || die "$src does not hold a Citus source tree (no configure script at its top level)"
  if [ -f "$patch_file" ]; then
    say "applying $patch_file"
    (cd "$build/src" && patch -p1 --forward < "$patch_file" >>"$build/build.log" 2>&1) ||
      die "the patch $patch_file does not apply to $src (see $build/build.log)"
  fi
  (
    cd "$build/src"
    ./configure --without-libcurl PG_CONFIG="$PG_BIN/pg_config" &&
      make -j"$(nproc)" && make install
  ) >>"$build/build.log" 2>&1 || die "building Citus failed; the end of $build/build.log: $(tail -n 15 "$build/build.log")"
  citus_installed || die "Citus was built but citus.so or citus.control is still missing from the PostgreSQL install"
  rm -rf "$build/src"
  say "Citus built and installed in $((SECONDS - started)) s"
}

ensure_citus() {
  [ -x "$PG_BIN/initdb" ] || {
    [ "$(id -u)" = 0 ] || die "no PostgreSQL 15 server binaries in $PG_BIN (set PG_BIN, or install postgresql-15)"
    say "installing PostgreSQL 15 (apt-get)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null ||
      die "apt-get install postgresql-15 failed"
  }
  citus_installed && return 0
  # One build per machine, even when several worktrees or CI jobs start a cluster at once.
  exec 8>/tmp/pudo-citus-build.lock
  flock 8
  citus_installed || build_citus
  exec 8>&-
}

# ---------------------------------------------------------------------------------------------

up() {
  ensure_citus
  mkdir -p "$(dirname "$CITUS_DIR")"
  exec 9>"$CITUS_DIR.lock"
  flock 9

  if [ -d "$CITUS_DIR" ]; then
    [ -f "$MARKER" ] || die "$CITUS_DIR exists but was not made by this script (no $MARKER); choose another CITUS_DIR or remove it"
    local had
    had=$(cat "$MARKER")
    [ "$had" = "workers=$WORKERS port=$CITUS_PORT db=$CITUS_DB" ] ||
      die "$CITUS_DIR holds a cluster with $had, not workers=$WORKERS port=$CITUS_PORT db=$CITUS_DB: run '$0 down' first (it removes that cluster and its data)"
  fi

  # Every port is either ours (a node of this cluster already running) or free.
  local n name port
  for n in $(nodes); do
    name=${n%%:*}; port=${n##*:}
    running "$name" && continue
    port_free "$port" || die "port $port (for the $name) is taken by another process on 127.0.0.1; stop it or choose other ports with CITUS_PORT (worker i uses CITUS_PORT + i)"
  done

  mkdir -p "$CITUS_DIR"
  echo "workers=$WORKERS port=$CITUS_PORT db=$CITUS_DB" >"$MARKER"
  [ "$(id -u)" = 0 ] && chown postgres: "$CITUS_DIR"
  as_pg test -w "$CITUS_DIR" || die "the postgres user cannot write $CITUS_DIR (a parent directory not searchable by others?); choose another CITUS_DIR"

  for n in $(nodes); do
    name=${n%%:*}; port=${n##*:}
    local dir=$CITUS_DIR/$name
    if [ ! -f "$dir/PG_VERSION" ]; then
      rm -rf "$dir"
      as_pg "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$CITUS_DIR/$name.initdb.log" 2>&1 ||
        die "initdb of the $name failed: $(tail -n 5 "$CITUS_DIR/$name.initdb.log")"
      as_pg tee -a "$dir/postgresql.conf" >/dev/null <<EOF

# --- deploy/citus/cluster.sh ---
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_preload_libraries = 'citus'
max_connections = 300
# Citus commits a transaction that wrote on several nodes with two-phase commit.
max_prepared_transactions = 150
# Shard moves (citus_rebalance_start) use logical replication.
wal_level = logical
# A worker that is down fails the statements that need it within 2 s (default 30 s): pudo
# answers 503 for its regions instead of holding requests. Its connections to the workers
# give up a peer that vanished (no RST) within about 5-9 s (keepalives, unacknowledged data).
citus.node_connection_timeout = '2s'
citus.node_conninfo = 'sslmode=require keepalives_idle=5 keepalives_interval=2 keepalives_count=2 tcp_user_timeout=5000'
EOF
      # Trust, for loopback TCP connections only (no Unix socket is opened).
      as_pg tee "$dir/pg_hba.conf" >/dev/null <<EOF
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
EOF
    fi
    if ! running "$name"; then
      # The lock descriptors are closed for the server: a postmaster that inherited them
      # would hold the cluster's lock for as long as it runs.
      as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$CITUS_DIR/$name.log" -w -t 60 start >/dev/null 8>&- 9>&- ||
        die "the $name did not start on port $port: $(tail -n 5 "$CITUS_DIR/$name.log")"
    fi
  done

  for n in $(nodes); do
    port=${n##*:}
    if [ -z "$(psql_at "$port" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$CITUS_DB'")" ]; then
      psql_at "$port" -d postgres -c "CREATE DATABASE $CITUS_DB" >/dev/null
    fi
    psql_at "$port" -c "CREATE EXTENSION IF NOT EXISTS citus" >/dev/null
  done
  psql_at "$CITUS_PORT" -c "SELECT citus_set_coordinator_host('127.0.0.1', $CITUS_PORT)" >/dev/null
  local i
  for i in $(seq 1 "$WORKERS"); do
    psql_at "$CITUS_PORT" -c "SELECT citus_add_node('127.0.0.1', $((CITUS_PORT + i)))" >/dev/null
  done
  local active
  active=$(psql_at "$CITUS_PORT" -c "SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND isactive AND groupid <> 0")
  [ "$active" = "$WORKERS" ] || die "the coordinator sees $active active workers, expected $WORKERS"
  say "Citus $(psql_at "$CITUS_PORT" -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'"): coordinator on $CITUS_PORT, $WORKERS worker(s) on $((CITUS_PORT + 1))-$((CITUS_PORT + WORKERS)), data in $CITUS_DIR"
  echo "$URL"
}

down() {
  if [ ! -d "$CITUS_DIR" ]; then
    say "no cluster in $CITUS_DIR: nothing to stop"
    return 0
  fi
  [ -f "$MARKER" ] || die "$CITUS_DIR was not made by this script (no $MARKER); not removing it"
  exec 9>"$CITUS_DIR.lock"
  flock 9
  local d
  for d in "$CITUS_DIR"/*/; do
    d=${d%/}
    [ -f "$d/PG_VERSION" ] || continue
    if running "$(basename "$d")"; then
      as_pg "$PG_BIN/pg_ctl" -D "$d" -m fast -w -t 60 stop >/dev/null || die "could not stop the node in $d"
    fi
  done
  rm -rf "$CITUS_DIR"
  say "stopped and removed the cluster in $CITUS_DIR"
}

status() {
  if [ ! -f "$MARKER" ]; then
    echo "no cluster in $CITUS_DIR"
    return 3
  fi
  local had
  had=$(cat "$MARKER")
  WORKERS=$(sed -n 's/.*workers=\([0-9]*\).*/\1/p' "$MARKER")
  CITUS_PORT=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' "$MARKER")
  URL="postgres://postgres@127.0.0.1:$CITUS_PORT/$CITUS_DB"
  echo "cluster in $CITUS_DIR ($had)"
  local n name port down=0
  for n in $(nodes); do
    name=${n%%:*}; port=${n##*:}
    if running "$name"; then echo "  $name  127.0.0.1:$port  running"; else echo "  $name  127.0.0.1:$port  stopped"; down=1; fi
  done
  if running coordinator; then
    echo "nodes registered on the coordinator:"
    psql_at "$CITUS_PORT" -F ' ' -c "SELECT '  ' || nodeid, nodename || ':' || nodeport, noderole, CASE WHEN groupid = 0 THEN 'coordinator' ELSE 'worker' END, CASE WHEN isactive THEN 'active' ELSE 'inactive' END FROM pg_dist_node ORDER BY nodeid"
    echo "DATABASE_URL: $URL"
  fi
  return $down
}

# Stops or starts one worker of a running cluster (the others and the coordinator stay as they
# are): for trying what pudo does while a worker is down (docs/operations.md, "A worker down").
worker() {
  local action=$1 i=${2:-}
  [ -f "$MARKER" ] || die "no cluster in $CITUS_DIR"
  WORKERS=$(sed -n 's/.*workers=\([0-9]*\).*/\1/p' "$MARKER")
  CITUS_PORT=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' "$MARKER")
  [[ "$i" =~ ^[1-8]$ ]] && [ "$i" -le "$WORKERS" ] || die "$CMD needs a worker number from 1 to $WORKERS, not '$i'"
  local dir=$CITUS_DIR/worker$i
  if [ "$action" = stop ]; then
    running "worker$i" || { say "worker$i is not running"; return 0; }
    as_pg "$PG_BIN/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null || die "could not stop worker$i"
    say "worker$i (127.0.0.1:$((CITUS_PORT + i))) stopped"
  else
    running "worker$i" && { say "worker$i is already running"; return 0; }
    as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$CITUS_DIR/worker$i.log" -w -t 60 start >/dev/null ||
      die "worker$i did not start: $(tail -n 5 "$CITUS_DIR/worker$i.log")"
    say "worker$i (127.0.0.1:$((CITUS_PORT + i))) started"
  fi
}

case "$CMD" in
  stop-worker) worker stop "${2:-}" ;;
  start-worker) worker start "${2:-}" ;;
  *) "$CMD" ;;
esac
