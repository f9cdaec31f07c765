"""``bench locust``: headless, web UI through Locust's own HTTP API, and distributed mode."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.engine.processes import free_port
from tests.factories import bench_here, reaped

SCALE = "0.02"  # the four-tabs work (10 s) becomes 0.2 s


def run_locust(tmp_path: Path, *args: str) -> dict[str, Any]:
    """``bench locust ARGS --headless --json`` in this process (Locust runs in processes of its own)."""
    out = bench_here("locust", *args, "--time-scale", SCALE, "--headless", "--json", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    assert isinstance(doc, dict)
    return doc


@pytest.mark.integration
@pytest.mark.parametrize("variant", ["asyncio", "background", "celery-4"])
def test_headless_run_reports_locust_and_ledger_figures(tmp_path: Path, variant: str) -> None:
    doc = run_locust(tmp_path, variant, "-u", "4", "-r", "4", "-t", "2", "--pace", "0.2")
    (v,) = doc["variants"]
    s = v["summary"]
    assert v["status"] == "ok" and s["requests"] > 0 and s["errors"] == 0
    assert s["lost"] == 0 and len(v["requests"]) == s["ok"]
    assert s["done_time_p50_s"] >= 0.2 * 0.95  # the work's 0.2 s, seen from the ledger
    assert any(e["name"].startswith("/health") for e in v["locust"]["stats"])
    assert v["locust"]["histogram"] and v["locust"]["curve"][-1]["percentile"] == 100.0
    page = (tmp_path / doc["run_id"] / "report.html").read_text()
    assert page.count('class="chart') >= 2  # Locust's latency histogram and percentile curve
    shown = bench_here("show", doc["run_id"], "--out", str(tmp_path))
    assert shown.returncode == 0 and "Locust (headless" in shown.stdout


@pytest.mark.integration
def test_distributed_run_with_two_local_workers(tmp_path: Path) -> None:
    doc = run_locust(tmp_path, "asyncio", "-u", "4", "-r", "4", "-t", "3", "--pace", "0.2", "--processes", "2")
    (v,) = doc["variants"]
    assert v["locust"]["workers"] == 2
    assert v["summary"]["requests"] > 0 and v["summary"]["errors"] == 0


@pytest.mark.integration
def test_web_ui_swarm_stats_stop_and_teardown(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "locust",
            "background",
            "--port",
            str(port),
            "--time-scale",
            SCALE,
            "--pace",
            "0.2",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    ui = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        announced = ""
        assert proc.stdout is not None
        while "web UI" not in announced:
            assert time.monotonic() < deadline, "the web UI was never announced"
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                announced += proc.stdout.readline()
        assert ui in announced
        assert httpx.get(ui + "/", trust_env=False).status_code == 200
        swarm = httpx.post(ui + "/swarm", data={"user_count": 3, "spawn_rate": 3}, trust_env=False).json()
        assert swarm["success"]
        for _ in range(100):
            stats = httpx.get(ui + "/stats/requests", trust_env=False).json()
            pushes = [s for s in stats["stats"] if s["name"].startswith("/push/")]
            if pushes and pushes[0]["num_requests"] >= 5:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"no requests reached the stats: {stats}")
        assert httpx.post(ui + "/stop", trust_env=False).status_code == 200
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "saved:" in out and "Locust (web UI" in out
    doc = json.loads(next(tmp_path.glob("*/run.json")).read_text())
    s = doc["variants"][0]["summary"]
    assert s["requests"] >= 5 and s["errors"] == 0 and s["lost"] == 0
    with socket.socket() as probe:  # the UI port is free again
        probe.bind(("127.0.0.1", port))


@pytest.mark.integration
def test_web_ui_with_no_load_started_says_so_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "bench", "locust", "asyncio", "--port", str(port), "--out", str(tmp_path)]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
    )
    with reaped(proc):
        assert proc.stdout is not None
        deadline, announced = time.monotonic() + 60, ""
        while "web UI" not in announced:
            assert time.monotonic() < deadline, "the web UI was never announced"
            if select.select([proc.stdout], [], [], 1)[0]:
                announced += proc.stdout.readline()
        os.kill(proc.pid, signal.SIGINT)  # nobody pressed Start
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    said = [line for line in out.splitlines() if "no request was made" in line]
    assert len(said) == 1 and "never started in the web UI" in said[0] and "Per tab" not in out


def test_locust_loads_an_own_post_app_with_its_body_and_reads_its_done_marker(tmp_path: Path) -> None:
    folder = tmp_path / "learner"
    folder.mkdir()
    (folder / "main.py").write_text(
        "import time\n\nfrom fastapi import BackgroundTasks, FastAPI\nfrom pydantic import BaseModel\n\n"
        "app = FastAPI()\n\n\nclass Note(BaseModel):\n    text: str\n\n\ndef work(user: str, text: str):\n"
        "    time.sleep(0.2)\n    with open('log.txt', 'a') as log:\n        log.write(f'{user} {text}\\n')\n\n\n"
        "@app.post('/notify/{user}')\nasync def notify(user: str, note: Note, background_tasks: BackgroundTasks):\n"
        "    background_tasks.add_task(work, user, note.text)\n    return {'ok': True}\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "bench", "locust", "--app", "main.py:app", "--done-file", "log.txt",
         "--body", '{"text": "for {token}"}', "-u", "2", "-r", "2", "-t", "2", "--pace", "0.2",
         "--headless", "--json", "--out", str(tmp_path / "r")],
        cwd=folder, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    (v,) = json.loads(out.stdout)["variants"]
    s = v["summary"]
    assert s["requests"] > 0 and s["errors"] == 0 and s["lost"] == 0  # every body valid, every unit of work seen
    assert s["done_time_p50_s"] == pytest.approx(0.2, abs=0.1)
    assert any(e["name"] == "/notify/[token] main" for e in v["locust"]["stats"])
    assert not any(e["name"].startswith("/health") for e in v["locust"]["stats"])  # an own app has none
