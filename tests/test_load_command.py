"""``bench load``: the loopback guard, the figures, and the JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.engine.load import Sample
from bench.engine.recorder import figures
from bench.engine.target import parse_target
from bench.errors import BenchError
from bench.model.loadstats import histogram, latency_of
from tests.factories import bench


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/x", "localhost:9000", "http://[::1]:80/", "http://127.9.9.9/"])
def test_loopback_targets_are_allowed(url: str) -> None:
    assert parse_target(url).port in (8000, 9000, 80)


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://example.com/", "example.com", 80),
        ("http://10.0.0.1/", "10.0.0.1", 80),
        ("http://192.168.1.2:8000/", "192.168.1.2", 8000),
    ],
)
def test_remote_targets_are_refused_unless_allowed(
    url: str, host: str, port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(BenchError, match="not a loopback address"):
        parse_target(url)
    allowed = parse_target(url, allow_remote=True)
    assert (allowed.host, allowed.port) == (host, port)
    code, out, err = bench("load", url, "-n", "1", capsys=capsys)
    assert code == 2 and "--allow-remote" in err and out == ""


@pytest.mark.parametrize("url", ["https://127.0.0.1/", "http://127.0.0.1:99999/"])
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(BenchError):
        parse_target(url)


def test_figures_of_known_samples() -> None:
    samples = [Sample(i, "", 100.0 + i, None, 100.0 + i + (i + 1) / 1000, 200, None, None) for i in range(10)]
    samples.append(Sample(10, "", 200.0, None, None, None, None, "timeout"))
    samples.append(Sample(11, "", 200.0, None, None, None, None, "dropped"))
    f = figures(samples, "http://x/", "closed", "raw", "uvloop", 4)
    assert f.requests == 10 and f.errors == {"timeout": 1} and f.dropped == 1
    assert f.statuses == {"200": 10}
    assert f.latency is not None
    assert f.latency.min_ms == pytest.approx(1.0) and f.latency.max_ms == pytest.approx(10.0)
    assert f.latency.p50_ms == pytest.approx(5.5) and f.latency.p99_9_ms == pytest.approx(9.991)
    assert sum(b.count for b in f.histogram) == 10


def test_histogram_and_latency_edge_cases() -> None:
    assert histogram([]) == [] and latency_of([]) is None
    single = histogram([0.001, 0.001])
    assert len(single) == 1 and single[0].count == 2


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    from bench.engine.processes import free_port

    port = free_port()
    here = Path(__file__).resolve().parent.parent / "benchmarks"
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
def test_load_json_shape(server: int, args: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "load", f"http://127.0.0.1:{server}/ping", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
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
def test_load_prints_the_tables(server: int) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "load", f"http://127.0.0.1:{server}/ping", "-n", "100"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for words in ("requests", "req/s", "status codes", "200: 100", "p99.9", "latency histogram"):
        assert words in out
