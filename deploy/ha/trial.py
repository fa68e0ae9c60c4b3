#!/usr/bin/env python3
"""A failover trial: pudo under load on the cluster of deploy/ha/cluster.sh, its primary killed.

    python3 deploy/ha/trial.py --pudo target/debug/pudo --kill node      # keeper + postmaster
    python3 deploy/ha/trial.py --pudo target/debug/pudo --kill postmaster

Starts `pudo serve` on the cluster's multi-host DATABASE_URL, runs writers (reservations, each
with a new order_ref), readers (nearest-point searches, served from memory) and a /readyz
prober, kills the primary with SIGKILL after --warmup seconds, keeps the load on for --after
seconds, then reports, from the clients' side: every answer's status per second, the longest
answer, the seconds without a successful write, and whether every acknowledged reservation is
in the database. From the monitor's events: when the secondary was promoted. Standard library
only; measurement, not a test (docs/operations.md, "Failover with pg_auto_failover").
"""

import argparse
import collections
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sh(*args, env=None, check=True):
    return subprocess.run(args, env=env, check=check, capture_output=True, text=True).stdout.strip()


def psql(port, db, sql):
    return sh("psql", "-X", "-q", "-At", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db,
              "-c", sql)


class Client:
    """One keep-alive HTTP/1.1 connection; reconnects after any failure."""

    def __init__(self, port, timeout):
        self.port, self.timeout, self.conn = port, timeout, None

    def call(self, method, path, body=None, token=None):
        headers = {"content-type": "application/json"} if body is not None else {}
        if token:
            headers["authorization"] = "Bearer " + token
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request(method, path, body=json.dumps(body) if body is not None else None,
                              headers=headers)
            r = self.conn.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        except Exception as e:  # timeouts and resets count as answers of their own kind
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return ("timeout" if "timed out" in str(e) else "error:" + type(e).__name__), {}, b""


