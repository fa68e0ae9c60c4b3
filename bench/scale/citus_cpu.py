#!/usr/bin/env python3
"""CPU accounting and the table of `bench/scale/citus.sh` (Linux /proc and cgroup files only).

    citus_cpu.py snapshot OUT.json CG_BASE CG_ACCT PREFIX GROUPS
        GROUPS: comma-separated cgroup names (PREFIX-NAME under CG_BASE; with cgroup v1 the
        CPU time is read from the cpuacct hierarchy CG_ACCT, with v2 from cpu.stat). Writes
        the time, /proc/loadavg, the machine's busy CPU and, per group, its CPU time and
        throttling counters.
    citus_cpu.py merge LINE.json BEFORE.json AFTER.json LABEL WORKERS QUOTA
        Prints the load tool's JSON line with the setup and the differences added.
    citus_cpu.py table RESULTS.jsonl QUOTA C D INSTANCES SEED SHARDS PROFILE CGV COMMIT WORK
        Prints the Markdown table for BENCHMARKS.md.
"""
import json
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]


def group(cg_base, cg_acct, name):
    out = {}
    with open(os.path.join(cg_base, name, "cpu.stat")) as f:
        for line in f:
            key, value = line.split()
            out[key] = int(value)
    if cg_acct:
        with open(os.path.join(cg_acct, name, "cpuacct.usage")) as f:
            usage = int(f.read()) / 1e9
    else:
        usage = out.get("usage_usec", 0) / 1e6
    return {"cpu_s": usage, "periods": out.get("nr_periods", 0), "throttled": out.get("nr_throttled", 0)}


def snapshot(path, cg_base, cg_acct, prefix, groups):
    with open("/proc/loadavg") as f:
        load = float(f.read().split()[0])
    snap = {
        "t": time.monotonic(),
        "load1": load,
        "machine": machine_busy(),
        "groups": {g: group(cg_base, cg_acct, f"{prefix}-{g}") for g in groups.split(",") if g},
    }
    with open(path, "w") as f:
        json.dump(snap, f)


def merge(line_path, before_path, after_path, label, workers, quota):
    line = json.loads(open(line_path).read())
    a, b = json.load(open(before_path)), json.load(open(after_path))
    wall = b["t"] - a["t"]
    cores, throttled = {}, {}
    for g, y in b["groups"].items():
        x = a["groups"][g]
        cores[g] = round((y["cpu_s"] - x["cpu_s"]) / wall, 3)
        periods = y["periods"] - x["periods"]
        throttled[g] = round((y["throttled"] - x["throttled"]) / periods, 3) if periods else 0.0
    line.update({
        "setup": label, "workers": int(workers), "quota_per_worker": float(quota),
        "load1": [a["load1"], b["load1"]],
        "machine_cores": round((b["machine"] - a["machine"]) / TICK / wall, 3),
        "cores": cores, "throttled": throttled,
    })
    print(json.dumps(line))


def table(path, quota, c, d, instances, seed, shards, profile, cgv, commit, work):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    q = float(quota)
    citus = {r["workers"]: r for r in rows if r["setup"] == "citus"}
    plain = {r["workers"]: r for r in rows if r["setup"] == "plain"}
    base = citus[min(citus)]["orders_per_s"] if citus else float("nan")
    print(f"\n### Citus workers under a CPU quota: {seed} seed network, {c} clients, {d} s per run, "
          f"one run per step ({profile} build; {instances} pudo instances, unconstrained; "
          f"{shards}; cgroup {cgv}; {os.cpu_count()} CPUs)\n")
    print("| workers | quota, cores (per worker × workers) | Citus: reservations + handovers /s | × 1 worker | plain PostgreSQL, same total quota: /s | invariants (Citus / plain) | worker CPU, cores each (periods throttled) | coordinator CPU, cores | pudo CPU | load tool CPU | machine busy, cores | load average (start → end) |")
    print("|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---|")
    for n in sorted(citus):
        r = citus[n]
        p = plain.get(n)
        ws = ", ".join(f"{r['cores'][f'w{i}']:.2f} ({r['throttled'][f'w{i}']:.0%})" for i in range(1, n + 1))
        pl = f"{p['orders_per_s']:,.0f} (PostgreSQL {p['cores']['plain']:.2f} cores, {p['throttled']['plain']:.0%} throttled)" if p else "—"
        inv = f"{r['invariants']} / {p['invariants'] if p else '—'}"
        print(f"| {n} | {q:g} × {n} = {q * n:.2f} | {r['orders_per_s']:,.0f} | {r['orders_per_s'] / base:.2f} | {pl} | {inv} | {ws} | "
              f"{r['cores']['coordinator']:.2f} | {r['cores']['pudo']:.2f} | {r['cores']['tool']:.2f} | {r['machine_cores']:.2f} | "
              f"{r['load1'][0]:.1f} → {r['load1'][1]:.1f} |")
    spreads = []
    for n in sorted(citus):
        try:
            lines = open(os.path.join(work, f"spread-{n}.txt")).read().split()
            spreads.append(f"{n} worker(s): " + ", ".join(l.split('|')[1] for l in lines))
        except OSError:
            pass
    if spreads:
        print("\nShops per worker (placement of their region's shard): " + "; ".join(spreads) + ".")
    print(f"\nCommand: `QUOTA={quota} bench/scale/citus.sh` (STEPS, C, D, INSTANCES, SEED, SHARDS as above)"
          + (f"; code {commit}" if commit else "") + ".")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "snapshot" and len(args) == 5:
        snapshot(*args)
    elif cmd == "merge" and len(args) == 6:
        merge(*args)
    elif cmd == "table" and len(args) == 11:
        table(*args)
    else:
        sys.exit(__doc__)
