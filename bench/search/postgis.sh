#!/usr/bin/env bash
# Map areas (`bbox`) and text search (`q=`) over HTTP under load against the equivalent
# PostGIS / PostgreSQL queries under load, in the same run (issue 20; BENCHMARKS.md, "Map areas
# and text search over HTTP under load vs PostGIS and pg_trgm"):
#
#   bench/search/postgis.sh [prepare|check|streets|cities|text|all] ...
#
# prepare  installs PostGIS, wrk and jq with apt-get when missing; writes the CN shop file, the
#          requests (bench/search/area_requests.py) and a pudo database of the same shops under
#          $PUDO_BENCH_DIR (default /tmp/bench); loads the shops into the scratch database
#          pudo_bench_area on $PUDO_BENCH_PG (default postgres://postgres@127.0.0.1:5432; the
#          only database this script creates or drops) with a GiST index on the point and a
#          pg_trgm GIN index on the searched text.
# check    compares pudo's answers with PostgreSQL's for every 10th request of each family.
# streets  boxes of 0.002-0.02 degrees (points): pudo `bbox=` against `geom && ST_MakeEnvelope`.
# cities   boxes of 0.1-0.6 degrees (mostly clusters): pudo `bbox=` against the same envelope
#          with the matching rows counted and averaged per grid cell (PostGIS has no H3).
# text     pudo `q=` against `ILIKE` on the trigram index.
#
# Each family runs $PUDO_BENCH_ROUNDS rounds (default 3): pgbench, then wrk against the release
# `pudo serve` (fresh, warmed up 5 s), then pgbench again; pudo's ratio is taken against the
# mean of its round's two pgbench runs. Both load generators use one thread and 32 connections
# and share the 2 cores with the server under test; pgbench talks to PostgreSQL directly with
# prepared statements (`-M prepared`), no HTTP in between: the generous comparison for
# PostgreSQL. Every run is bounded ($PUDO_BENCH_DURATION seconds, default 20) and on 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${PUDO_BENCH_DIR:-/tmp/bench}
PG=${PUDO_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PORT=${PUDO_BENCH_PORT:-8089}
DURATION=${PUDO_BENCH_DURATION:-20}
ROUNDS=${PUDO_BENCH_ROUNDS:-3}
LOAD_THREADS=${PUDO_BENCH_LOAD_THREADS:-1}
CONNECTIONS=32
DB=pudo_bench_area
PUDO=${PUDO_BENCH_BIN:-$ROOT/target/release/pudo}
mkdir -p "$OUT"
cd "$ROOT"

# shellcheck source=bench/search/common.sh
source "$ROOT/bench/search/common.sh"

say() { printf '\n== %s\n' "$*"; }
wait_quiet() { "$ROOT/bench/search/quiet.sh"; }
sql() { psql -X -q -v ON_ERROR_STOP=1 "$PG/$DB" "$@"; }

tools() {
  local need=()
  command -v wrk >/dev/null || need+=(wrk)
  command -v jq >/dev/null || need+=(jq)
  command -v pgbench >/dev/null || need+=(postgresql-contrib)
  [[ -f /usr/share/postgresql/15/extension/postgis.control ]] || need+=(postgresql-15-postgis-3)
  if ((${#need[@]})); then
    local sudo=; [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  fi
  [[ -x $PUDO ]] || { echo "no $PUDO: build it first (cargo build --release)" >&2; exit 2; }
}

prepare() {
  say "prepare: shops, requests, pudo database, PostgreSQL table and indexes"
  [[ -f $OUT/cn.csv ]] || env RUST_LOG=warn "$PUDO" seed --country CN --out "$OUT/cn.csv"
  python3 "$ROOT/bench/search/area_requests.py" "$OUT/cn.csv" "$OUT"
  if [[ ! -f $OUT/serve.db ]]; then
    echo "seeding $OUT/serve.db with the CN network"
    env RUST_LOG=warn DATABASE_URL="sqlite://$OUT/serve.db" "$PUDO" seed --country CN
  fi
  if [[ -z $(psql -X -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'" "$PG/postgres") ]]; then
    psql -X -q -c "CREATE DATABASE $DB" "$PG/postgres"
  fi
  sql -c 'CREATE EXTENSION IF NOT EXISTS postgis' -c 'CREATE EXTENSION IF NOT EXISTS pg_trgm'
  local rows
  rows=$(($(wc -l < "$OUT/cn.csv") - 1))
  if [[ $(sql -Atc "SELECT count(*) FROM area_shops" 2>/dev/null || echo 0) != "$rows" || -n ${PUDO_BENCH_RELOAD:-} ]]; then
    # Every column of the shop file as text, numbered in file order: pudo numbers the same
    # shops 1.. in the same order when it seeds them.
    local header columns
    header=$(head -1 "$OUT/cn.csv")
    columns=$(tr ',' '\n' <<<"$header" | sed 's/.*/"&" text/' | paste -sd,)
    sql <<SQL
DROP TABLE IF EXISTS area_shops_file, area_shops;
CREATE TABLE area_shops_file (id bigserial PRIMARY KEY, $columns);
\\copy area_shops_file ($header) FROM '$OUT/cn.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE area_shops AS
  SELECT id, external_id, name, latitude::float8 AS latitude, longitude::float8 AS longitude,
         capacity::int AS capacity, timezone, opening_hours, status,
         string_to_array(services, '|') AS services, street, postcode, city,
         ST_SetSRID(ST_MakePoint(longitude::float8, latitude::float8), 4326) AS geom,
         concat_ws(' ', name, external_id, street, postcode, city) AS search
    FROM area_shops_file ORDER BY id;
DROP TABLE area_shops_file;
ALTER TABLE area_shops ADD PRIMARY KEY (id);
CREATE INDEX area_shops_geom ON area_shops USING gist (geom);
CREATE INDEX area_shops_search ON area_shops USING gin (search gin_trgm_ops);
VACUUM ANALYZE area_shops;
SQL
  fi
  sql <<SQL
DROP TABLE IF EXISTS area_boxes, text_queries;
CREATE TABLE area_boxes (family text, i int, w float8, s float8, e float8, n float8,
                         PRIMARY KEY (family, i));
CREATE TEMPORARY TABLE box_file (i serial, w float8, s float8, e float8, n float8);
\\copy box_file (w, s, e, n) FROM '$OUT/area-streets.csv' WITH (FORMAT csv)
INSERT INTO area_boxes SELECT 'streets', i, w, s, e, n FROM box_file;
TRUNCATE box_file RESTART IDENTITY;
\\copy box_file (w, s, e, n) FROM '$OUT/area-cities.csv' WITH (FORMAT csv)
INSERT INTO area_boxes SELECT 'cities', i, w, s, e, n FROM box_file;
CREATE TABLE text_queries (i serial PRIMARY KEY, q text, pattern text);
\\copy text_queries (q, pattern) FROM '$OUT/text-queries.csv' WITH (FORMAT csv)
VACUUM ANALYZE area_boxes;
VACUUM ANALYZE text_queries;
SQL
  sql -Atc "SELECT 'PostgreSQL: ' || count(*) || ' shops; ' || pg_size_pretty(pg_relation_size('area_shops')) || ' table, '
              || pg_size_pretty(pg_relation_size('area_shops_geom')) || ' GiST, '
              || pg_size_pretty(pg_relation_size('area_shops_search')) || ' trigram GIN' FROM area_shops"
  sql -Atc "SELECT 'PostGIS ' || postgis_lib_version() || ', ' || (SELECT 'pg_trgm ' || extversion FROM pg_extension WHERE extname = 'pg_trgm')"
}

# The pgbench scripts: one request each, the box or query picked at random among the 2,000
# (read in an InitPlan, so the index scan still gets it as a parameter).
write_scripts() {
  local columns="id, external_id, name, latitude, longitude, capacity, timezone, opening_hours, status, services, street, postcode, city"
  cat > "$OUT/pg-streets.sql" <<SQL
\\set i random(1, 2000)
SELECT $columns FROM area_shops
 WHERE geom && (SELECT ST_MakeEnvelope(w, s, e, n, 4326) FROM area_boxes WHERE family = 'streets' AND i = :i)
   AND status = 'active' AND services @> '{pickup}'
 LIMIT 101;
SQL
  # A grid of about a dozen cells across the box, as pudo's H3 resolution gives.
  cat > "$OUT/pg-cities.sql" <<SQL
\\set i random(1, 2000)
SELECT count(*), avg(latitude), avg(longitude)
  FROM area_shops, (SELECT ST_MakeEnvelope(w, s, e, n, 4326) AS box, (n - s) / 12 AS cell
                      FROM area_boxes WHERE family = 'cities' AND i = :i) b
 WHERE geom && b.box AND status = 'active' AND services @> '{pickup}'
 GROUP BY ST_SnapToGrid(geom, b.cell);
SQL
  cat > "$OUT/pg-text.sql" <<SQL
\\set i random(1, 2000)
SELECT $columns FROM area_shops
 WHERE search ILIKE (SELECT pattern FROM text_queries WHERE i = :i)
   AND status = 'active' AND services @> '{pickup}'
 LIMIT 10;
SQL
}

# pudo's and PostgreSQL's answers for every 10th request: the same number of points for the
# street boxes (all matching points; edges included on both sides), and for the text queries
# whether both find something (pudo matches word beginnings, ILIKE any substring: the counts
# differ by design).
check() {
  say "check: pudo's answers against PostgreSQL's (every 10th request)"
  write_scripts
  serve_start "$PUDO"
  local same=0 differ=0 line n_pudo n_pg w s e n
  while IFS=, read -r w s e n; do
    n_pudo=$(curl -sf "http://127.0.0.1:$PORT/v1/pickup-points?bbox=$w,$s,$e,$n" | jq '.total')
    n_pg=$(sql -Atc "SELECT count(*) FROM area_shops WHERE geom && ST_MakeEnvelope($w, $s, $e, $n, 4326) AND status = 'active' AND services @> '{pickup}'")
    if [[ $n_pudo == "$n_pg" ]]; then same=$((same + 1)); else differ=$((differ + 1)); echo "box $w,$s,$e,$n: pudo $n_pudo, PostgreSQL $n_pg"; fi
  done < <(awk 'NR % 10 == 1' "$OUT/area-streets.csv")
  echo "street boxes: $same with the same count, $differ differ"
  same=0; differ=0
  while read -r line; do
    n_pudo=$(curl -sf "http://127.0.0.1:$PORT$line" | jq '.items | length')
    local q
    q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1]))' "${line#*q=}")
    n_pg=$(sql -Atc "SELECT count(*) FROM (SELECT 1 FROM area_shops WHERE search ILIKE (SELECT pattern FROM text_queries WHERE q = \$\$${q}\$\$ LIMIT 1) AND status = 'active' AND services @> '{pickup}' LIMIT 10) t")
    if [[ $n_pudo == "$n_pg" ]]; then same=$((same + 1)); else differ=$((differ + 1)); fi
  done < <(awk 'NR % 10 == 1' "$OUT/text-queries.paths")
  echo "text queries: $same with as many answers (at most 10) on both sides, $differ differ"
  say "plans"
  for f in streets cities text; do
    echo "-- $f"
    sed -e '1d' -e 's/:i/1/' "$OUT/pg-$f.sql" | sed '1s/^/EXPLAIN (COSTS OFF) /' | sql -At
  done
  serve_stop
}

# pgbench on one script; prints "tps p50_ms p99_ms" from its per-transaction log.
pgbench_run() {
  local script=$1 log=$OUT/pgb-area
  rm -f "$log".*
  wait_quiet
  (cd "$OUT" && pgbench -n -M prepared -c "$CONNECTIONS" -j "$LOAD_THREADS" -T "$DURATION" \
    -l --log-prefix=pgb-area -f "$script" "$PG/$DB" > "$OUT/pgbench-area.log" 2>&1)
  grep -q 'number of failed transactions: 0 ' "$OUT/pgbench-area.log" ||
    { cat "$OUT/pgbench-area.log" >&2; echo "pgbench reported failures" >&2; exit 1; }
  local tps
  tps=$(awk '/^tps = / {printf "%.0f", $3}' "$OUT/pgbench-area.log")
  # The third field of each log line is the latency in microseconds.
  cat "$log".* | awk '{print $3}' | sort -n |
    awk -v tps="$tps" '{a[NR]=$1} END {printf "%s %.2f %.2f\n", tps, a[int(NR*0.5)+1]/1000, a[int(NR*0.99)+1]/1000}'
}

# wrk on one path file against the running server; prints "rps p50_ms p99_ms".
wrk_run() {
  local paths=$1
  wait_quiet
  wrk -t"$LOAD_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/search/paths.lua \
    "http://127.0.0.1:$PORT" -- "$paths" > "$OUT/wrk-area.log"
  grep -q '^non-200 answers: 0$' "$OUT/wrk-area.log" ||
    { cat "$OUT/wrk-area.log" >&2; echo "pudo answered something else than 200" >&2; exit 1; }
  if grep -q 'Socket errors' "$OUT/wrk-area.log"; then
    cat "$OUT/wrk-area.log" >&2; echo "wrk reported socket errors" >&2; exit 1
  fi
  # wrk prints latencies as 812.00us, 1.20ms or 1.02s.
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }' "$OUT/wrk-area.log"
}

family() {
  local name=$1 paths=$2 script=$3
  say "$name: $ROUNDS rounds of pgbench, pudo (wrk), pgbench; -c$CONNECTIONS, one thread, ${DURATION}s each"
  write_scripts
  echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
  local r a b p ratio
  for r in $(seq 1 "$ROUNDS"); do
    a=$(pgbench_run "$script")
    serve_start "$PUDO"
    wrk -t1 -c"$CONNECTIONS" -d5s -s bench/search/paths.lua "http://127.0.0.1:$PORT" -- "$paths" >/dev/null
    p=$(wrk_run "$paths")
    serve_stop
    b=$(pgbench_run "$script")
    ratio=$(awk -v p="${p%% *}" -v a="${a%% *}" -v b="${b%% *}" 'BEGIN {printf "%.2f", p / ((a + b) / 2)}')
    echo "$name round $r: pudo $p | PostgreSQL before $a, after $b | ratio ${ratio}x (req/s p50_ms p99_ms; tps p50_ms p99_ms)"
  done
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

tools
[[ $# -gt 0 ]] || set -- all
for step in "$@"; do
  case $step in
    prepare) prepare ;;
    check) check ;;
    streets) family streets "$OUT/area-streets.paths" "$OUT/pg-streets.sql" ;;
    cities) family cities "$OUT/area-cities.paths" "$OUT/pg-cities.sql" ;;
    text) family text "$OUT/text-queries.paths" "$OUT/pg-text.sql" ;;
    all)
      prepare; check
      family streets "$OUT/area-streets.paths" "$OUT/pg-streets.sql"
      family cities "$OUT/area-cities.paths" "$OUT/pg-cities.sql"
      family text "$OUT/text-queries.paths" "$OUT/pg-text.sql"
      ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