def descendants(root):
    """root and every process below it, from /proc."""
    children = collections.defaultdict(list)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(d))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children[pid]
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pudo", default=os.path.join(ROOT, "target/debug/pudo"))
    ap.add_argument("--cluster-dir", default=os.path.join(ROOT, "target/ha-cluster"))
    ap.add_argument("--ha-port", type=int, default=int(os.environ.get("HA_PORT", 26432)))
    ap.add_argument("--port", type=int, default=18950, help="pudo's HTTP port (below 32768)")
    ap.add_argument("--kill", choices=["node", "postmaster", "keeper", "keeper+postmaster", "switchover", "none"],
                    default="node",
                    help="node: every process of the primary (its keeper, the keeper's children, "
                         "PostgreSQL and its backends), as if the machine died; postmaster: the "
                         "postmaster only; keeper: the keeper's main process only; keeper+postmaster: "
                         "both, the keeper's children left running; switchover: "
                         "no kill, a planned `deploy/ha/cluster.sh failover`")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--readers", type=int, default=2)
    ap.add_argument("--warmup", type=float, default=8)
    ap.add_argument("--after", type=float, default=60)
    ap.add_argument("--client-timeout", type=float, default=60)
    ap.add_argument("--out", default=os.path.join(ROOT, "target/ha-trial"))
    ap.add_argument("--serve-env", action="append", default=[], help="KEY=VALUE for pudo serve")
    a = ap.parse_args()

    mon = a.ha_port
    url = f"postgres://postgres@127.0.0.1:{mon + 1},127.0.0.1:{mon + 2}/pudo?target_session_attrs=read-write"
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, DATABASE_URL=url, PUDO_BIND=f"127.0.0.1:{a.port}", RUST_LOG="warn")
    for kv in a.serve_env:
        k, v = kv.split("=", 1)
        env[k] = v
    # A settled cluster first: `up` restarts the keeper of a node killed by an earlier trial,
    # which then rejoins as the secondary.
    sh(os.path.join(ROOT, "deploy/ha/cluster.sh"), "up", env=dict(os.environ, HA_PORT=str(mon)))
    t = time.time()
    sh(a.pudo, "migrate", env=env)
    print(f"pudo migrate on the multi-host URL: ok in {time.time() - t:.1f} s")
    log = open(os.path.join(a.out, "serve.log"), "w")
    serve = subprocess.Popen([a.pudo, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        run(a, env, serve, mon)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(20)
        except subprocess.TimeoutExpired:
            serve.kill()


def run(a, env, serve, mon):
    probe = Client(a.port, 5)
    deadline = time.time() + 120
    while probe.call("GET", "/readyz")[0] != 200:
        if serve.poll() is not None or time.time() > deadline:
            sys.exit(f"pudo serve did not become ready; see {a.out}/serve.log")
        time.sleep(0.2)
    token = sh(a.pudo, "token", "--role", "merchant", "--sub", "ha-trial", env=env)
    points = []
    for lat, lon in ((40.4168, -3.7038), (41.3874, 2.1686), (39.4699, -0.3763), (37.3891, -5.9845)):
        status, _, body = probe.call("GET", f"/v1/pickup-points?lat={lat}&lon={lon}&limit=100")
        points += [p["id"] for p in json.loads(body)["items"]] if status == 200 else []
    if not points:
        sys.exit("no pickup points near Madrid, Barcelona, Valencia or Seville")
    run_id = f"{int(time.time())}"
    log = []  # (start, end, kind, status, retry_after, order_ref or None)
    lock = threading.Lock()
    stop = threading.Event()

    def record(*row):
        with lock:
            log.append(row)

    def writer(n):
        c = Client(a.port, a.client_timeout)
        i = 0
        while not stop.is_set():
            i += 1
            ref = f"HA-{run_id}-{n}-{i}"
            t0 = time.time()
            s, h, _ = c.call("POST", "/v1/reservations",
                             {"pickup_point_id": random.choice(points), "order_ref": ref}, token)
            record(t0, time.time(), "write", s, h.get("retry-after"), ref)
            if s != 200 and s != 201:
                time.sleep(0.05)

    def reader():
        c = Client(a.port, a.client_timeout)
        while not stop.is_set():
            t0 = time.time()
            lat, lon = 40.4168 + random.uniform(-0.05, 0.05), -3.7038 + random.uniform(-0.05, 0.05)
            s, h, _ = c.call("GET", f"/v1/pickup-points?lat={lat:.5f}&lon={lon:.5f}&limit=5")
            record(t0, time.time(), "search", s, h.get("retry-after"), None)

    def ready():
        c = Client(a.port, a.client_timeout)
        while not stop.is_set():
            t0 = time.time()
            s, h, _ = c.call("GET", "/readyz")
            record(t0, time.time(), "readyz", s, h.get("retry-after"), None)
            time.sleep(0.2)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(a.writers)]
    threads += [threading.Thread(target=reader) for _ in range(a.readers)]
    threads += [threading.Thread(target=ready)]
    for th in threads:
        th.start()
    time.sleep(a.warmup)

    primary = psql(mon, "pg_auto_failover",
                   "SELECT nodename || ' ' || nodeport FROM pgautofailover.node WHERE reportedstate = 'primary'")
    name, port = primary.split()
    pgdata = os.path.join(a.cluster_dir, name)
    postmaster = int(open(os.path.join(pgdata, "postmaster.pid")).readline())
    keeper_pidfile = os.path.join(a.cluster_dir, "xdg/run/pg_autoctl", pgdata.lstrip("/"), "pg_autoctl.pid")
    keeper = int(open(keeper_pidfile).readline())
    victims = {"node": descendants(keeper) | descendants(postmaster), "postmaster": {postmaster},
               "keeper": {keeper}, "keeper+postmaster": {keeper, postmaster}, "switchover": set(),
               "none": set()}[a.kill]
    t_kill = time.time()
    if a.kill == "switchover":
        subprocess.Popen([os.path.join(ROOT, "deploy/ha/cluster.sh"), "failover"],
                         env=dict(os.environ, HA_PORT=str(mon)), stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(a.out, "failover.log"), "w"))
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print(f"t=0: SIGKILL to {name} (port {port}): {a.kill}, {len(victims)} processes "
          f"(keeper {keeper}, postmaster {postmaster})")
    time.sleep(a.after)
    stop.set()
    for th in threads:
        th.join()
    report(a, log, t_kill, mon, run_id)


