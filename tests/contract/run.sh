#!/usr/bin/env bash
# API contract fuzzing: schemathesis (pinned in requirements.txt, installed into a venv under
# target/) runs against a live `pudo serve` on a fresh SQLite database — and, when
# CONTRACT_DATABASE_URL names a PostgreSQL server, on a fresh database there too — with the
# token of the role each group of routes is for. Every check of schemathesis must pass: no 5xx,
# no status code, content type, header or body that the OpenAPI document does not describe.
# The objects the document's examples name are made first (fixtures.py), and every operation
# must answer 2xx at least once (reach.py; tests/contract/unreachable.txt lists exceptions).
# Fails (never skips) when schemathesis cannot be installed or the server cannot start.
#
#   bash tests/contract/run.sh                 # SQLite, then PostgreSQL if reachable in CI
#   CONTRACT_EXAMPLES=200 bash tests/contract/run.sh   # a longer run
#   CONTRACT_GROUPS="merchant planner" bash tests/contract/run.sh   # only these groups
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
started=$(date +%s)

EXAMPLES="${CONTRACT_EXAMPLES:-25}"
SEED="${CONTRACT_SEED:-20261111}"
GROUPS_TO_RUN="${CONTRACT_GROUPS:-public admin merchant partner carrier planner}"
for group in $GROUPS_TO_RUN; do
  case "$group" in
    public|admin|merchant|partner|carrier|planner) ;;
    *) echo "unknown group $group (public admin merchant partner carrier planner)"; exit 1 ;;
  esac
done
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$TARGET/contract-venv"

echo "== schemathesis venv ($VENV)"
if [ ! -x "$VENV/bin/schemathesis" ] || ! cmp -s "$HERE/requirements.txt" "$VENV/requirements.txt"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # Nothing is cached outside the repository.
  PIP_NO_CACHE_DIR=1 "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/requirements.txt"
fi
"$VENV/bin/schemathesis" --version

echo "== cargo build"
cargo build --bin pudo
BIN="$TARGET/debug/pudo"

WORK="$(mktemp -d)"
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Hypothesis's own files (caches) go with the run, not into the repository.
export HYPOTHESIS_STORAGE_DIRECTORY="$WORK/hypothesis"
export PUDO_SEED=none
# Client errors are logged at warn: only errors (a 5xx, a panic) are of interest here.
export RUST_LOG="${CONTRACT_LOG:-error}"
export PUDO_JWT_SECRET="pudo-contract-tests-fixed-jwt-secret-0123456789"
export PUDO_WEBHOOK_POLL_MS=60000
export PUDO_SWEEP_SECS=3600
# The document bounds `days` of a hold extension by the largest setting (90): run with it.
export PUDO_HOLD_EXTENSION_MAX_DAYS=90

