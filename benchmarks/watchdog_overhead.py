#!/usr/bin/env python3
"""What does the loop watchdog cost? A /ping load on a FastAPI app with and without it.

Run from the repository, in the project's virtual environment:

    python benchmarks/watchdog_overhead.py            # about a minute
    python benchmarks/watchdog_overhead.py --rounds 5 --seconds 8

The app (``benchmarks/targets.py:app``, FastAPI's trivial endpoint) runs under uvicorn pinned
to CPU 0, once as it is and once wrapped as every real run wraps it
(``--factory bench.lab.watched:app``: the heartbeat on the loop, the watchdog thread). ``bench load -c
32`` runs pinned to CPU 1. The two alternate, ``--rounds`` times each; the overhead is the
drop of the median req/s. Target: under 2 %. Needs Linux with ``taskset`` and 2+ CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from load_vs_wrk import CLIENT_CPU, HERE, SCRATCH, SERVER_CPU, free_port, wait_listening

from bench.lab import watched


def serve(wrapped: bool) -> tuple[subprocess.Popen[bytes], int, str]:
    port = free_port()
    logs = tempfile.mkdtemp(prefix="bench-watchdog-")
    app = "bench.lab.watched:app" if wrapped else "targets:app"
    env = {
        **os.environ,
        watched.WATCHED_APP: "targets:app",
        watched.WATCHDOG_LOG: logs,
        watched.WATCHDOG_FOLDERS: str(HERE),
    }
    cmd = ["taskset", "-c", SERVER_CPU, sys.executable, "-m", "uvicorn", app, "--app-dir", str(HERE)]
    cmd += ["--port", str(port), "--no-access-log", "--log-level", "warning", *(["--factory"] if wrapped else [])]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    wait_listening(port, proc)
    return proc, port, logs


def load(port: int, seconds: float) -> float:
    cmd = ["taskset", "-c", CLIENT_CPU, sys.executable, "-m", "bench", "load", f"http://127.0.0.1:{port}/ping"]
    cmd += ["-c", "32", "-d", str(seconds), "--json", "--out", SCRATCH]
    doc = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert not doc["errors"], doc["errors"]
    return float(doc["requests_per_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    rates: dict[bool, list[float]] = {False: [], True: []}
    holds = 0
    for _ in range(args.rounds):
        for wrapped in (False, True):
            proc, port, logs = serve(wrapped)
            try:
                load(port, 1.0)  # warm up
                rates[wrapped].append(load(port, args.seconds))
            finally:
                os.killpg(proc.pid, 15)
                proc.wait(10)
            holds += sum(Path(logs, name).read_text().count("\n") for name in os.listdir(logs))
    bare, watched_rate = statistics.median(rates[False]), statistics.median(rates[True])
    overhead = (bare - watched_rate) / bare
    print(f"without the watchdog: {bare:,.0f} req/s (median of {' '.join(f'{r:,.0f}' for r in rates[False])})")
    print(f"with the watchdog:    {watched_rate:,.0f} req/s (median of {' '.join(f'{r:,.0f}' for r in rates[True])})")
    print(f"holds over 20 ms noted under the /ping load: {holds}")
    met = overhead < 0.02
    print(f"overhead: {overhead:+.2%} (target < 2 %) {'✓' if met else '✗'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
