#!/usr/bin/env python3
"""CPU accounting for `QUOTA=… bench/scale/run.sh` (Linux /proc and cgroup files only).

    cpustat.py snapshot OUT.json PIDS CGROUPS
        PIDS: the instances' pids, comma separated; CGROUPS: their cgroup directories, in
        the same order. Writes the time, the machine's busy CPU (/proc/stat), each
        instance's CPU time (/proc/PID/stat, all threads), every `postgres` process's CPU
        time, and each cgroup's cpu.stat.
    cpustat.py merge LINE.json BEFORE.json AFTER.json QUOTA CGROUP_VERSION
        Prints the load tool's JSON line with "quota", "cgroup" and "cpu" (the differences
        between the two snapshots) added.

PostgreSQL's figure counts the processes alive at the second snapshot (a backend started
in between counts from zero; one that exited in between is missed); the instances' pools
keep their connections open, so that is every backend that serves them. The machine figure
is every core's busy time (all processes, this tool included).
"""
import json
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def proc_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def postgres_ticks():
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        ticks = proc_ticks(pid)
        if ticks is not None:
            out[pid] = ticks
    return out


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is counted in user)
    return sum(v[:8]) - v[3] - v[4]


def cpu_stat(cgroup):
    out = {}
    with open(os.path.join(cgroup, "cpu.stat")) as f:
        for line in f:
            key, value = line.split()
            out[key] = int(value)
    # v1: throttled_time in ns; v2: throttled_usec
    if "throttled_usec" in out:
        out["throttled_s"] = out["throttled_usec"] / 1e6
    else:
        out["throttled_s"] = out.get("throttled_time", 0) / 1e9
    return out


def snapshot(path, pids, cgroups):
    pids = [p for p in pids.split(",") if p]
    cgroups = [c for c in cgroups.split(",") if c]
    snap = {
        "t": time.monotonic(),
        "machine": machine_busy(),
        "instances": [proc_ticks(p) for p in pids],
        "postgres": postgres_ticks(),
        "cgroups": [cpu_stat(c) for c in cgroups],
    }
    with open(path, "w") as f:
        json.dump(snap, f)


def merge(line_path, before_path, after_path, quota, version):
    with open(line_path) as f:
        line = json.loads(f.read())
    with open(before_path) as f:
        a = json.load(f)
    with open(after_path) as f:
        b = json.load(f)
    wall = b["t"] - a["t"]
    inst = [
        None if x is None or y is None else round((y - x) / TICK / wall, 3)
        for x, y in zip(a["instances"], b["instances"])
    ]
    pg = sum(t - a["postgres"].get(pid, 0) for pid, t in b["postgres"].items())
    groups = [
        {
            "periods": y["nr_periods"] - x["nr_periods"],
            "throttled": y["nr_throttled"] - x["nr_throttled"],
            "throttled_s": round(y["throttled_s"] - x["throttled_s"], 3),
        }
        for x, y in zip(a["cgroups"], b["cgroups"])
    ]
    line["quota"] = float(quota)
    line["cgroup"] = version
    line["cpu"] = {
        "wall_s": round(wall, 3),
        "instance_cores": inst,
        "postgres_cores": round(pg / TICK / wall, 3),
        "machine_cores": round((b["machine"] - a["machine"]) / TICK / wall, 3),
        "periods": sum(g["periods"] for g in groups),
        "throttled_periods": sum(g["throttled"] for g in groups),
        "throttled_s": round(sum(g["throttled_s"] for g in groups), 3),
        "cgroups": groups,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "snapshot" and len(args) == 3:
        snapshot(*args)
    elif cmd == "merge" and len(args) == 5:
        merge(*args)
    else:
        sys.exit(__doc__)
