"""The ``bench`` command as a user meets it: output, exit codes, and what it leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.factories import bench_here


def run_bench(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.integration
def test_run_json_is_the_document_and_nothing_else(tmp_path: Path) -> None:
    result = run_bench(
        "run",
        "four-tabs",
        "--time-scale",
        "0.05",
        "--variants",
        "sync,background",
        "--json",
        "--out",
        str(tmp_path / "results"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["scenario"]["name"] == "four-tabs" and doc["time_scale"] == 0.05
    assert {"python", "cpu_count", "platform", "packages"} <= set(doc["environment"])
    assert doc["environment"]["packages"]["uvicorn"]
    sync, background = doc["variants"]
    d = 0.5
    assert 0.98 * 4 * d <= sync["summary"]["all_done_s"] <= 1.2 * 4 * d
    assert background["summary"]["response_p50_s"] < 0.1 * d
    assert [c["id"] for c in sync["claims"]] == ["1a", "1b"]
    saved = json.loads(next((tmp_path / "results").glob("*/run.json")).read_text())
    assert saved == doc


BROKEN_SCENARIOS = """
variants:
  broken:
    title: an app that fails at import
    app: "broken_app:app"
    work_slots: 1
    answers: after-work
  fine:
    title: a working variant
    app: "servers.asyncio_sleep:app"
    work_slots: unbounded
    answers: after-work
scenarios:
  mixed:
    title: one broken variant, one fine
    work: { seconds: 1 }
    load: { clients: 2 }
    variants: [broken, fine]
"""


@pytest.mark.integration
def test_a_server_that_fails_to_start_shows_its_log_and_the_others_still_run(tmp_path: Path) -> None:
    (tmp_path / "broken_app.py").write_text("raise RuntimeError('broken on purpose')\n")
    (tmp_path / "s.yaml").write_text(BROKEN_SCENARIOS)
    result = bench_here(
        "run", "mixed", "--scenarios", str(tmp_path / "s.yaml"), "--time-scale", "0.1",
        "--out", str(tmp_path / "results"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "broken did not run" in result.stdout and "broken on purpose" in result.stdout
    doc = json.loads(next((tmp_path / "results").glob("*/run.json")).read_text())
    broken, fine = doc["variants"]
    assert broken["status"] == "failed" and "broken on purpose" in broken["error"]
    assert fine["status"] == "ok" and fine["summary"]["ok"] == 2


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_everything_and_keeps_finished_variants(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "results"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "four-tabs",
            "--time-scale",
            "0.1",  # d = 1 s: the second variant still loads when the signal comes 0.5 s after its log
            "--variants",
            "background,threadpool",
            "--one-at-a-time",  # the first is saved while the second runs
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the first variant is saved and the second is loading
            runs = list(out.glob("*/run.json"))
            if runs and json.loads(runs[0].read_text())["variants"] and list(out.glob("*/threadpool/server.log")):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the first variant never finished")
        time.sleep(0.5)
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    doc = json.loads(next(out.glob("*/run.json")).read_text())
    assert doc["status"] == "interrupted"
    assert [v["name"] for v in doc["variants"]] == ["background"]


@pytest.mark.integration
def test_run_with_the_httpx_client_and_an_open_loop_scenario(tmp_path: Path) -> None:
    # figures only: in this process (bench_here), no interpreter and preloaded starter of its own
    result = bench_here(
        "run", "four-tabs-burst", "--time-scale", "0.05", "--variants", "asyncio", "--client", "httpx",
        "--json", "--out", str(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["scenario"]["scaled"]["client"] == "httpx"
    assert doc["variants"][0]["summary"]["ok"] == 4


@pytest.mark.integration
@pytest.mark.alone  # an open loop's latency counts the client's delays too: with no other test at once
def test_answers_on_kept_alive_connections_go_out_at_once(tmp_path: Path) -> None:
    # the two compared below, one after the other: raced, two open loops of 400 requests/s on a busy
    # 2-core machine put 0.13 s on background's p50 (the client's delay, not the server's). A bench of
    # its own: in a test worker's process (its other threads, its heap) a def endpoint's p50 came out 0.36 s
    result = run_bench(
        "run", "steady-rate", "--time-scale", "0.05", "--variants", "background,threadpool", "--one-at-a-time",
        "--json", "--out", str(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    for v in doc["variants"]:
        s = v["summary"]
        assert s["requests"] == 200 and s["ok"] == 200 and s["lost"] == 0 and s["dropped"] == 0
        assert s["response_min_s"] >= 0
        assert s["throughput_rps"] > 0
    by_name = {v["name"]: v["summary"] for v in doc["variants"]}
    # On kept-alive connections, answers go out at once: no Nagle wait for the client's
    # delayed ACK (40 ms, most of d here, before the lab set TCP_NODELAY on its servers' sockets).
    assert by_name["background"]["response_p50_s"] < 0.3 * by_name["threadpool"]["response_p50_s"]
    # and a def endpoint's p50 stays near d (Nagle's 40 ms would fail the ratio above; 86 ms seen on a busy suite)
    assert by_name["threadpool"]["response_p50_s"] < 2 * 0.05, "a def endpoint's p50 is about d, nothing added"
