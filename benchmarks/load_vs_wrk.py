#!/usr/bin/env python3
"""Is ``bench load`` ever the bottleneck? Compare it with wrk on the same endpoints.

Run from the repository, in the project's virtual environment:

    python benchmarks/load_vs_wrk.py            # about a minute and a half
    python benchmarks/load_vs_wrk.py --seconds 3

The server runs pinned to CPU 0 and the load generator (wrk, then ``bench load``) to
CPU 1, same connections, same duration, one after the other. wrk comes from Debian's
package (``apt-get install wrk``); without it the wrk comparisons are skipped with a
message and only the 50 ms case runs. Needs Linux with ``taskset`` and 2+ CPUs.

Targets (on a 2-core machine):
  trivial ASGI app, 64 connections   bench req/s >= 0.60 x wrk req/s
  trivial ASGI app, 1 connection     bench p50 latency <= wrk p50 + 0.2 ms
  FastAPI /ping, 64 connections      bench req/s >= 0.95 x wrk req/s  (the server is the limit)
  FastAPI /sleep50, 100 connections  bench req/s >= 95% of the theoretical 2,000 req/s
and, without a target, a bare protocol server that parses nothing: there the client is
the limit, so the ratio is the client's own ceiling against wrk's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SCRATCH = str(Path(tempfile.gettempdir()) / "bench-benchmarks")  # where each bench load saves its run

HERE = Path(__file__).resolve().parent
SERVER_CPU, CLIENT_CPU = "0", "1"


Row = tuple[str, str, str, "bool | None"]  # name, figures, verdict, target met (None: no target)


@dataclass
class Measured:
    rps: float
    p50_ms: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listening on port {port} after {timeout} s")


class PinnedServer:
    """A server pinned to CPU 0, in its own process group, always stopped."""

    def __init__(self, cmd: list[str], port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, *cmd], start_new_session=True, stdout=subprocess.DEVNULL
        )

    def __enter__(self) -> PinnedServer:
        wait_listening(self.port, self.proc)
        return self

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def server_command(kind: str, port: int) -> list[str]:
    """The bare protocol server, the trivial ASGI app, or FastAPI (``targets.py``) on ``port``."""
    if kind == "bare":
        cmd = [sys.executable, str(HERE / "targets.py"), str(port)]
    elif kind == "asgi":
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "targets:trivial_asgi",
            "--app-dir",
            str(HERE),
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    else:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "targets:app",
            "--app-dir",
            str(HERE),
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    return cmd


class Server(PinnedServer):
    """One of the benchmark's own servers (``server_command``), on a free port."""

    def __init__(self, kind: str) -> None:
        port = free_port()
        super().__init__(server_command(kind, port), port)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, connections: int, seconds: float) -> Measured:
    out = subprocess.run(
        ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    return Measured(rps, _ms(p50.group(1), p50.group(2)))  # type: ignore[union-attr]


def run_bench(url: str, connections: int, seconds: float) -> Measured:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            CLIENT_CPU,
            sys.executable,
            "-m",
            "bench",
            "load",
            url,
            "-c",
            str(connections),
            "-d",
            f"{seconds:g}",
            "--json",
            "--out",
            SCRATCH,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = json.loads(out)
    if figures["errors"]:
        raise SystemExit(f"bench load saw errors: {figures['errors']}")
    return Measured(figures["requests_per_s"], figures["latency"]["p50_ms"])


def warm_up(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "bench", "load", url, "-c", "8", "-d", "1", "--json", "--out", SCRATCH],
        capture_output=True,
        check=True,
    )


def compare(rows: list[Row], url: str, connections: int, seconds: float, name: str, target: float | None) -> None:
    warm_up(url)
    wrk, bench = run_wrk(url, connections, seconds), run_bench(url, connections, seconds)
    ratio = bench.rps / wrk.rps
    verdict = f"{ratio:.2f}x wrk" + (f" (target >= {target:.2f}x)" if target else " (the client's own ceiling)")
    rows.append(
        (
            name,
            f"wrk {wrk.rps:,.0f} req/s, bench {bench.rps:,.0f} req/s",
            verdict,
            None if target is None else ratio >= target,
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement (default 5)")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        print("needs Linux with taskset and at least 2 CPUs (server and client on separate cores)")
        return 2
    have_wrk = shutil.which("wrk") is not None
    if not have_wrk:
        print("wrk not found: install it with `apt-get install wrk` (Debian/Ubuntu); skipping the wrk comparisons\n")
    s = args.seconds
    rows: list[Row] = []

    if have_wrk:
        with Server("asgi") as server:
            url = f"http://127.0.0.1:{server.port}/"
            compare(rows, url, 64, s, "trivial ASGI app, 64 connections", 0.60)
            wrk1, bench1 = run_wrk(url, 1, s), run_bench(url, 1, s)
            extra = bench1.p50_ms - wrk1.p50_ms
            rows.append(
                (
                    "trivial ASGI app, 1 connection",
                    f"p50 wrk {wrk1.p50_ms:.3f} ms, bench {bench1.p50_ms:.3f} ms",
                    f"+{extra:.3f} ms (target <= 0.2 ms)",
                    extra <= 0.2,
                )
            )
        with Server("bare") as server:
            compare(rows, f"http://127.0.0.1:{server.port}/", 64, s, "bare protocol server, 64 connections", None)
    with Server("fastapi") as server:
        if have_wrk:
            compare(rows, f"http://127.0.0.1:{server.port}/ping", 64, s, "FastAPI /ping, 64 connections", 0.95)
        url = f"http://127.0.0.1:{server.port}/sleep50"
        warm_up(url)
        bench = run_bench(url, 100, s)
        share = bench.rps / 2000
        rows.append(
            (
                "FastAPI /sleep50, 100 connections",
                f"bench {bench.rps:,.0f} req/s of 2,000 possible",
                f"{share:.1%} (target >= 95%)",
                share >= 0.95,
            )
        )

    width = max(len(r[0]) for r in rows)
    for name, figures, verdict, ok in rows:
        mark = "info" if ok is None else "PASS" if ok else "FAIL"
        print(f"{mark:<4}  {name:<{width}}  {figures:<48}  {verdict}")
    return 0 if all(r[3] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
