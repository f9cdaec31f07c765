"""``bench load``: the loopback guard, the figures, and the JSON shape."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import ROOT, bench_here, connected_to, reaped, wait_for


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    from bench.engine.processes import free_port

    port = free_port()
    here = ROOT / "benchmarks"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "targets:app",
            "--app-dir",
            str(here),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        import httpx

        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                import time

                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.integration
@pytest.mark.parametrize(
    "args", [["-c", "4", "-n", "300"], ["--rate", "200", "-d", "0.5"], ["-c", "4", "-n", "50", "--client", "httpx"]]
)
def test_load_json_shape(server: int, args: list[str], tmp_path: Path) -> None:
    done = bench_here("load", f"http://127.0.0.1:{server}/ping", *args, "--json", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    doc = json.loads(out)
    assert {
        "url",
        "pattern",
        "client",
        "requests",
        "requests_per_s",
        "statuses",
        "errors",
        "dropped",
        "latency",
        "histogram",
        "duration_s",
    } <= set(doc)
    assert doc["errors"] == {} and doc["requests"] > 0 and doc["statuses"] == {"200": doc["requests"]}
    assert {"min_ms", "p50_ms", "p90_ms", "p99_ms", "p99_9_ms", "max_ms"} <= set(doc["latency"])
    if "--rate" in args:
        assert doc["pattern"] == "open" and doc["requests"] == 100 and doc["client_queue"] is not None
    else:
        assert doc["pattern"] == "closed"


@pytest.mark.integration
def test_load_prints_the_tables(server: int, tmp_path: Path) -> None:
    done = bench_here("load", f"http://127.0.0.1:{server}/ping", "-n", "100", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for words in ("requests", "req/s", "status codes", "200: 100", "p99.9", "latency histogram"):
        assert words in out


@pytest.mark.integration
def test_ctrl_c_prints_and_keeps_what_was_measured(server: int, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{server}/ping"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "load", url, "-c", "2", "-d", "60", "--json", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(proc):
        wait_for(lambda: connected_to(server), 60, "bench load never connected")  # the load is on, then
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    doc = json.loads(out)
    assert doc["interrupted"] is True and doc["requests"] > 0 and doc["latency"]["max_ms"] > 0
    (saved,) = tmp_path.glob("*/run.json")  # saved too, marked interrupted
    assert json.loads(saved.read_text())["status"] == "interrupted"
