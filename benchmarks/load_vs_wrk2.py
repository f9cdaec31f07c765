#!/usr/bin/env python3
"""``bench load`` against servers nobody here wrote, beside wrk (closed loop) and wrk2 (open loop).

Run from the repository, in the project's virtual environment, as root or with nginx on PATH:

    python benchmarks/load_vs_wrk2.py                 # about two minutes
    python benchmarks/load_vs_wrk2.py --seconds 3
    WRK2=/path/to/wrk2 python benchmarks/load_vs_wrk2.py

The script starts nginx (Debian's package: ``apt-get install nginx-light wrk``) on
loopback with a configuration of its own, and a small Python server that answers one
request at a time, 2 ms each (~470 req/s). Servers run pinned to CPU 0, every load
generator to CPU 1, one after the other, the same connections and duration. wrk2 is not a
Debian package: build it from source (github.com/giltene/wrk2, ``make``) and give its path
in ``WRK2`` or put it on PATH as ``wrk2``; without it the open-loop comparisons are
skipped with a line.

Targets (issue 22, a 2-core machine, one client core):
  --rate over capacity at -c 10         bench --per-connection (wrk2's schedule) p50 and p99 within
                                        ±25 % of wrk2's, nothing omitted; the default (one queue)
                                        printed beside it with its theory
  open loop on nginx at -c 64           bench sustains >= 0.8 x wrk2's rate
  nginx closing after every response    bench req/s >= 0.7 x wrk (closed loop, -c 10)
  keep-alive nginx 204                  bench req/s >= 0.8 x wrk (closed loop, -c 64)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from load_vs_wrk import CLIENT_CPU, SCRATCH, PinnedServer, free_port

ONE_AT_A_TIME = textwrap.dedent(
    """
    import socket, sys, time
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen(1024)
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    buffers = {}
    answer = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"
    while True:  # one request at a time, 2 ms of work each: ~470 req/s whatever the client
        for key, _ in sel.select():
            if key.fileobj is sock:
                conn, _ = sock.accept()
                conn.setblocking(False)
                buffers[conn] = b""
                sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(conn)
                buffers.pop(conn, None)
                conn.close()
                continue
            buffers[conn] += data
            while b"\\r\\n\\r\\n" in buffers[conn]:
                _, _, buffers[conn] = buffers[conn].partition(b"\\r\\n\\r\\n")
                end = time.perf_counter() + 0.002
                while time.perf_counter() < end:
                    pass
                conn.sendall(answer)
    """
)


def nginx_conf(folder: Path, port: int, keepalive: str) -> str:
    return textwrap.dedent(
        f"""
        daemon off;
        worker_processes 1;
        pid {folder}/nginx.pid;
        error_log {folder}/error.log warn;
        events {{ worker_connections 4096; }}
        http {{
            access_log off;
            client_body_temp_path {folder}/body;
            proxy_temp_path {folder}/proxy;
            fastcgi_temp_path {folder}/fastcgi;
            uwsgi_temp_path {folder}/uwsgi;
            scgi_temp_path {folder}/scgi;
            {keepalive}
            server {{
                listen 127.0.0.1:{port};
                location = /204 {{ return 204; }}
                location / {{ root {folder}/www; }}
            }}
        }}
        """
    )


@dataclass
class Measured:
    rps: float
    p50_ms: float
    p99_ms: float
    omitted: int = 0


def nginx(folder: Path, keepalive: str) -> PinnedServer:
    port = free_port()
    for sub in ("www", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "www" / "small.txt").write_text("x" * 100)
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf(folder, port, keepalive))
    return PinnedServer([shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-p", str(folder)], port)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]  # wrk2 prints minutes too


def run_wrk(binary: str, url: str, connections: int, seconds: float, rate: float | None = None) -> Measured:
    cmd = [binary, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if rate is not None:
        cmd.append(f"-R{rate:g}")
    out = subprocess.run(["taskset", "-c", CLIENT_CPU, *cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    found = {}
    for q in ("50", "99"):
        match = re.search(rf"^\s*{q}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\b", out, re.MULTILINE)
        found[q] = _ms(match.group(1), match.group(2)) if match else float("nan")
    return Measured(rps, found["50"], found["99"])


def run_bench(url: str, connections: int, seconds: float, rate: float | None = None, *extra: str) -> Measured:
    cmd = [sys.executable, "-m", "bench", "load", url, "-c", str(connections), "-d", f"{seconds:g}", *extra]
    if rate is not None:
        cmd += ["--rate", f"{rate:g}"]
    done = subprocess.run(
        ["taskset", "-c", CLIENT_CPU, *cmd, "--json", "--out", SCRATCH], capture_output=True, text=True
    )
    figures = json.loads(done.stdout)
    latency = figures["latency"] or {"p50_ms": float("nan"), "p99_ms": float("nan")}
    if figures["errors"]:
        print(f"  (bench load saw errors: {figures['errors']})")
    return Measured(figures["requests_per_s"], latency["p50_ms"], latency["p99_ms"], figures["dropped"])


Row = tuple[str, str, str, "bool | None"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement (default 5)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="closed-loop cases: wrk and bench in turn this many times (default 3)"
    )
    args = parser.parse_args()
    s = args.seconds
    if (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        print("needs Linux with taskset and at least 2 CPUs (server and client on separate cores)")
        return 2
    wrk = shutil.which("wrk")
    wrk2 = os.environ.get("WRK2") or shutil.which("wrk2")
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        print("needs nginx: apt-get install nginx-light")
        return 2
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as temp:
        folder = Path(temp)
        if wrk2:
            port = free_port()
            script = folder / "one_at_a_time.py"
            script.write_text(ONE_AT_A_TIME)
            with PinnedServer([sys.executable, str(script), str(port)], port):
                url = f"http://127.0.0.1:{port}/"
                theirs = run_wrk(wrk2, url, 10, 3, rate=900)
                lanes = run_bench(url, 10, 3, 900, "--per-connection")  # wrk2's own schedule
                ours = run_bench(url, 10, 3, rate=900)  # the default: one queue for all connections
            ok = abs(lanes.p50_ms / theirs.p50_ms - 1) <= 0.25 and abs(lanes.p99_ms / theirs.p99_ms - 1) <= 0.25
            # Theory, one FIFO queue: request i (due at i/900) is answered at about i/mu, mu the
            # rate measured; those answered within 3 s have latencies i (1/mu - 1/900).
            mu = ours.rps
            served = mu * 3
            p50_theory, p99_theory = (q * served * (1 / mu - 1 / 900) * 1000 for q in (0.5, 0.99))
            theory: Row = (
                "  the same, one FIFO queue in theory",
                f"p50 {p50_theory:,.0f} ms p99 {p99_theory:,.0f} ms at the {mu:,.0f} req/s measured",
                "",
                None,
            )
            rows.append(
                (
                    "--rate 900 -c 10 -d 3 --per-connection, 470 req/s",
                    f"wrk2 p50 {theirs.p50_ms:,.0f} ms p99 {theirs.p99_ms:,.0f} ms; "
                    f"bench p50 {lanes.p50_ms:,.0f} ms p99 {lanes.p99_ms:,.0f} ms, {lanes.omitted} never sent",
                    f"p50 {lanes.p50_ms / theirs.p50_ms:.2f}x, p99 {lanes.p99_ms / theirs.p99_ms:.2f}x "
                    "(target 0.75-1.25x)",
                    ok,
                )
            )
            rows.append(
                (
                    "  the same, one queue for all (the default)",
                    f"bench p50 {ours.p50_ms:,.0f} ms p99 {ours.p99_ms:,.0f} ms, {ours.omitted} never sent",
                    f"p50 {ours.p50_ms / theirs.p50_ms:.2f}x, p99 {ours.p99_ms / theirs.p99_ms:.2f}x wrk2's",
                    None,
                )
            )
            rows.append(theory)
            with nginx(folder / "ka", "keepalive_requests 1000000;") as server:
                url = f"http://127.0.0.1:{server.port}/204"
                theirs = run_wrk(wrk2, url, 64, s, rate=60000)
                ours = run_bench(url, 64, s, rate=60000)
            ratio = ours.rps / theirs.rps
            rows.append(
                (
                    "open loop --rate 60000 -c 64 on nginx 204",
                    f"wrk2 {theirs.rps:,.0f} req/s, bench {ours.rps:,.0f} req/s",
                    f"{ratio:.2f}x wrk2 (target >= 0.80x)",
                    ratio >= 0.8,
                )
            )
        else:
            rows.append(("open loop cases", "skipped: no wrk2 (build it, then WRK2=path)", "", None))
        if wrk:
            cases = [
                ("nginx closing after every response, -c 10", "keepalive_timeout 0;", "/204", 10, 0.7),
                ("nginx keep-alive 204, -c 64", "keepalive_requests 1000000;", "/204", 64, 0.8),
                ("nginx keep-alive small file, -c 64", "keepalive_requests 1000000;", "/small.txt", 64, None),
                ("nginx keepalive_requests 100, -c 64", "keepalive_requests 100;", "/204", 64, None),
            ]
            for name, keepalive, path, connections, target in cases:
                pairs = []
                with nginx(folder / re.sub(r"\W+", "-", name), keepalive) as server:
                    url = f"http://127.0.0.1:{server.port}{path}"
                    for _ in range(args.repeat):  # in turn: this machine's speed drifts by 20 % in a minute
                        pairs.append((run_wrk(wrk, url, connections, s), run_bench(url, connections, s)))
                ratios = sorted(ours.rps / theirs.rps for theirs, ours in pairs)
                ratio = statistics.median(ratios)
                verdict = f"{ratio:.2f}x wrk" + (f" (target >= {target:.2f}x)" if target else "")
                spread = f" [{ratios[0]:.2f}-{ratios[-1]:.2f}]" if len(ratios) > 1 else ""
                rows.append(
                    (
                        name,
                        f"wrk {statistics.median(t.rps for t, _ in pairs):,.0f} req/s, "
                        f"bench {statistics.median(o.rps for _, o in pairs):,.0f} req/s (medians of {len(pairs)})",
                        verdict + spread,
                        None if target is None else ratio >= target,
                    )
                )
        else:
            rows.append(("closed loop cases", "skipped: no wrk (apt-get install wrk)", "", None))
    width = max(len(r[0]) for r in rows)
    for name, figures, verdict, met in rows:
        mark = {True: "✓", False: "✗", None: " "}[met]
        print(f"{mark} {name:<{width}}  {figures}  {verdict}")
    return 0 if all(r[3] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