def report(a, log, t_kill, mon, run_id):
    log.sort()
    with open(os.path.join(a.out, "answers.csv"), "w") as f:
        f.write("start_s,end_s,kind,status,retry_after\n")
        for s, e, k, st, ra, _ in log:
            f.write(f"{s - t_kill:.3f},{e - t_kill:.3f},{k},{st},{ra or ''}\n")
    ok = lambda st: st in (200, 201)
    served = lambda st: st in (200, 201, 409)  # the database answered (409: the shop is full)
    print("\nanswers per second after the kill (by the second the answer came; w=write s=search r=readyz)")
    per = collections.defaultdict(collections.Counter)
    for s, e, k, st, _, _ in log:
        sec = int((e - t_kill) // 1)
        if -3 <= sec <= a.after:
            per[sec][(k[0], st)] += 1
    for sec in sorted(per):
        print(f"  {sec:+4d} s  " + "  ".join(f"{k}:{st}x{n}" for (k, st), n in sorted(per[sec].items(), key=str)))
    for kind in ("write", "search", "readyz"):
        rows = [r for r in log if r[2] == kind]
        after = [r for r in rows if r[1] >= t_kill]
        counts = collections.Counter(str(r[3]) for r in after)
        longest = max((r[1] - r[0] for r in after), default=0)
        print(f"{kind}: {len(rows)} answers, after the kill {dict(counts)}; longest answer {longest:.2f} s")
    writes = [r for r in log if r[2] == "write"]
    first_ok_after = min((r[1] for r in writes if ok(r[3]) and r[0] > t_kill), default=None)
    if first_ok_after:
        print(f"writes: first 2xx of a request sent after the kill at t=+{first_ok_after - t_kill:.2f} s")
    done = sorted(r[1] for r in writes if ok(r[3]))
    gaps = [(b - a, a, b) for a, b in zip(done, done[1:]) if b >= t_kill]
    if gaps:
        gap, since, until = max(gaps)
        print(f"writes: longest time without a 2xx write {gap:.2f} s (t=+{since - t_kill:.2f} s to "
              f"t=+{until - t_kill:.2f} s)")
    failing = [r for r in writes if not served(r[3]) and r[1] >= t_kill]
    if failing:
        print(f"writes: last non-2xx answer at t=+{max(r[1] for r in failing) - t_kill:.2f} s; "
              f"Retry-After values {sorted(set(str(r[4]) for r in failing))}")
    n500 = sum(1 for r in log if r[3] == 500)
    print(f"500 answers: {n500}")
    acked = [r[5] for r in writes if ok(r[3])]
    events = psql(mon, "pg_auto_failover",
                  f"SELECT extract(epoch from eventtime)::text || '|' || nodename || '|' || reportedstate || '|' "
                  f"|| goalstate FROM pgautofailover.event WHERE eventtime > to_timestamp({t_kill - 1}) "
                  f"ORDER BY eventid")
    print("monitor events after the kill:")
    for line in events.splitlines():
        t, node, rep, goal = line.split("|")
        print(f"  t=+{float(t) - t_kill:6.2f} s  {node}: reported {rep}, goal {goal}")
    deadline = time.time() + 60
    while True:
        try:
            stored = set(sh("psql", "-X", "-q", "-At", f"postgres://postgres@127.0.0.1:{mon + 1},127.0.0.1:{mon + 2}/pudo?target_session_attrs=read-write",
                            "-c", f"SELECT order_ref FROM parcels WHERE order_ref LIKE 'HA-{run_id}-%'").splitlines())
            break
        except subprocess.CalledProcessError:
            if time.time() > deadline:
                raise
            time.sleep(1)
    lost = [r for r in acked if r not in stored]
    print(f"acknowledged reservations: {len(acked)}; in the database afterwards: {len(acked) - len(lost)}; "
          f"lost: {len(lost)}")


if __name__ == "__main__":
    main()
