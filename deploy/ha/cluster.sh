#!/usr/bin/env bash
# A pg_auto_failover cluster on this machine for development, tests and CI: a monitor and two
# PostgreSQL 15 data nodes (a primary and a synchronous secondary), each with its own data
# directory and fixed loopback port, each supervised by its own `pg_autoctl` keeper.
#
#   deploy/ha/cluster.sh up        # installs pg_auto_failover if missing, starts the cluster;
#                                  # the last line on stdout is the multi-host DATABASE_URL
#   deploy/ha/cluster.sh status    # pg_autoctl show state, and synchronous replication
#   deploy/ha/cluster.sh failover  # pg_autoctl perform failover, then waits until the new
#                                  # primary takes writes (prints how long that took)
#   deploy/ha/cluster.sh down      # stops everything and removes the cluster's directory
#
#   export DATABASE_URL=$(deploy/ha/cluster.sh up | tail -n1)
#
# Settings (environment):
#   HA_DIR=DIR       where the data directories, keeper configuration and logs live (default:
#                    target/ha-cluster in the repository, so a fresh clone is self-contained;
#                    removed by `down`)
#   HA_PORT=26432    the monitor's port; data node i (1, 2) listens on HA_PORT + i. Below
#                    32768, where the kernel never hands out ports to outgoing connections.
#   HA_DB=pudo       the database created on the primary (and replicated)
#   HA_FAST=1        fast-failover timeouts (below); HA_FAST=0 keeps pg_auto_failover's defaults
#   PG_BIN=DIR       PostgreSQL 15 binaries (default: /usr/lib/postgresql/15/bin)
#
# Idempotent: `up` on a running cluster prints its URL again; `up` on a stopped one starts its
# keepers again; `down` with nothing up does nothing. Never touches any other PostgreSQL server
# (the machine's main one on 5432 included): every node has its own data directory and port,
# listens on 127.0.0.1 only, and trusts loopback connections only.
#
# Replication: pg_auto_failover with one primary and one secondary keeps
# `number_sync_standbys = 0` and sets the primary's `synchronous_standby_names` to
# 'ANY 1 (pgautofailover_standby_N)' while the secondary is healthy, with the default
# `synchronous_commit = on`: a COMMIT returns only once the secondary has flushed its WAL.
# When the secondary is lost, the monitor moves the primary to `wait_primary`, which empties
# `synchronous_standby_names` so that writes go on without a standby (availability first);
# that is also the state of a newly promoted primary until the old one rejoins.
# `status` prints both settings as the primary has them.
#
# Fast failover (HA_FAST=1, the default; docs/operations.md, "Failover with pg_auto_failover"):
# with pg_auto_failover's defaults a dead primary (keeper and PostgreSQL gone) is promoted
# away from after ~50 s: the monitor waits for 20 s without a keeper report
# (node_considered_unhealthy_timeout) and a failed health check, then 30 s for the old primary
# to drain (primary_demote_timeout), which a dead node never reports. The demote timeout must
# stay above the keepers' network_partition_timeout: a primary cut off from the monitor and the
# standby stops itself after that long, so it is down before the standby is promoted. Set here:
#   monitor: health_check_period 1000 ms, health_check_timeout 1000 ms,
#            health_check_max_retries 2, health_check_retry_delay 500 ms,
#            node_considered_unhealthy_timeout 4000 ms, primary_demote_timeout 8000 ms
#   keepers: timeout.network_partition_timeout 5 s (< 8 s demote timeout),
#            timeout.postgresql_restart_failure_timeout 5 s
#
# PostgreSQL refuses to run as root: as root, the keepers and nodes run as the `postgres` system
# user (created by Debian's postgresql packages), which owns the cluster's directory.
set -euo pipefail

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*" >&2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CMD=${1:-}
case "$CMD" in up|down|status|failover) ;; *) die "usage: $0 up|down|status|failover (got '${CMD}')" ;; esac

HA_PORT=${HA_PORT:-26432}
[[ "$HA_PORT" =~ ^[0-9]+$ ]] && [ "$HA_PORT" -ge 1024 ] && [ $((HA_PORT + 2)) -lt 32768 ] ||
  die "HA_PORT must be a port from 1024 such that HA_PORT + 2 stays below 32768, not '$HA_PORT'"
