#!/usr/bin/env python3
"""Which operations a contract run answered with a success (2xx), from the server's own count.

    reach.py LABEL BEFORE AFTER ALLOWLIST JUNIT_DIR...

BEFORE and AFTER are two scrapes of the server's `/metrics` (`pudo_http_requests_total` by
method, route pattern and status), taken around the schemathesis runs, so that the fixtures
the script made itself do not count. The operations checked are the ones schemathesis tested:
the test cases of its JUnit reports (one directory per role group). ALLOWLIST lists operations
known not to reach a 2xx (`METHOD /path  reason`, `#` comments).

Prints one line per operation (the statuses seen and how often) and exits 1 when an operation
that is not on the allow-list got no 2xx.
"""

import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

SERIES = re.compile(
    r'^pudo_http_requests_total\{method="([A-Z]+)",route="([^"]*)",status="(\d{3})"\} (\d+)'
)


def counts(path):
    """(method, route) -> {status: count} of one scrape."""
    out = defaultdict(dict)
    for line in Path(path).read_text().splitlines():
        m = SERIES.match(line)
        if m:
            method, route, status, n = m.groups()
            out[(method, route)][status] = int(n)
    return out


def tested(junit_dirs):
    """The operations schemathesis tested, in report order, without duplicates."""
    ops = []
    for d in junit_dirs:
        for f in sorted(Path(d).glob("*.xml")):
            for case in ET.parse(f).iter("testcase"):
                name = case.get("name", "")
                method, _, path = name.partition(" ")
                if path.startswith("/") and (method, path) not in ops:
                    ops.append((method, path))
    return ops


def allowlist(path):
    """(method, path) -> reason."""
    out = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        method, path, *reason = line.split(None, 2)
        out[(method.upper(), path)] = reason[0] if reason else ""
    return out


def main():
    label, before, after, allow_file, *junit_dirs = sys.argv[1:]
    before, after = counts(before), counts(after)
    allowed = allowlist(allow_file)
    ops = tested(junit_dirs)
    if not ops:
        print(f"[{label}] reach: no operation was tested (no JUnit report)")
        return 1
    missing, reached, stale = [], 0, []
    print(f"[{label}] per operation: 2xx answers, then every status seen (count)")
    for method, path in ops:
        seen = {
            status: n - before.get((method, path), {}).get(status, 0)
            for status, n in after.get((method, path), {}).items()
        }
        seen = {s: n for s, n in sorted(seen.items()) if n > 0}
        ok = sum(n for s, n in seen.items() if s.startswith("2"))
        statuses = " ".join(f"{s}x{n}" for s, n in seen.items()) or "no request"
        if ok:
            reached += 1
            mark = "ok  "
            if (method, path) in allowed:
                stale.append((method, path))
        elif (method, path) in allowed:
            mark = "skip"
        else:
            mark = "MISS"
            missing.append((method, path))
        print(f"  {mark} {ok:5d}  {method:6} {path:48} {statuses}")
    print(
        f"[{label}] reach: {reached} of {len(ops)} operations answered 2xx; "
        f"{sum(1 for op in ops if op in allowed)} on the allow-list (tests/contract/unreachable.txt)"
    )
    for method, path in stale:
        print(f"[{label}] note: {method} {path} is on the allow-list but answered 2xx")
    if missing:
        print(f"[{label}] FAIL: no 2xx answer, not on the allow-list:")
        for method, path in missing:
            print(f"    {method} {path}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