# One run of every group against a fresh database at $1 (a label for the output is $2).
contract_run() {
  local db_url="$1" label="$2"
  local port log url
  port="$(free_port)"
  log="$WORK/server-$label.log"
  url="http://127.0.0.1:$port"
  export DATABASE_URL="$db_url" PUDO_BIND="127.0.0.1:$port"

  echo "== [$label] importing the shops of tests/contract/shops.csv"
  "$BIN" import shops "$HERE/shops.csv" >"$WORK/import-$label.log" 2>&1 \
    || { cat "$WORK/import-$label.log"; return 1; }

  echo "== [$label] pudo serve on $url"
  "$BIN" serve >"$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 120); do
    if curl -fsS "$url/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "pudo serve exited:"; cat "$log"; return 1
    fi
    sleep 0.5
  done
  curl -fsS "$url/readyz" >/dev/null || { echo "pudo serve is not ready:"; cat "$log"; return 1; }

  local admin merchant carrier planner key partner
  admin="$("$BIN" token --role admin --sub contract-admin)"
  merchant="$("$BIN" token --role merchant --sub contract-merchant)"
  carrier="$("$BIN" token --role carrier --sub contract-carrier)"
  planner="$("$BIN" token --role planner --sub contract-planner)"
  key="$("$BIN" partner-key --shop ES-CT-SOL 2>/dev/null)"
  partner="$(curl -fsS -X POST "$url/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"shop\":\"ES-CT-SOL\",\"api_key\":\"$key\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')" \
    || { echo "no partner token:"; cat "$log"; return 1; }

  # The objects every route needs to answer 2xx (tests/contract/fixtures.py), and the document
  # schemathesis reads: the served one with the fixtures' random secrets as examples.
  echo "== [$label] fixtures"
  local doc="$WORK/openapi-$label.json"
  FIX_MERCHANT="$merchant" FIX_PARTNER="$partner" FIX_PLANNER="$planner" FIX_API_KEY="$key" \
    FIX_OWNER="$("$BIN" token --role merchant --sub contract-fixtures)" PUDO_BIN="$BIN" \
    python3 "$HERE/fixtures.py" "$url" "$doc" || { tail -n 40 "$log"; return 1; }

  # The server's request count before the run: the fixtures above are not schemathesis's.
  curl -fsS "$url/metrics" >"$WORK/metrics-before-$label.txt" \
    || { echo "cannot read $url/metrics"; return 1; }

  local status=0 group token filter reports=()
  # Always in this order, whatever CONTRACT_GROUPS lists: a group's fuzzing may change objects
  # that later groups' examples name (the carrier may redirect any parcel, so it comes after the
  # partner; the planner imports shops, so it comes last).
  for group in public admin merchant partner carrier planner; do
    case " $GROUPS_TO_RUN " in *" $group "*) ;; *) continue ;; esac
    case "$group" in
      public)   token="";          filter=(--include-tag customer --include-tag operations
                                         --exclude-path-regex '^/v1/ops/') ;;
      admin)    token="$admin";    filter=(--include-path-regex '^/v1/ops/') ;;
      merchant) token="$merchant"; filter=(--include-tag merchant) ;;
      partner)  token="$partner";  filter=(--include-tag partner) ;;
      carrier)  token="$carrier";  filter=(--include-tag carrier) ;;
      planner)  token="$planner";  filter=(--include-tag planner) ;;
    esac
    local auth=()
    [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
    echo "== [$label] schemathesis: $group routes"
    "$VENV/bin/schemathesis" --config-file "$HERE/schemathesis.toml" run "$doc" --url "$url" \
      "${filter[@]}" "${auth[@]}" \
      --max-examples "$EXAMPLES" \
      --seed "$SEED" \
      --generation-database none \
      --generation-allow-x00 false \
      --workers 1 \
      --request-timeout 20 \
      --output-sanitize true \
      --no-color \
      --report junit --report-dir "$WORK/report-$label-$group" \
      || status=1
    reports+=("$WORK/report-$label-$group")
  done
  # Which operations reached their success path (2xx), from the server's own count.
  if curl -fsS "$url/metrics" >"$WORK/metrics-after-$label.txt"; then
    python3 "$HERE/reach.py" "$label" "$WORK/metrics-before-$label.txt" \
      "$WORK/metrics-after-$label.txt" "$HERE/unreachable.txt" "${reports[@]}" || status=1
  else
    echo "== [$label] cannot read $url/metrics after the run"; status=1
  fi
  if [ "$status" -ne 0 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
    status=1
    echo "== [$label] server log (last 80 lines)"; tail -n 80 "$log"
  elif grep -q "panicked" "$log"; then
    status=1
    echo "== [$label] the server panicked:"; grep -n -A5 "panicked" "$log"
  fi
  stop_server
  return "$status"
}

overall=0
contract_run "sqlite://$WORK/contract.db" sqlite || overall=1

# PostgreSQL: a fresh database on the server of CONTRACT_DATABASE_URL (default in CI: the
# local one the tests use), dropped afterwards.
PG_URL="${CONTRACT_DATABASE_URL:-${CI:+postgres://postgres@127.0.0.1:5432/test}}"
if [ -n "$PG_URL" ]; then
  command -v psql >/dev/null || { echo "psql is needed for the PostgreSQL run"; exit 1; }
  db="pudo_contract_$$"
  base="${PG_URL%/*}"
  psql -q "$PG_URL" -c "CREATE DATABASE $db" \
    || { echo "cannot create a database on ${PG_URL%%\?*}"; exit 1; }
  contract_run "$base/$db" postgres || overall=1
  psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
fi

echo "== contract tests finished in $(( $(date +%s) - started )) s, exit $overall"
exit "$overall"
