#!/usr/bin/env bash
# End-to-end tests of the partner app (partner-app/) and the checkout widget (widget/) in
# headless Chromium driven by Playwright, against a real `pudo serve` on a fresh SQLite
# database. Installs what it needs (Debian's chromium, the npm packages of tests/e2e), fails
# (never skips) when anything cannot run, and writes phone-size screenshots of the main screens
# to partner-app/screenshots/ and widget/screenshots/.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
started=$(date +%s)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian's chromium"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
# The Chinese screenshot needs a CJK font (phones have one; a bare Debian does not).
if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh family 2>/dev/null)" ]; then
  echo "== installing a CJK font for the Chinese screens"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-noto-cjk \
    || { as_root apt-get update && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-noto-cjk; }
fi
/usr/bin/chromium --version
node --version

echo "== npm ci (tests/e2e)"
(cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

echo "== cargo build"
cargo build --bin pudo
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/pudo"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
export DATABASE_URL="sqlite://$WORK/pudo.db"
export PUDO_SEED=none
export PUDO_BIND="127.0.0.1:$PORT"
export RUST_LOG=warn
export PUDO_JWT_SECRET="pudo-e2e-tests-fixed-jwt-secret-0123456789"
export PUDO_WEBHOOK_POLL_MS=60000
# Every browser of the suite signs in from 127.0.0.1: lift the per-IP token rate limit.
export PUDO_TOKEN_RATE_PER_MIN=6000 PUDO_TOKEN_BURST=1000
URL="http://127.0.0.1:$PORT"

echo "== pudo serve on $URL (database in $WORK)"
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
  if curl -fsS "$URL/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "pudo serve exited:"; cat "$WORK/server.log"; exit 1
  fi
  sleep 0.5
done
curl -fsS "$URL/readyz" >/dev/null || { echo "pudo serve is not ready:"; cat "$WORK/server.log"; exit 1; }

echo "== seeding: shops, API keys, tokens"
PLANNER="$("$BIN" token --role planner --sub e2e-planner)"
MERCHANT="$("$BIN" token --role merchant --sub e2e-merchant)"
# One shop per partner-app test file, far enough apart (Madrid, Barcelona, Valencia, Seville,
# Granada; Bilbao for the conditions at the counter)
# that a staging plan for one never reaches another; and a neighbourhood of Zaragoza for the
# checkout widget (one shop of 1 slot, to be made full; one paused; one open on weekdays only).
# Addresses are test fixtures (issue 20): street, postcode, city, region, country, phone.
# Bar Fiesta (Huesca) is closed for a holiday today, in its own zone: without `arrive-at` the
# widget must not offer it.
TODAY="$(TZ=Europe/Madrid date +%F)"
cat >"$WORK/shops.csv" <<CSV
external_id,name,latitude,longitude,capacity,timezone,opening_hours,status,closures,street,postcode,city,region,country,phone
ES-E2E-SOL,Kiosko Sol,40.4169,-3.7035,20,Europe/Madrid,"Mo-Sa 08:00-22:00; Su 10:00-14:00",active,,Calle Mayor 1,28013,Madrid,Comunidad de Madrid,ES,+34 910 00 00 01
ES-E2E-NORTE,Tienda Norte,41.3874,2.1686,20,Europe/Madrid,,active,,,,,,,
ES-E2E-RUZAFA,Bazar Ruzafa,39.4625,-0.3746,40,Europe/Madrid,,active,,,,,,,
ES-E2E-TRIANA,Papelería Triana,37.3826,-6.0027,20,Europe/Madrid,,active,,,,,,,
ES-E2E-ALBAICIN,Regalos Albaicín,37.1810,-3.5925,20,Europe/Madrid,,active,,,,,,,
ES-E2E-PILAR,Librería Pilar,41.6561,-0.8785,10,Europe/Madrid,"Mo-Sa 09:00-21:00",active,,Plaza del Pilar 16,50003,Zaragoza,Aragón,ES,+34 976 00 00 16
ES-E2E-ALFONSO,Estanco Alfonso,41.6540,-0.8800,1,Europe/Madrid,,active,,Calle de Alfonso I 20,50003,Zaragoza,Aragón,ES,
ES-E2E-COSO,Frutería Coso,41.6532,-0.8768,15,Europe/Madrid,,paused,,Calle del Coso 40,50004,Zaragoza,Aragón,ES,
ES-E2E-SEO,Kiosko La Seo,41.6553,-0.8755,8,Europe/Madrid,"Mo-Fr 10:00-14:00",active,,Plaza de la Seo 4,50001,Zaragoza,Aragón,ES,
ES-E2E-DELICIAS,Bazar Delicias,41.6480,-0.9050,20,Europe/Madrid,,active,,Avenida de Madrid 100,50010,Zaragoza,Aragón,ES,
ES-E2E-FIESTA,Bar Fiesta,42.1401,-0.4089,10,Europe/Madrid,,active,$TODAY Fiesta,Calle del Coso Alto 1,22003,Huesca,Aragón,ES,
ES-E2E-CALLE,Bar Calle,42.1405,-0.4085,10,Europe/Madrid,,active,,Calle del Coso Alto 9,22003,Huesca,Aragón,ES,
ES-E2E-ARENAL,Estanco Arenal,43.2590,-2.9253,20,Europe/Madrid,,active,,Calle del Arenal 3,48005,Bilbao,País Vasco,ES,
CSV
curl -fsS -X POST "$URL/v1/shops/import" -H "authorization: Bearer $PLANNER" \
  -H 'content-type: text/csv' --data-binary @"$WORK/shops.csv" >/dev/null
# Parcel sizes (issue 19), around Teruel's Plaza del Torico, away from the other fixtures:
# lockers with S compartments only, a point taking 2 kg at most, and a counter taking anything
# up to the defaults.
cat >"$WORK/sized.csv" <<CSV
external_id,name,latitude,longitude,capacity,status,street,postcode,city,country,slots_s,slots_m,slots_l,max_weight_kg,max_dimensions_cm
ES-E2E-TORICO,Taquillas Torico,40.3441,-1.1069,4,active,Plaza del Torico 1,44001,Teruel,ES,4,0,0,,
ES-E2E-MUDEJAR,Estanco Mudéjar,40.3448,-1.1060,5,active,Calle Joaquín Costa 10,44001,Teruel,ES,,,,2,
ES-E2E-AMANTES,Kiosko Amantes,40.3437,-1.1076,10,active,Calle Matías Abad 3,44001,Teruel,ES,,,,,
CSV
curl -fsS -X POST "$URL/v1/shops/import" -H "authorization: Bearer $PLANNER" \
  -H 'content-type: text/csv' --data-binary @"$WORK/sized.csv" >/dev/null
# Point capabilities (issue 19), around Cuenca's Plaza Mayor, away from the other fixtures: a
# point declaring every capability with a photo and no hours (open around the clock), one with
# parking on shop hours, and one declaring nothing. The photo's host is answered by the test.
# Kiosko Soria, far from them, is the one whose owner changes its declaration in the app
# (capabilities.test.js), and gets staged stock of two size classes.
cat >"$WORK/capable.csv" <<CSV
external_id,name,latitude,longitude,capacity,timezone,opening_hours,status,street,postcode,city,country,capabilities,photo_url
ES-E2E-MAYOR,Farmacia Plaza Mayor,40.0784,-2.1297,10,Europe/Madrid,,active,Plaza Mayor 3,16001,Cuenca,ES,step_free|parking|cash_on_delivery|id_check,https://img.pudo.test/shops/mayor.svg
ES-E2E-CATEDRAL,Kiosko Catedral,40.0790,-2.1290,10,Europe/Madrid,"Mo-Su 08:00-22:00",active,Calle Obispo Valero 1,16001,Cuenca,ES,parking,
ES-E2E-PUENTE,Estanco Puente,40.0778,-2.1283,10,Europe/Madrid,"Mo-Su 08:00-22:00",active,Calle del Trabuco 2,16001,Cuenca,ES,,
ES-E2E-SORIA,Kiosko Soria,41.7636,-2.4649,10,Europe/Madrid,"Mo-Sa 09:00-21:00",active,Plaza Mayor 1,42002,Soria,ES,parking,
CSV
curl -fsS -X POST "$URL/v1/shops/import" -H "authorization: Bearer $PLANNER" \
  -H 'content-type: text/csv' --data-binary @"$WORK/capable.csv" >/dev/null
keys="{}"
for shop in ES-E2E-SOL ES-E2E-NORTE ES-E2E-RUZAFA ES-E2E-TRIANA ES-E2E-ALBAICIN ES-E2E-PILAR ES-E2E-ALFONSO \
            ES-E2E-COSO ES-E2E-SEO ES-E2E-DELICIAS ES-E2E-ARENAL ES-E2E-MAYOR ES-E2E-PUENTE ES-E2E-SORIA; do
  key="$("$BIN" partner-key --shop "$shop" 2>/dev/null)"
  keys="$(node -e 'const k=JSON.parse(process.argv[1]);k[process.argv[2]]=process.argv[3];console.log(JSON.stringify(k))' "$keys" "$shop" "$key")"
done

export E2E_URL="$URL" E2E_PLANNER="$PLANNER" E2E_MERCHANT="$MERCHANT" E2E_KEYS="$keys"
export E2E_SCREENSHOTS="$ROOT/partner-app/screenshots"
export E2E_WIDGET_SCREENSHOTS="$ROOT/widget/screenshots"
mkdir -p "$E2E_SCREENSHOTS" "$E2E_WIDGET_SCREENSHOTS"

echo "== node --test (tests/e2e)"
status=0
# `run.sh offline staging` runs only the test files whose names contain those words.
files=()
for f in "$HERE"/*.test.js; do
  if [ "$#" -eq 0 ]; then files+=("$f"); continue; fi
  for word in "$@"; do case "$(basename "$f")" in *"$word"*) files+=("$f"); break;; esac; done
done
[ "${#files[@]}" -gt 0 ] || { echo "no test file matches: $*"; exit 1; }
(cd "$HERE" && node --test --test-concurrency=1 --test-reporter=spec "${files[@]}") || status=$?
if [ "$status" -ne 0 ]; then
  echo "== server log (last 50 lines)"; tail -n 50 "$WORK/server.log"
fi
echo "== e2e finished in $(( $(date +%s) - started )) s, exit $status"
exit "$status"
