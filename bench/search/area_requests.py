#!/usr/bin/env python3
"""The map areas and text queries of bench/search/postgis.sh, from the CN shop file.

    area_requests.py SHOPS_CSV OUT_DIR

Writes to OUT_DIR, each line one request and the same requests in the same order in both forms:
  area-streets.csv, area-cities.csv   west,south,east,north (6 decimals), for PostgreSQL's COPY;
  area-streets.paths, area-cities.paths   the same boxes as pudo paths (`/v1/pickup-points?bbox=`);
  text-queries.csv   query,ILIKE pattern, for PostgreSQL's COPY;
  text-queries.paths   the same queries as pudo paths (`/v1/pickup-points?q=`).

The families are those of benches/search.rs: boxes centred on random shops, streets 0.002-0.02
degrees high (answered as points), cities 0.1-0.6 degrees (mostly answered as clusters), the
width scaled by the latitude; text queries are town names, 4-letter town prefixes, external ids
in full and without their last character, and shop kind with town. Deterministic (fixed seed).
"""

import csv
import math
import random
import sys
import urllib.parse

BOXES = 2000
QUERIES = 2000


def boxes(coords, rng, low, high):
    out = []
    for _ in range(BOXES):
        lat, lon = coords[rng.randrange(len(coords))]
        h = rng.uniform(low, high)
        w = h / max(math.cos(math.radians(lat)), 0.2)
        out.append(
            (
                max(lon - w / 2, -180.0),
                max(lat - h / 2, -90.0),
                min(lon + w / 2, 180.0),
                min(lat + h / 2, 90.0),
            )
        )
    return [tuple(f"{v:.6f}" for v in b) for b in out]


def like_pattern(query):
    """`%word1%word2%`: each word anywhere, in order (ILIKE has no word order freedom)."""
    escaped = [w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for w in query.split()]
    return "%" + "%".join(escaped) + "%"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: area_requests.py SHOPS_CSV OUT_DIR")
    shops, out = sys.argv[1], sys.argv[2]
    coords, names = [], []
    with open(shops, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            coords.append((float(row["latitude"]), float(row["longitude"])))
            names.append((row["name"], row["external_id"]))
    rng = random.Random(20)
    for family, (low, high) in (("streets", (0.002, 0.02)), ("cities", (0.1, 0.6))):
        found = boxes(coords, rng, low, high)
        with open(f"{out}/area-{family}.csv", "w", encoding="utf-8") as f:
            for b in found:
                f.write(",".join(b) + "\n")
        with open(f"{out}/area-{family}.paths", "w", encoding="utf-8") as f:
            for b in found:
                f.write("/v1/pickup-points?bbox=" + ",".join(b) + "\n")
    queries = []
    for k in range(QUERIES):
        name, ext = names[rng.randrange(len(names))]
        # "Convenience store Shanghai #12": the town is the word before '#'.
        words = name.split()
        town = words[-2] if len(words) >= 2 else ""
        queries.append(
            [town, town[:4], ext, ext[:-1], f"{words[0]} {town}"][k % 5].strip() or ext
        )
    with open(f"{out}/text-queries.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        for q in queries:
            w.writerow([q, like_pattern(q)])
    with open(f"{out}/text-queries.paths", "w", encoding="utf-8") as f:
        for q in queries:
            f.write("/v1/pickup-points?q=" + urllib.parse.quote(q, safe="") + "\n")
    print(f"wrote {BOXES} street boxes, {BOXES} city boxes and {QUERIES} text queries to {out}")


if __name__ == "__main__":
    main()
