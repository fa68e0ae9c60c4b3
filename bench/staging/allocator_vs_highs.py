#!/usr/bin/env python3
"""The staging model of each exported instance solved as an LP by HiGHS (highspy), next to
pudo's exact allocator on the same instance (issue 4's benchmark).

    cargo build --release --benches
    PUDO_BENCH_EXPORT=/tmp/bench/alloc ./target/release/deps/allocator-* 2000 5000 10000
    python3 bench/staging/allocator_vs_highs.py /tmp/bench/alloc [--time-limit 1200]

The LP is the single-commodity reduction the allocator solves (the cost does not depend on
the SKU, so its optimum equals the per-SKU model's): minimise sum(d_a x_a) + P sum(u_z) with
sum_{a from z} x_a + u_z = demand_z and sum_{a into i} x_a <= capacity_i, x, u >= 0.
"""
import argparse, json, os, sys, time
import numpy as np
import highspy

def load(path):
    zones = np.loadtxt(os.path.join(path, "zones.csv"), dtype=np.float64, ndmin=1)
    shops = np.loadtxt(os.path.join(path, "shops.csv"), dtype=np.float64, ndmin=1)
    arcs = np.loadtxt(os.path.join(path, "arcs.csv"), delimiter=",", dtype=np.float64, ndmin=2)
    return zones, shops, arcs[:, 0].astype(np.int64), arcs[:, 1].astype(np.int64), arcs[:, 2]


def solve_lp(zones, shops, az, ashop, dist, penalty, time_limit):
    """Solves one LP; returns (status, objective, seconds in Highs.run)."""
    nz, ns, na = len(zones), len(shops), len(az)
    # Columns: one per arc (rows: its zone and its shop), then one unmet column per zone.
    starts = np.concatenate([np.arange(0, 2 * na, 2), 2 * na + np.arange(nz + 1)]).astype(np.int32)
    index = np.empty(2 * na + nz, dtype=np.int32)
    index[0:2 * na:2] = az
    index[1:2 * na:2] = nz + ashop
    index[2 * na:] = np.arange(nz)
    value = np.ones(2 * na + nz)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = na + nz, nz + ns
    lp.col_cost_ = np.concatenate([dist, np.full(nz, penalty)])
    lp.col_lower_ = np.zeros(na + nz)
    lp.col_upper_ = np.full(na + nz, highspy.kHighsInf)
    lp.row_lower_ = np.concatenate([zones, np.full(ns, -highspy.kHighsInf)])
    lp.row_upper_ = np.concatenate([zones, shops])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.passModel(lp)
    t = time.perf_counter()
    h.run()
    elapsed = time.perf_counter() - t
    status = h.modelStatusToString(h.getModelStatus())
    return status, h.getInfo().objective_function_value, elapsed


def components(nz, az, ashop):
    """Connected components of the zone-shop graph (union-find): component id per zone."""
    parent = list(range(nz))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_zone = {}
    for z, s in zip(az.tolist(), ashop.tolist()):
        other = first_zone.setdefault(s, z)
        if other != z:
            a, b = find(z), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return np.array([find(z) for z in range(nz)])


def solve_by_components(zones, shops, az, ashop, dist, penalty, time_limit):
    """The same LP split into its independent connected components, each solved by HiGHS:
    the optimum is the sum of the components' optima."""
    comp = components(len(zones), az, ashop)
    total, seconds, worst = 0.0, 0.0, "Optimal"
    order = np.argsort(comp[az], kind="stable")
    bounds = np.searchsorted(comp[az][order], np.unique(comp), side="left").tolist() + [len(az)]
    for k, c in enumerate(np.unique(comp)):
        zsel = np.flatnonzero(comp == c)
        arcs = order[bounds[k]:bounds[k + 1]]
        if len(arcs) == 0:
            total += penalty * zones[zsel].sum()
            continue
        zmap = np.full(len(zones), -1)
        zmap[zsel] = np.arange(len(zsel))
        ssel = np.unique(ashop[arcs])
        smap = np.full(len(shops), -1)
        smap[ssel] = np.arange(len(ssel))
        status, obj, secs = solve_lp(zones[zsel], shops[ssel], zmap[az[arcs]], smap[ashop[arcs]],
                                     dist[arcs], penalty, time_limit)
        if status != "Optimal":
            worst = status
        total += obj
        seconds += secs
    return worst, total, seconds, len(np.unique(comp))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--penalty", type=float, default=50.0)
    ap.add_argument("--time-limit", type=float, default=1200.0)
    ap.add_argument("--by-components", action="store_true",
                    help="also solve each connected component separately (for sizes where "
                         "the whole LP does not finish)")
    ap.add_argument("--skip-whole-above", type=int, default=None,
                    help="do not attempt the whole LP for instances with more zones than this")
    a = ap.parse_args()
    print(f"highspy {highspy.Highs().version() if hasattr(highspy.Highs(), 'version') else ''}")
    for name in sorted(os.listdir(a.dir), key=lambda n: int(n.split("_")[1]) if "_" in n else 0):
        path = os.path.join(a.dir, name)
        if not os.path.exists(os.path.join(path, "pudo.json")):
            continue
        pudo = json.load(open(os.path.join(path, "pudo.json")))
        zones, shops, az, ashop, dist = load(path)
        psecs = max(pudo["solve_ms"] / 1000, 1e-3)
        runs = []
        if a.skip_whole_above is None or pudo["zones"] <= a.skip_whole_above:
            runs.append(("whole LP", solve_lp(zones, shops, az, ashop, dist, a.penalty, a.time_limit)))
        if a.by_components:
            status, obj, secs, n = solve_by_components(zones, shops, az, ashop, dist, a.penalty,
                                                       a.time_limit)
            runs.append((f"{n} components", (status, obj, secs)))
        for label, (status, obj, secs) in runs:
            rel = abs(obj - pudo["total_cost_km"]) / max(abs(obj), 1e-9) if status == "Optimal" else float("nan")
            print(f"zones {pudo['zones']:>6}  arcs {len(az):>9}  HiGHS ({label}) {status:<12} {secs:8.2f} s  "
                  f"objective {obj:.6f}  |  pudo {psecs:7.3f} s  objective {pudo['total_cost_km']:.6f}  |  "
                  f"rel. diff {rel:.2e}  speed-up {secs / psecs:.1f}x", flush=True)


if __name__ == "__main__":
    sys.exit(main())
