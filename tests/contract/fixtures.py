#!/usr/bin/env python3
"""The objects the contract run needs so that every route can answer 2xx, made before it starts.

    fixtures.py URL DOCUMENT_OUT

Environment: the tokens `FIX_MERCHANT` (the merchant schemathesis runs as), `FIX_OWNER` (another
merchant, who owns the objects the partner and carrier routes act on, so that the merchant
group's fuzzing cannot cancel or move them), `FIX_PARTNER` (shop ES-CT-SOL), `FIX_PLANNER`,
`FIX_API_KEY` (ES-CT-SOL's partner key), `PUDO_BIN` and `DATABASE_URL` (for `pudo sweep`).

The OpenAPI document's examples (`example = …` in src/api/) name these objects by id: ids are
deterministic on a fresh database, and every id is checked against the example that names it,
so that the two cannot drift apart silently. The three values that are random by design (a
pickup code, a drop-off code, the partner API key) cannot be examples in the served document:
this script writes a copy of the document with them as the examples, DOCUMENT_OUT, which
schemathesis runs on. Nothing else of the document is changed.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

URL = sys.argv[1].rstrip("/")
OUT = sys.argv[2]
# Shop ids as tests/contract/shops.csv imports them (checked below); the examples name SOL
# (pickup_point_id 1) and PLAZA (6, the point with room that moves and redirects go to).
SOL, OPERA, PLAZA = 1, 2, 6


def call(method, path, token=None, body=None, content_type="application/json"):
    data = None
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    req = urllib.request.Request(URL + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            text = res.read().decode()
            ctype = res.headers.get("Content-Type", "")
            return json.loads(text) if "json" in ctype else text
    except urllib.error.HTTPError as e:
        sys.exit(f"fixtures: {method} {path} answered {e.code}: {e.read().decode()[:500]}")


M, F, P, PL = (os.environ[k] for k in ("FIX_MERCHANT", "FIX_OWNER", "FIX_PARTNER", "FIX_PLANNER"))
made = {}  # name -> id, checked against the document below

for shop, external_id in ((SOL, "ES-CT-SOL"), (OPERA, "ES-CT-OPERA"), (PLAZA, "ES-CT-PLAZA")):
    if call("GET", f"/v1/pickup-points/{shop}")["external_id"] != external_id:
        sys.exit(f"fixtures: shop {shop} is not {external_id}: see tests/contract/shops.csv")


def reserve(name, token, shop, order_ref):
    made[name] = call(
        "POST", "/v1/reservations", token, {"pickup_point_id": shop, "order_ref": order_ref}
    )["id"]
    return made[name]


def arrive(parcel):
    call("POST", f"/v1/partner/parcels/{parcel}/arrival", P)


# The merchant group's routes: reservations and a return of the merchant schemathesis runs as.
reserve("read", M, SOL, "fixture-read")
reserve("cancel", M, SOL, "fixture-cancel")
reserve("move", M, SOL, "fixture-move")
arrive(reserve("extend", M, SOL, "fixture-extend"))

# The partner group's routes (the partner token is ES-CT-SOL's).
reserve("arrival", F, SOL, "fixture-arrival")
handover = reserve("handover", F, SOL, "fixture-handover")
arrive(handover)
pickup_code = call("GET", f"/v1/reservations/{handover}", F)["pickup_code"]
reserve("partner_redirect_options", F, SOL, "fixture-partner-options")
reserve("partner_redirect", F, SOL, "fixture-partner-redirect")
expired = reserve("return", F, SOL, "fixture-return")
arrive(expired)
# A parcel whose holding period (at least a day) is over: no route makes time pass, so its
# `expires_at` is moved into the past in the database and `pudo sweep` expires it.
db = os.environ["DATABASE_URL"]
sql = f"UPDATE parcels SET expires_at = '2000-01-01 00:00:00' WHERE id = {expired}"
if db.startswith("sqlite://"):
    import sqlite3

    with sqlite3.connect(db[len("sqlite://") :], timeout=30) as conn:
        conn.execute(sql)
else:
    subprocess.run(["psql", "-q", db, "-c", sql], check=True)
subprocess.run([os.environ["PUDO_BIN"], "sweep"], check=True, capture_output=True)
if call("GET", f"/v1/reservations/{expired}", F)["state"] != "expired":
    sys.exit(f"fixtures: parcel {expired} did not expire")

# The carrier group's routes: parcels on their way to ES-CT-OPERA, out of the partner's reach.
reserve("handin", F, OPERA, "fixture-handin")
reserve("carrier_redirect_options", F, OPERA, "fixture-carrier-options")
reserve("carrier_redirect", F, OPERA, "fixture-carrier-redirect")

# Returns: one to read (merchant group), one to drop off, one dropped off to collect.
made["return_read"] = call(
    "POST", "/v1/returns", M, {"pickup_point_id": SOL, "order_ref": "fixture-return-read"}
)["id"]
made["dropoff"] = call(
    "POST", "/v1/returns", F, {"pickup_point_id": SOL, "order_ref": "fixture-dropoff"}
)["id"]
dropoff_code = call("GET", f"/v1/returns/{made['dropoff']}", F)["dropoff_code"]
made["collect"] = call(
    "POST", "/v1/returns", F, {"pickup_point_id": SOL, "order_ref": "fixture-collect"}
)["id"]
code = call("GET", f"/v1/returns/{made['collect']}", F)["dropoff_code"]
call("POST", "/v1/partner/dropoffs", P, {"code": code})

# Staging: an event with a forecast at ES-CT-SOL's cell; plan 1 dispatched (the partner's
# receipt), plan 2 a draft (approve), plan 3 approved (dispatch).
made["event"] = call(
    "POST",
    "/v1/events",
    PL,
    {
        "name": "Contract fixture",
        "starts_at": "2026-11-11T00:00:00+08:00",
        "ends_at": "2026-11-12T00:00:00+08:00",
    },
)["id"]
call(
    "POST",
    f"/v1/events/{made['event']}/forecast",
    PL,
    "zone,sku,units,size\n89390cb1b0bffff,TEA,2,S\n",
    "text/csv",
)
made["receipt"] = call("POST", f"/v1/events/{made['event']}/plans", PL, {})["id"]
call("POST", f"/v1/plans/{made['receipt']}/approve", PL)
call("POST", f"/v1/plans/{made['receipt']}/dispatch", PL)
if not any(m["plan_id"] == made["receipt"] for m in call("GET", "/v1/partner/staging", P)["items"]):
    sys.exit(f"fixtures: plan {made['receipt']} has no manifest for ES-CT-SOL")
made["approve"] = call("POST", f"/v1/events/{made['event']}/plans", PL, {})["id"]
made["dispatch"] = call("POST", f"/v1/events/{made['event']}/plans", PL, {})["id"]
call("POST", f"/v1/plans/{made['dispatch']}/approve", PL)

# Every example that names a fixture names the one made for it.
doc = call("GET", "/openapi.json")
schemas = doc["components"]["schemas"]


def path_example(method, path):
    for p in doc["paths"][path][method.lower()].get("parameters", []):
        if p["name"] == "id":
            return p.get("example")
    return None


EXPECTED = [
    (path_example("GET", "/v1/reservations/{id}"), "read"),
    (path_example("POST", "/v1/reservations/{id}/cancel"), "cancel"),
    (path_example("POST", "/v1/reservations/{id}/move"), "move"),
    (path_example("POST", "/v1/reservations/{id}/extend"), "extend"),
    (path_example("POST", "/v1/partner/parcels/{id}/arrival"), "arrival"),
    (
        path_example("GET", "/v1/partner/parcels/{id}/redirect-options"),
        "partner_redirect_options",
    ),
    (path_example("POST", "/v1/partner/parcels/{id}/redirect"), "partner_redirect"),
    (path_example("POST", "/v1/partner/parcels/{id}/return"), "return"),
    (schemas["HandinRequest"]["properties"]["parcel_id"].get("example"), "handin"),
    (
        path_example("GET", "/v1/carrier/parcels/{id}/redirect-options"),
        "carrier_redirect_options",
    ),
    (path_example("POST", "/v1/carrier/parcels/{id}/redirect"), "carrier_redirect"),
    (path_example("GET", "/v1/returns/{id}"), "return_read"),
    ((schemas["CollectionRequest"]["properties"]["return_ids"].get("example") or [None])[0], "collect"),
    (path_example("POST", "/v1/events/{id}/forecast"), "event"),
    (path_example("POST", "/v1/events/{id}/forecast/derive"), "event"),
    (path_example("POST", "/v1/events/{id}/plans"), "event"),
    (path_example("POST", "/v1/partner/staging/{id}/receipt"), "receipt"),
    (path_example("GET", "/v1/plans/{id}"), "receipt"),
    (path_example("POST", "/v1/plans/{id}/approve"), "approve"),
    (path_example("POST", "/v1/plans/{id}/dispatch"), "dispatch"),
]
made["sol"], made["plaza"] = SOL, PLAZA
# The reservation's schema is `oneOf` two objects (with and without a named recipient): the
# example is in each.
EXPECTED += [
    (variant["properties"]["pickup_point_id"].get("example"), "sol")
    for variant in schemas["ReservationRequest"]["oneOf"]
]
EXPECTED += [
    (schemas["ReturnRequest"]["properties"]["pickup_point_id"].get("example"), "sol"),
    (schemas["MoveRequest"]["properties"]["pickup_point_id"].get("example"), "plaza"),
    (schemas["RedirectRequest"]["properties"]["pickup_point_id"].get("example"), "plaza"),
]
wrong = [(ex, name) for ex, name in EXPECTED if ex != made[name]]
for ex, name in wrong:
    print(f"fixtures: the document's example {ex!r} should name fixture {name!r}, id {made[name]}")
if wrong:
    sys.exit("fixtures: the examples in src/api/ and tests/contract/fixtures.py disagree")

# The values that are random by design, as the examples of the document schemathesis reads.
schemas["HandoverRequest"]["properties"]["code"]["example"] = pickup_code
schemas["DropoffRequest"]["properties"]["code"]["example"] = dropoff_code
schemas["TokenRequest"]["properties"]["api_key"]["example"] = os.environ["FIX_API_KEY"]
with open(OUT, "w") as f:
    json.dump(doc, f)
print(f"fixtures: {len(made)} made, ids as the document's examples name them")