[ "$HA_PORT" -le 5432 ] && [ $((HA_PORT + 2)) -ge 5432 ] && die "HA_PORT: the ports must not include 5432"
HA_DB=${HA_DB:-pudo}
[[ "$HA_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "HA_DB must be a plain lower-case database name, not '$HA_DB'"
HA_FAST=${HA_FAST:-1}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
HA_DIR=${HA_DIR:-$ROOT/target/ha-cluster}
case "$HA_DIR" in /*) ;; *) HA_DIR=$PWD/$HA_DIR ;; esac
MARKER=$HA_DIR/.pudo-ha-cluster
MONITOR_PORT=$HA_PORT
NODE1_PORT=$((HA_PORT + 1))
NODE2_PORT=$((HA_PORT + 2))
MONITOR_URI="postgres://autoctl_node@127.0.0.1:$MONITOR_PORT/pg_auto_failover?sslmode=disable"
URL="postgres://postgres@127.0.0.1:$NODE1_PORT,127.0.0.1:$NODE2_PORT/$HA_DB?target_session_attrs=read-write"

# pg_autoctl keeps its configuration and state under XDG directories (by default in the
# postgres user's home): they go into the cluster's directory, so that `down` leaves nothing.
export XDG_CONFIG_HOME=$HA_DIR/xdg/config XDG_DATA_HOME=$HA_DIR/xdg/data XDG_RUNTIME_DIR=$HA_DIR/xdg/run
export PG_CONFIG=$PG_BIN/pg_config PATH=$PG_BIN:$PATH
ENVS=(env "XDG_CONFIG_HOME=$XDG_CONFIG_HOME" "XDG_DATA_HOME=$XDG_DATA_HOME" "XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"
  "PG_CONFIG=$PG_CONFIG" "PATH=$PATH")
if [ "$(id -u)" = 0 ]; then
  as_pg() { runuser -u postgres -- "${ENVS[@]}" "$@"; }
else
  as_pg() { "${ENVS[@]}" "$@"; }
fi
psql_at() { # PORT DB SQL: one statement on one node, unaligned rows
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$2" -c "$3"
}
now_ms() { date +%s%3N; }

port_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
# As PostgreSQL binds: connections of a cluster just stopped may linger in TIME_WAIT.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# The keeper of DIR is running: pg_autoctl writes its pid into a file under XDG_RUNTIME_DIR.
keeper_pid() { head -n1 "$XDG_RUNTIME_DIR/pg_autoctl$1/pg_autoctl.pid" 2>/dev/null; }
keeper_running() { local pid; pid=$(keeper_pid "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
created() { [ -f "$XDG_CONFIG_HOME/pg_autoctl$1/pg_autoctl.cfg" ]; }

install_if_missing() {
  if [ -x /usr/bin/pg_autoctl ] && [ -f /usr/share/postgresql/15/extension/pgautofailover.control ] &&
    [ -x "$PG_BIN/pg_ctl" ]; then
    return
  fi
  [ "$(id -u)" = 0 ] || die "pg_auto_failover is not installed; as root this script installs it with apt-get"
  say "installing postgresql-15-auto-failover and pg-auto-failover-cli with apt-get"
  local started; started=$(date +%s)
  export DEBIAN_FRONTEND=noninteractive
  # Other jobs on the machine may hold the dpkg lock for a while: wait for it, not fail.
  apt-get -o DPkg::Lock::Timeout=600 update -q >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
    postgresql-15 postgresql-15-auto-failover pg-auto-failover-cli >&2
  say "installed in $(( $(date +%s) - started )) s"
}

stop_postgres() { # DIR: stops a PostgreSQL that `pg_autoctl create` left running, if any
  [ -f "$1/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$1" stop -m fast -w >/dev/null 2>&1 || true
}
start_keeper() { # DIR: runs `pg_autoctl run` in the background, detached, logging to DIR.log
  local dir=$1
  keeper_running "$dir" && return
  kill_orphans
  as_pg setsid nohup pg_autoctl run --pgdata "$dir" >>"$dir.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 100); do keeper_running "$dir" && return; sleep 0.1; done
  die "the keeper of $dir did not start; see $dir.log"
}

# Loopback only: listen on 127.0.0.1, and pg_hba trusts 127.0.0.1 and the local socket only
# (pg_autoctl's own rules are skipped with --skip-pg-hba).
LOOPBACK_HBA='local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    replication     all             127.0.0.1/32            trust
local   replication     all                                     trust'

node_state() { # NAME: the node's current state as the monitor sees it
  psql_at "$MONITOR_PORT" pg_auto_failover \
    "SELECT reportedstate FROM pgautofailover.node WHERE nodename = '$1'" 2>/dev/null || true
}
wait_for() { # SECONDS WHAT COMMAND...: retries COMMAND every 0.2 s
  local secs=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || { say "timed out after ${secs}s waiting for $what"; return 1; }
    sleep 0.2
  done
}
states_are() { # NODE1_STATE NODE2_STATE
  [ "$(node_state node1)" = "$1" ] && [ "$(node_state node2)" = "$2" ]
}
monitor_answers() { psql_at "$MONITOR_PORT" pg_auto_failover "SELECT 1" >/dev/null 2>&1; }
single_node1() { [ "$(node_state node1)" = single ] || [ "$(node_state node1)" = primary ]; }
settled() { states_are primary secondary || states_are secondary primary; }
# A write commits: txid_current() needs a writable primary, and its COMMIT waits for the
# synchronous standby when one is required (bounded by `timeout`).
writable() { timeout 5 "$PG_BIN/psql" -X -q -At "$URL" -c "SELECT txid_current()" >/dev/null 2>&1; }

up() {
  install_if_missing
  if [ -f "$MARKER" ] && keeper_running "$HA_DIR/monitor" && keeper_running "$HA_DIR/node1" &&
    keeper_running "$HA_DIR/node2"; then
    wait_for 120 "both nodes up" settled || die "the cluster runs but has not settled; see $0 status"
    say "already up"
    echo "$URL"
    return
  fi
  if [ -e "$HA_DIR" ] && [ ! -f "$MARKER" ]; then
    die "$HA_DIR exists but is not a cluster made by this script; remove it or set HA_DIR"
  fi
  local started; started=$(date +%s)
  mkdir -p "$HA_DIR" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
  touch "$MARKER"
  chmod 700 "$XDG_RUNTIME_DIR"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$HA_DIR"
  as_pg test -w "$HA_DIR" || die "the postgres user cannot write $HA_DIR (a parent directory closed to it?)"

  # Monitor.
  if ! created "$HA_DIR/monitor"; then
    port_free "$MONITOR_PORT" || die "port $MONITOR_PORT is taken; set HA_PORT"
    say "creating the monitor on port $MONITOR_PORT"
    as_pg pg_autoctl create monitor --pgdata "$HA_DIR/monitor" --pgport "$MONITOR_PORT" \
      --hostname 127.0.0.1 --skip-pg-hba --no-ssl --pgctl "$PG_BIN/pg_ctl" \
      >>"$HA_DIR/monitor.log" 2>&1 || die "pg_autoctl create monitor failed; see $HA_DIR/monitor.log"
    stop_postgres "$HA_DIR/monitor"
    printf '%s\n' "$LOOPBACK_HBA" >"$HA_DIR/monitor/pg_hba.conf"
    # The keeper starts the monitor's PostgreSQL with `-h <this>` (default *).
    as_pg pg_autoctl config set --pgdata "$HA_DIR/monitor" postgresql.listen_addresses 127.0.0.1 >/dev/null
    {
      echo "shared_buffers = '64MB'"
      if [ "$HA_FAST" = 1 ]; then
        echo "pgautofailover.health_check_period = 1000"
        echo "pgautofailover.health_check_timeout = 1000"
        echo "pgautofailover.health_check_max_retries = 2"
        echo "pgautofailover.health_check_retry_delay = 500"
        echo "pgautofailover.node_considered_unhealthy_timeout = 4000"
        echo "pgautofailover.primary_demote_timeout = 8000"
      fi
    } >>"$HA_DIR/monitor/postgresql.auto.conf"
  fi
  start_keeper "$HA_DIR/monitor"
  wait_for 60 "the monitor" monitor_answers ||
    die "the monitor does not answer; see $HA_DIR/monitor.log"

  # Data nodes: node1 first (it becomes the primary), then node2 (cloned from it).
  local n port dir fresh=""
  created "$HA_DIR/node1" || fresh=1
  for n in 1 2; do
    dir=$HA_DIR/node$n
    port=$((HA_PORT + n))
    if ! created "$dir"; then
      port_free "$port" || die "port $port is taken; set HA_PORT"
      say "creating node$n on port $port"
      as_pg pg_autoctl create postgres --pgdata "$dir" --pgport "$port" --pghost 127.0.0.1 \
        --listen 127.0.0.1 --hostname 127.0.0.1 --name "node$n" --dbname "$HA_DB" \
        --username postgres --monitor "$MONITOR_URI" --skip-pg-hba --no-ssl \
        --pgctl "$PG_BIN/pg_ctl" >>"$dir.log" 2>&1 || die "pg_autoctl create postgres failed; see $dir.log"
      if [ "$n" = 1 ]; then
        # node2's pg_basebackup copies these files of node1.
        stop_postgres "$dir"
        printf '%s\n' "$LOOPBACK_HBA" >"$dir/pg_hba.conf"
        # pg_autoctl sizes memory for a machine of its own (shared_buffers a quarter of RAM,
        # wal_keep_size 8 GB): a test cluster shares this one.
        printf '%s\n' "shared_buffers = '128MB'" "effective_cache_size = '1GB'" \
          "maintenance_work_mem = '64MB'" "work_mem = '8MB'" "wal_keep_size = '512MB'" \
          >>"$dir/postgresql.auto.conf"
      fi
      if [ "$HA_FAST" = 1 ]; then
        as_pg pg_autoctl config set --pgdata "$dir" timeout.network_partition_timeout 5 >/dev/null
        as_pg pg_autoctl config set --pgdata "$dir" timeout.postgresql_restart_failure_timeout 5 >/dev/null
      fi
    fi
    start_keeper "$dir"
    # A new cluster: node2 is cloned from node1 once node1 runs as the single node.
    if [ "$n" = 1 ] && [ -n "$fresh" ]; then
      wait_for 120 "node1 to be the single primary" single_node1 || die "node1 did not start; see $dir.log"
    fi
  done
  wait_for 180 "a primary and a secondary" settled || die "the cluster did not settle; see $HA_DIR/*.log and $0 status"
  wait_for 60 "a writable primary" writable || die "no writable primary; see $0 status"
  say "up in $(( $(date +%s) - started )) s (logs: $HA_DIR/*.log)"
  echo "$URL"
}

status() {
  [ -f "$MARKER" ] || { say "no cluster in $HA_DIR"; return 0; }
  as_pg pg_autoctl show state --pgdata "$HA_DIR/monitor" || true
  local port
  for port in "$NODE1_PORT" "$NODE2_PORT"; do
    psql_at "$port" "$HA_DB" "SELECT 'port $port: in_recovery=' || pg_is_in_recovery()
      || ', synchronous_standby_names=' || quote_literal(current_setting('synchronous_standby_names'))
      || ', synchronous_commit=' || current_setting('synchronous_commit')" 2>/dev/null ||
      echo "port $port: not answering"
  done
  psql_at "$MONITOR_PORT" pg_auto_failover "SELECT 'formation ' || formationid || ': number_sync_standbys='
    || number_sync_standbys FROM pgautofailover.formation" 2>/dev/null || true
}

primary_port() { # the port of the node the multi-host URL reaches for writes, if any
  timeout 5 "$PG_BIN/psql" -X -q -At "$URL" -c "SELECT inet_server_port() WHERE txid_current() > 0" 2>/dev/null
}
new_primary_writable() { local p; p=$(primary_port) && [ -n "$p" ] && [ "$p" != "$1" ]; }

failover() {
  [ -f "$MARKER" ] || die "no cluster in $HA_DIR; run $0 up"
  wait_for 120 "a primary and a secondary" settled || die "the cluster has not settled; see $0 status"
  local before t0 t1 perform
  before=$(primary_port) || die "no writable primary before the failover"
  say "performing a failover (primary now: port $before)"
  t0=$(now_ms)
  # `perform failover` returns once the new primary is `primary`, i.e. once the old one has
  # rejoined as secondary; writes are possible earlier (wait_primary), so that is timed apart.
  as_pg pg_autoctl perform failover --pgdata "$HA_DIR/monitor" --group 0 --wait 120 >"$HA_DIR/failover.log" 2>&1 &
  perform=$!
  wait_for 120 "a new writable primary" new_primary_writable "$before" || die "no new writable primary; see $HA_DIR/failover.log"
  t1=$(now_ms)
  say "a new primary (port $(primary_port)) took a write $(( t1 - t0 )) ms after the failover began"
  wait "$perform" || say "pg_autoctl perform failover failed; see $HA_DIR/failover.log"
  wait_for 120 "the old primary to rejoin as secondary" settled || say "not yet settled; see $0 status"
  say "settled (primary and synchronous secondary) $(( $(now_ms) - t0 )) ms after the failover began"
  echo "$URL"
}

# A keeper killed alone (SIGKILL, the OOM killer) leaves its children running, orphaned: its
# "start/stop postgres" service then restarts PostgreSQL, as the primary it was, without the
# "node active" service that would demote it as the monitor asks. Before a keeper is started
# again, this cluster's orphaned pg_autoctl processes go (a service manager does this with
# KillMode=control-group: docs/operations.md).
kill_orphans() {
  local pid orphans=""
  for pid in $(cluster_pids keepers); do
    # The parent's pid is the second field after the command name, which may hold spaces.
    [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $2}')" = 1 ] || continue
    case "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" in "pg_autoctl:"*) orphans="$orphans $pid" ;; esac
  done
  [ -z "$orphans" ] && return
  say "killing orphaned pg_autoctl processes:$orphans"
  kill -KILL $orphans 2>/dev/null || true
}

cluster_pids() { # [keepers]: this cluster's processes (only pg_autoctl's with "keepers")
  local d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" = "$$" ] && continue
    if [ "${1:-}" != keepers ]; then
      case "$(readlink "$d/cwd" 2>/dev/null)/" in "$HA_DIR"/*) echo "$pid"; continue ;; esac
    fi
    if { tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qxF "XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"; then
      echo "$pid"
    fi
  done
}

down() {
  [ -e "$HA_DIR" ] || { say "nothing to stop"; return 0; }
  [ -f "$MARKER" ] || die "$HA_DIR is not a cluster made by this script; not removing it"
  local dir pid left
  for dir in "$HA_DIR/node2" "$HA_DIR/node1" "$HA_DIR/monitor"; do
    if keeper_running "$dir"; then
      as_pg pg_autoctl stop --pgdata "$dir" --fast >/dev/null 2>&1 || true
      pid=$(keeper_pid "$dir")
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  # Whatever is left, this cluster's processes only: first pg_autoctl's (found by the
  # XDG_RUNTIME_DIR given to them; a keeper's child outliving a killed keeper would start its
  # PostgreSQL again), then PostgreSQL's (found by their working directory, the data directory).
  left=$(cluster_pids keepers)
  [ -z "$left" ] || { say "killing pg_autoctl processes left over: $(echo $left)"; kill -KILL $left 2>/dev/null || true; }
  for dir in "$HA_DIR/node2" "$HA_DIR/node1" "$HA_DIR/monitor"; do
    [ -f "$dir/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$dir" stop -m immediate -w >/dev/null 2>&1 || true
  done
  left=$(cluster_pids)
  [ -z "$left" ] || { say "killing processes left over: $(echo $left)"; kill -KILL $left 2>/dev/null || true; sleep 0.5; }
  rm -rf "$HA_DIR"
  say "stopped and removed $HA_DIR"
}

"$CMD"
