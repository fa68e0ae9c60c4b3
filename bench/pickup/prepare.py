#!/usr/bin/env python3
"""Prepares a pickup benchmark: a network of shops, partner tokens, and parcels waiting at
their shops with their pickup codes. Writes shops.csv, then (with --parcels) handovers.txt
lines "<partner token> <code>" and merchant.txt. Standard library only."""
import argparse, base64, concurrent.futures, hashlib, hmac, json, os, sys, time, urllib.request

def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def token(secret: str, sub: str, role: str, shop=None, hours=6) -> str:
    now = int(time.time())
    claims = {"iss": "pudo", "aud": "pudo-api", "sub": sub, "role": role, "iat": now, "exp": now + hours * 3600}
    if shop is not None:
        claims["shop"] = shop
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"

def call(base, method, path, tok, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"authorization": f"Bearer {tok}", "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read())

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--shops", type=int, default=200)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--base")
    ap.add_argument("--parcels", type=int, default=0)
    a = ap.parse_args()
    merchant = token(a.secret, "bench-merchant", "merchant")
    with open(os.path.join(a.work, "merchant.txt"), "w") as f:
        f.write(merchant)
    if not a.parcels:
        with open(os.path.join(a.work, "shops.csv"), "w") as f:
            f.write("external_id,name,latitude,longitude,capacity\n")
            for i in range(a.shops):
                f.write(f"bench-{i},Bench shop {i},{40.3 + (i % 20) * 0.01},{-3.8 + (i // 20) * 0.01},100000\n")
        with open(os.path.join(a.work, "partners.txt"), "w") as f:
            for i in range(a.shops):
                f.write(token(a.secret, f"shop:bench-{i}", "partner", i + 1) + "\n")
        return
    partners = open(os.path.join(a.work, "partners.txt")).read().split()
    def one(n):
        shop = n % a.shops
        r = call(a.base, "POST", "/v1/reservations", merchant, {"pickup_point_id": shop + 1, "order_ref": f"prep-{n}"})
        call(a.base, "POST", f"/v1/partner/parcels/{r['id']}/arrival", partners[shop], {})
        code = call(a.base, "GET", f"/v1/reservations/{r['id']}", merchant)["pickup_code"]
        return f"{partners[shop]} {code}"
    t = time.time()
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        lines = list(ex.map(one, range(a.parcels)))
    with open(os.path.join(a.work, "handovers.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"prepared {len(lines)} waiting parcels in {time.time() - t:.1f} s", file=sys.stderr)

if __name__ == "__main__":
    main()
