#!/usr/bin/env python3
"""Prepares a pickup benchmark: a network of shops, partner tokens, and parcels waiting at
their shops with their pickup codes. Writes shops.csv, then (with --parcels) handovers.txt
lines "<partner token> <code>" and merchant.txt. Standard library only."""
import argparse, base64, hashlib, hmac, http.client, json, multiprocessing, os, sys, time, urllib.parse

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

class Client:
    """One keep-alive connection: a new TCP connection per request made preparing 100,000
    parcels take a quarter of an hour."""
    def __init__(self, base):
        self.url = urllib.parse.urlsplit(base)
        self.conn = None

    def call(self, method, path, tok, body=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)
            try:
                self.conn.request(method, path, body=None if body is None else json.dumps(body).encode(),
                                  headers={"authorization": f"Bearer {tok}", "content-type": "application/json"})
                res = self.conn.getresponse()
                data = res.read()
            except (http.client.HTTPException, OSError):
                self.conn.close(); self.conn = None
                if attempt:
                    raise
                continue
            if res.status >= 300:
                # An Exception, not SystemExit: in a pool worker SystemExit ends the process
                # without an answer and the run waited forever; an Exception reaches `main`.
                raise RuntimeError(f"{method} {path}: HTTP {res.status}: {data[:300]!r}")
            return json.loads(data)

def prepare_range(job):
    """Reserves, arrives and reads the code of parcels [start, end) over one connection."""
    base, shops, merchant, partners, start, end = job
    client, lines = Client(base), []
    for n in range(start, end):
        shop = n % shops
        r = client.call("POST", "/v1/reservations", merchant, {"pickup_point_id": shop + 1, "order_ref": f"prep-{n}"})
        client.call("POST", f"/v1/partner/parcels/{r['id']}/arrival", partners[shop], {})
        code = client.call("GET", f"/v1/reservations/{r['id']}", merchant)["pickup_code"]
        lines.append(f"{partners[shop]} {code}")
    return lines

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
    t = time.time()
    # Processes, not threads: the GIL made Python the bottleneck. Chunks keep the order of
    # the lines (parcel n at shop n % shops) as before.
    step = 1000
    jobs = [(a.base, a.shops, merchant, partners, s, min(s + step, a.parcels)) for s in range(0, a.parcels, step)]
    lines = []
    with multiprocessing.Pool(int(os.environ.get("PREPARE_PROCS", "8"))) as pool:
        for chunk in pool.imap(prepare_range, jobs):
            lines.extend(chunk)
    with open(os.path.join(a.work, "handovers.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"prepared {len(lines)} waiting parcels in {time.time() - t:.1f} s", file=sys.stderr)

if __name__ == "__main__":
    main()
