#!/usr/bin/env python3
"""As fast as the slowest variant? Wall time and fidelity of runs raced and one at a time.

Run from the repository, in the project's virtual environment:

    python benchmarks/racing.py                      # scales 1, 0.1, 0.05, 0.02 and the tour: ~4 min
    python benchmarks/racing.py --scales 0.1 --no-tour --no-suite

For each time scale, ``bench run four-tabs`` runs twice, raced (the default) and with
``--one-at-a-time``, each a fresh process as a user types it. Printed per run: the wall
time, the slowest variant's theory (its expected all done) and the ratio of the two, and
for every variant the measured all done ÷ theory (deterministic variants: within 2.5 %;
multi-worker is a race, its theory a range). Then the start-up and teardown cost of one
variant (a run of one asyncio variant minus its work; then one lab server started and
stopped in-process, cold and forked from the preloaded starter), ``bench tour --time-scale 0.1``,
and the test suite as README says to run it. Targets: four-tabs at scale 1 ≤ 1.15 × its
slowest variant, at 0.1 ≤ 1.5 ×; tour ≤ 40 s; the suite ≤ 150 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(tempfile.gettempdir()) / "bench-benchmarks" / "racing"
RACE_TARGETS = {1.0: 1.15, 0.1: 1.5}
FIDELITY = 0.025


def timed(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, cwd=ROOT)
    return time.perf_counter() - start, done


def four_tabs(scale: float, alone: bool) -> tuple[float, dict[str, object]]:
    args = ["run", "four-tabs", "--time-scale", f"{scale:g}", "--json", "--out", str(OUT)]
    wall, done = timed(*args, *(["--one-at-a-time"] if alone else []))
    if done.returncode != 0:
        raise SystemExit(f"bench run failed ({done.returncode}): {done.stderr[-500:]}")
    doc: dict[str, object] = json.loads(done.stdout)
    return wall, doc


def report(scale: float, alone: bool) -> tuple[float, float, list[str]]:
    wall, doc = four_tabs(scale, alone)
    variants = doc["variants"]
    assert isinstance(variants, list)
    slowest = max(v["expected"]["all_done_s"] for v in variants)
    ratios, off = [], []
    for v in variants:
        ratio = v["summary"]["all_done_s"] / v["expected"]["all_done_s"]
        span = v["expected"].get("all_done_range_s")
        ratios.append(f"{v['name']} {ratio:.3f}")
        deterministic = span is None and v["capacity"]["workers"] == 1  # --workers N: the accept race
        if deterministic and abs(ratio - 1) > FIDELITY:
            off.append(f"{v['name']} {ratio:.3f}")
    how = "one at a time" if alone else "raced       "
    print(f"scale {scale:<5g} {how}: {wall:6.2f} s = {wall / slowest:.2f} × its slowest variant ({slowest:.2f} s)")
    print(f"    measured/theory: {', '.join(ratios)}")
    return wall, slowest, off


def start_and_stop(cold: bool, times: int = 5) -> tuple[float, float]:
    """One lab server started until ready, then stopped, in this process as the harness does it
    (the starter already warm): the medians of ``times``, started and stopped."""
    import asyncio
    import os
    import statistics

    from bench.engine import forking
    from bench.lab.launcher import ServerSpec, serve

    os.environ[forking.COLD_ENV] = "1" if cold else "0"
    spec = ServerSpec(app="servers.asyncio_sleep:app", app_dir=ROOT, log_path=OUT / "start-stop.log")

    async def once() -> tuple[float, float]:
        began = time.perf_counter()
        async with serve(spec):
            ready = time.perf_counter()
        return ready - began, time.perf_counter() - ready

    forking.warm()
    asyncio.run(once())  # the starter's own start, and the first fork, are not counted
    runs = [asyncio.run(once()) for _ in range(times)]
    os.environ.pop(forking.COLD_ENV)
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,0.1,0.05,0.02")
    parser.add_argument("--no-tour", action="store_true")
    parser.add_argument("--no-suite", action="store_true")
    args = parser.parse_args()
    failed: list[str] = []
    for scale in (float(s) for s in args.scales.split(",")):
        for alone in (False, True):
            wall, slowest, off = report(scale, alone)
            failed += [f"scale {scale:g}: {o} off theory by more than 2.5 %" for o in off]
            target = RACE_TARGETS.get(scale)
            if not alone and target is not None and wall > target * slowest:
                failed.append(f"scale {scale:g}: raced {wall / slowest:.2f} × > {target} ×")
    one_wall, one = timed(
        "run", "four-tabs", "--time-scale", "0.1", "--variants", "asyncio", "--json", "--out", str(OUT)
    )
    work = json.loads(one.stdout)["variants"][0]["summary"]["all_done_s"]
    print(f"start-up and teardown of one variant, bench's own start included: {one_wall - work:.2f} s")
    for cold in (True, False):
        up, down = start_and_stop(cold)
        how = "cold (a fresh python -m uvicorn)" if cold else "forked from the preloaded starter"
        print(f"one lab server, {how}: ready in {up:.3f} s, stopped in {down:.3f} s (median of 5)")
        if not cold and up + down > 0.5:
            failed.append(f"start-up and teardown {up + down:.2f} s > 0.5 s")
    if not args.no_tour:
        tour_wall, tour = timed("tour", "--time-scale", "0.1", "--out", str(OUT))
        print(f"bench tour --time-scale 0.1: {tour_wall:.1f} s (target ≤ 40 s), exit {tour.returncode}")
        if tour_wall > 40:
            failed.append(f"tour {tour_wall:.1f} s > 40 s")
    if not args.no_suite:
        start = time.perf_counter()
        suite = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=ROOT, capture_output=True, text=True)
        suite_s = time.perf_counter() - start
        print(
            f"pytest (as the README runs it): {suite_s:.0f} s (target ≤ 150 s): {suite.stdout.strip().splitlines()[-1]}"
        )
        if suite_s > 150:
            failed.append(f"suite {suite_s:.0f} s > 150 s")
    for line in failed:
        print(f"✗ {line}")
    print("✓ all targets met" if not failed else f"{len(failed)} target(s) missed")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
