#!/usr/bin/env python3
"""The staging model of each exported instance solved as an LP by HiGHS (highspy), next to
pudo's exact allocator on the same instance (issue 4's benchmark).

    cargo build --release --benches
    PUDO_BENCH_EXPORT=/tmp/bench/alloc ./target/release/deps/allocator-* 2000 5000 10000
    python3 bench/allocator_vs_highs.py /tmp/bench/alloc [--time-limit 1200]

The LP is the single-commodity reduction the allocator solves (the cost does not depend on
the SKU, so its optimum equals the per-SKU model's): minimise sum(d_a x_a) + P sum(u_z) with
sum_{a from z} x_a + u_z = demand_z and sum_{a into i} x_a <= capacity_i, x, u >= 0.
"""
import argparse, json, os, sys, time
import numpy as np
import highspy

def solve(path, penalty, time_limit):
    zones = np.loadtxt(os.path.join(path, "zones.csv"), dtype=np.float64, ndmin=1)
    shops = np.loadtxt(os.path.join(path, "shops.csv"), dtype=np.float64, ndmin=1)
    arcs = np.loadtxt(os.path.join(path, "arcs.csv"), delimiter=",", dtype=np.float64, ndmin=2)
    nz, ns, na = len(zones), len(shops), len(arcs)
    az, ashop, dist = arcs[:, 0].astype(np.int64), arcs[:, 1].astype(np.int64), arcs[:, 2]
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
    return status, h.getInfo().objective_function_value, elapsed, na

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--penalty", type=float, default=50.0)
    ap.add_argument("--time-limit", type=float, default=1200.0)
    a = ap.parse_args()
    print(f"highspy {highspy.Highs().version() if hasattr(highspy.Highs(), 'version') else ''}")
    for name in sorted(os.listdir(a.dir), key=lambda n: int(n.split("_")[1]) if "_" in n else 0):
        path = os.path.join(a.dir, name)
        if not os.path.exists(os.path.join(path, "pudo.json")):
            continue
        pudo = json.load(open(os.path.join(path, "pudo.json")))
        status, obj, secs, na = solve(path, a.penalty, a.time_limit)
        rel = abs(obj - pudo["total_cost_km"]) / max(abs(obj), 1e-9) if status == "Optimal" else float("nan")
        print(f"zones {pudo['zones']:>6}  arcs {na:>9}  HiGHS {status:<12} {secs:8.2f} s  objective {obj:.6f}  |  "
              f"pudo {pudo['solve_ms'] / 1000:7.3f} s  objective {pudo['total_cost_km']:.6f}  |  "
              f"rel. diff {rel:.2e}  speed-up {secs / max(pudo['solve_ms'] / 1000, 1e-3):.1f}x", flush=True)

if __name__ == "__main__":
    sys.exit(main())
