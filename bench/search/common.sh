# Shared by bench/search/run.sh and bench/search/ab.sh (sourced, not run). Expects ROOT, OUT,
# PG and PORT to be set, and the working directory to be ROOT.

# Prints the path of the benches/httpload executable (built by `cargo bench --no-run`).
httpload_bin() {
  local bin
  bin=$(cargo bench --bench httpload --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.executable != null and .target.name == "httpload") | .executable')
  [[ -x $bin ]] || { echo "no httpload executable (cargo bench --bench httpload --no-run)" >&2; return 1; }
  echo "$bin"
}

# Starts BINARY (`pudo serve`) on the CN network in $OUT/serve.db, logging to $OUT/serve.log,
# and waits until it is ready; SERVER_PID is its pid. serve_stop ends it.
serve_start() {
  if curl -s "http://127.0.0.1:$PORT/readyz" >/dev/null; then
    echo "port $PORT is already serving; stop that server first" >&2
    return 1
  fi
  env RUST_LOG=warn PUDO_SEED=none DATABASE_URL="sqlite://$OUT/serve.db" PUDO_BIND="127.0.0.1:$PORT" \
    "$1" serve >"$OUT/serve.log" 2>&1 &
  SERVER_PID=$!
  trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "$1 did not start (see $OUT/serve.log)" >&2; return 1; }
    sleep 1
  done
  echo "$1 was not ready after 300 s (see $OUT/serve.log)" >&2
  return 1
}

serve_stop() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  trap - EXIT
}

# pgbench on the KNN query with 32 clients and LOAD_THREADS threads; add `-T SECONDS` and the
# database: "${PGBENCH_KNN[@]}" -T 20 "$PG/pudo_bench_postgis". An array, not a function, so that
# `&` gives pgbench's own pid (run.sh reads its CPU time).
PGBENCH_KNN=(pgbench -n -M prepared -c 32 -j "${LOAD_THREADS:-1}" -f "$ROOT/bench/search/knn.sql")
