#!/usr/bin/env python3
"""Does ``bench load`` run in constant memory? Peak memory at 50 k and at 2 M requests.

Run from the repository, in the project's virtual environment:

    python benchmarks/load_memory.py             # about half a minute
    python benchmarks/load_memory.py --large 500000

A bare protocol server that parses nothing (the fastest target, so that 2 M requests take
seconds) runs pinned to CPU 0; ``bench load -c 64 -n N --json`` runs pinned to CPU 1, each
count in a fresh process whose peak resident memory (ru_maxrss) is read when it ends.
Target: the large load peaks at no more than 1.3x the memory of the small one (before the
HDR histogram: 64 MB at 50 k, 748 MB at 2 M). Needs Linux with ``taskset`` and 2+ CPUs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from load_vs_wrk import CLIENT_CPU, SCRATCH, Server

PEAK = (
    "import resource, subprocess, sys; "
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "print(done.stdout); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(done.returncode)"
)


def measure(port: int, total: int) -> tuple[float, float, str]:
    """req/s, peak MB and the precision note of one ``bench load -n total``."""
    cmd = ["taskset", "-c", CLIENT_CPU, sys.executable, "-m", "bench", "load"]
    cmd += [f"http://127.0.0.1:{port}/", "-c", "64", "-n", str(total), "--json", "--out", SCRATCH]
    done = subprocess.run([sys.executable, "-c", PEAK, *cmd], capture_output=True, text=True, check=True)
    doc = json.loads(done.stdout)
    assert doc["requests"] == total and not doc["errors"], doc["errors"]
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return doc["requests_per_s"], peak_kb / 1024, doc["precision"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=50_000)
    parser.add_argument("--large", type=int, default=2_000_000)
    args = parser.parse_args()
    with Server("bare") as server:
        rows = [(n, *measure(server.port, n)) for n in (args.small, args.large)]
    for n, rps, mb, precision in rows:
        print(f"bench load -c 64 -n {n:>9,}: {rps:>9,.0f} req/s, peak {mb:6.1f} MB  ({precision})")
    ratio = rows[1][2] / rows[0][2]
    met = ratio <= 1.3
    print(f"peak memory {args.large:,} / {args.small:,} requests: {ratio:.2f}x (target <= 1.3x) {'✓' if met else '✗'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
