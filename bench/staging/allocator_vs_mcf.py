#!/usr/bin/env python3
"""pudo's exact allocator against dedicated min-cost-flow solvers (issue 18): OR-Tools'
SimpleMinCostFlow here; LEMON's network simplex through the `mcmf` crate inside the Rust bench
(benches/allocator.rs with PUDO_BENCH_LEMON=1) and with 64-bit costs in lemon_ns.cpp.
bench/staging/run.sh drives them all and this script's report.

    allocator_vs_mcf.py ortools DIR --round R     solve every instance in DIR once, append timings
    allocator_vs_mcf.py report DIR                medians over the rounds, objectives, ratios

Each instance directory (written by the bench with PUDO_BENCH_EXPORT) holds the single-commodity
model pudo solves: zone supplies (zones.csv), shop capacities (shops.csv) and every candidate
arc (arc_zone.u32, arc_shop.u32, arc_km.f64, arc_cost.i64: the same arcs as arcs.csv, raw
little-endian, with pudo's own integer cost in micrometres). OR-Tools gets exactly pudo's
network: zone -> shop arcs (capacity: the zone's units, cost: pudo's micrometres), one
zone -> sink arc per zone at the penalty, one shop -> sink arc per reached shop with its
capacity, supplies on the zones and the total demand on the sink.

What is timed: `build` is creating the SimpleMinCostFlow and passing it the arcs and supplies
(numpy arrays, one call each); `solve` is `SimpleMinCostFlow.solve()` alone, which includes
OR-Tools' construction of its internal graph. Reading the files and checking the objective
are not timed. The objective is recomputed from the optimal flows with the exact distances
(km), as pudo reports it.
"""
import argparse, json, os, sys, time
import numpy as np

PENALTY_KM = 50.0


def instances(d):
    names = [n for n in os.listdir(d) if n.startswith("instance_")]
    return sorted((int(n.split("_")[1]), os.path.join(d, n)) for n in names)


def load(path):
    zones = np.loadtxt(os.path.join(path, "zones.csv"), dtype=np.int64, ndmin=1)
    shops = np.loadtxt(os.path.join(path, "shops.csv"), dtype=np.int64, ndmin=1)
    az = np.fromfile(os.path.join(path, "arc_zone.u32"), dtype="<u4").astype(np.int64)
    ashop = np.fromfile(os.path.join(path, "arc_shop.u32"), dtype="<u4").astype(np.int64)
    km = np.fromfile(os.path.join(path, "arc_km.f64"), dtype="<f8")
    cost = np.fromfile(os.path.join(path, "arc_cost.i64"), dtype="<i8")
    return zones, shops, az, ashop, km, cost


def ortools_round(a):
    from ortools.graph.python import min_cost_flow
    import ortools
    out = open(a.timings, "a")
    for zones_n, path in instances(a.dir):
        zones, shops, az, ashop, km, cost = load(path)
        nz = len(zones)
        reached = np.unique(ashop)
        node = np.full(len(shops), -1, dtype=np.int64)
        node[reached] = nz + np.arange(len(reached))
        sink = nz + len(reached)
        penalty = round(PENALTY_KM * 1000.0 * 1e6)
        tails = np.concatenate([az, np.arange(nz), node[reached]])
        heads = np.concatenate([node[ashop], np.full(nz, sink), np.full(len(reached), sink)])
        caps = np.concatenate([zones[az], zones, shops[reached]])
        costs = np.concatenate([cost, np.full(nz, penalty), np.zeros(len(reached), dtype=np.int64)])
        supply_nodes = np.arange(sink + 1)
        supplies = np.concatenate([zones, np.zeros(len(reached), dtype=np.int64), [-zones.sum()]])
        t0 = time.perf_counter()
        smcf = min_cost_flow.SimpleMinCostFlow()
        arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
        smcf.set_nodes_supplies(supply_nodes, supplies)
        t1 = time.perf_counter()
        status = smcf.solve()
        t2 = time.perf_counter()
        if status != smcf.OPTIMAL:
            print(f"zones {zones_n}: OR-Tools status {status}", file=sys.stderr)
            return 1
        flows = smcf.flows(arcs)
        na = len(az)
        unmet = int(flows[na:na + nz].sum())
        objective = float(np.dot(flows[:na].astype(np.float64), km)) + PENALTY_KM * unmet
        rec = {"solver": "ortools", "version": ortools.__version__, "zones": zones_n,
               "round": a.round, "build_s": t1 - t0, "solve_s": t2 - t1,
               "objective_km": objective, "integer_cost": int(smcf.optimal_cost()),
               "unmet_units": unmet, "arcs": na}
        out.write(json.dumps(rec) + "\n")
        out.flush()
        print(f"  round {a.round} OR-Tools {ortools.__version__} zones {zones_n:>6}: build {t1 - t0:.3f} s, "
              f"solve {t2 - t1:.3f} s, objective {objective:.6f} km", flush=True)
    return 0


def med(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def report(a):
    recs = [json.loads(l) for l in open(a.timings) if l.strip()]
    sizes = sorted({r["zones"] for r in recs})
    for r in recs:
        if r["solver"] == "pudo" and r.get("threads") == 1:
            r["solver"] = "pudo1"
    by = lambda s, z: [r for r in recs if r["solver"] == s and r["zones"] == z]
    f3 = lambda x: f"{x:.3f}"
    print("\nSeconds, medians over the rounds (each round solves every size once with each solver: pudo and "
          "the mcmf crate in one process, interleaved per size, then LEMON 64-bit, then OR-Tools).")
    print("pudo whole = allocator::solve: candidate arcs (H3 disks, both cores) + network + flow + SKU split;")
    print("pudo net+flow = building its network from the arcs + the min-cost flow (one core); "
          "pudo 1 core = the whole solve with RAYON_NUM_THREADS=1.")
    print("LEMON = NetworkSimplex<SmartDigraph, int64_t, int64_t> on pudo's exact integer costs "
          "(lemon_ns.cpp): build = graph, maps, solver object; solve = run().")
    print("OR-Tools = SimpleMinCostFlow on pudo's exact integer costs: build = arcs and supplies passed; "
          "solve = solve().")
    print("mcmf crate = GraphBuilder::add_edge for every arc + GraphBuilder::mcmf() (its vertex map, "
          "LEMON with 32-bit costs scaled to ~3 mm, path decomposition).\n")
    print("| zones | arcs | runs | pudo whole | pudo 1 core | pudo arcs | pudo net+flow | pudo flow | LEMON build+solve | LEMON solve "
          "| OR-Tools build+solve | OR-Tools solve | mcmf crate | speed-up: fastest other's build+solve / pudo whole |")
    print("|---" * 14 + "|")
    ok = True
    objectives = []
    for z in sizes:
        p, l, o, c = by("pudo", z), by("lemon64", z), by("ortools", z), by("lemon", z)
        if not (p and l and o):
            print(f"| {z} | missing results (pudo {len(p)}, LEMON {len(l)}, OR-Tools {len(o)}) |")
            ok = False
            continue
        pw = med([r["total_s"] for r in p])
        lt = med([r["build_s"] + r["solve_s"] for r in l])
        ot = med([r["build_s"] + r["solve_s"] for r in o])
        ct = med([r["build_s"] + r["solve_s"] for r in c]) if c else float("nan")
        # The fastest of the others, the mcmf crate included (coarser costs, but also LEMON).
        faster, who = min((lt, "LEMON"), (ot, "OR-Tools"), (ct if c else float("inf"), "mcmf crate"))
        p1 = by("pudo1", z)
        pw1 = f3(med([r["total_s"] for r in p1])) if p1 else "—"
        print(f"| {z:,} | {p[0]['arcs']:,} | {len(p)} | {f3(pw)} | {pw1} | {f3(med([r['arcs_s'] for r in p]))} | "
              f"{f3(med([r['network_s'] + r['flow_s'] for r in p]))} | {f3(med([r['flow_s'] for r in p]))} | "
              f"{f3(lt)} | {f3(med([r['solve_s'] for r in l]))} | {f3(ot)} | {f3(med([r['solve_s'] for r in o]))} | "
              f"{f3(ct)} | {faster / pw:.1f}× ({who}) |")
        obj = p[0]["objective_km"]
        rel = lambda rs: max(abs(r["objective_km"] - obj) / abs(obj) for r in rs) if rs else float("nan")
        rl, ro, rc = rel(l), rel(o), rel(c)
        same_int = {r["integer_cost"] for r in l} == {r["integer_cost"] for r in o} and len({r["integer_cost"] for r in l}) == 1
        ok &= rl <= 1e-9 and ro <= 1e-9 and same_int
        objectives.append(f"| {z:,} | {obj:,.6f} | {rl:.1e} | {ro:.1e} | "
                          f"{'equal' if same_int else 'DIFFERENT'} ({l[0]['integer_cost']:,} µm) | {rc:.1e} |")
    print("\n| zones | pudo objective (km) | rel. diff LEMON | rel. diff OR-Tools | LEMON, OR-Tools integer optimum "
          "| rel. diff mcmf crate (coarser costs) |")
    print("|---" * 6 + "|")
    print("\n".join(objectives))
    print("\nAll runs (s; whole solve for pudo, build+solve for the others):")
    for z in sizes:
        for s in ("pudo", "pudo1", "lemon64", "ortools", "lemon"):
            vals = [r["total_s"] if s.startswith("pudo") else r["build_s"] + r["solve_s"] for r in by(s, z)]
            print(f"  zones {z:>6} {s:<8} " + ", ".join(f3(v) for v in vals))
    print("\nSpeed-up within each round (fastest other's build+solve that round / pudo whole that round):")
    for z in sizes:
        rounds = sorted({r["round"] for r in by("pudo", z)})
        ups = []
        for k in rounds:
            pw = [r["total_s"] for r in by("pudo", z) if r["round"] == k]
            others = [r["build_s"] + r["solve_s"] for s in ("lemon64", "ortools", "lemon")
                      for r in by(s, z) if r["round"] == k]
            if pw and others:
                ups.append(min(others) / pw[0])
        if ups:
            print(f"  zones {z:>6}: " + ", ".join(f"{u:.1f}x" for u in ups) + f"  (lowest {min(ups):.1f}x)")
    if not ok:
        print("objectives differ by more than 1e-9 relative, or results are missing", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("ortools")
    o.add_argument("dir")
    o.add_argument("--round", type=int, default=1)
    o.add_argument("--timings", required=True)
    r = sub.add_parser("report")
    r.add_argument("timings")
    a = ap.parse_args()
    return ortools_round(a) if a.cmd == "ortools" else report(a)


if __name__ == "__main__":
    sys.exit(main())
