"""However a run ends, nothing it started is left running and nothing it measured is lost.

The harness runs as a real ``bench`` process here, so that it can be SIGKILLed: no
handler runs then, and only the lifeline (a watchdog on a pipe) can stop what it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.engine.owners import Marked, marked_processes
from tests.factories import reaped, wait_for


def started_by(pid: int) -> list[Marked]:
    return [m for m in marked_processes() if m.owner.startswith(f"{pid}:")]


def start_bench(*args: str, cwd: Path, capture: bool = False, cold: bool = False) -> subprocess.Popen[str]:
    """``bench ARGS``; ``cold``: its servers started as fresh interpreters, not forked from the
    preloaded starter (which stops what it forked when the harness dies, as the lifeline does)."""
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        text=True,
        env={**os.environ, "BENCH_COLD_START": "1"} if cold else None,
    )


def kill_all(procs: list[Marked]) -> None:
    for m in procs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(m.pid, signal.SIGKILL)


# When the harness dies: as the broker starts; once the Celery worker runs; while the load
# is on (the web server answers); and half a second later, with work queued in the worker.
MOMENTS = {
    "broker starting": lambda procs: any("redis-server" in m.command for m in procs),
    "worker running": lambda procs: any("celery" in m.command for m in procs),
    "web server up": lambda procs: any("uvicorn" in m.command for m in procs),
}


@pytest.mark.integration
@pytest.mark.parametrize("moment", [*MOMENTS, "mid-load"])
def test_sigkill_of_bench_leaves_nothing_running_within_5_s(tmp_path: Path, moment: str) -> None:
    proc = start_bench(
        "run", "celery-tabs", "--time-scale", "0.3", "--variants", "celery-2", "--out", str(tmp_path), cwd=tmp_path
    )
    with reaped(proc):
        seen = MOMENTS.get(moment, MOMENTS["web server up"])
        wait_for(lambda: seen(started_by(proc.pid)), 60, f"the run never reached: {moment}")
        if moment == "mid-load":
            time.sleep(0.5)
        before = started_by(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 5
        while started_by(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = started_by(proc.pid)
    kill_all(left)
    assert before, "the run had started processes when it was killed"
    assert not left, f"left running 5 s after SIGKILL of bench: {[m.command for m in left]}"


@pytest.mark.integration
def test_a_later_bench_cleans_up_after_one_whose_lifeline_died_too(tmp_path: Path) -> None:
    out = tmp_path / "results"
    # Started cold: a server forked from the starter would also be stopped by the starter, and the
    # case here is the one where nothing of the dead harness is left to stop it.
    args = ("run", "four-tabs", "--time-scale", "0.5", "--variants", "sync", "--out", str(out))
    proc = start_bench(*args, cwd=tmp_path, cold=True)
    with reaped(proc):
        wait_for(lambda: any("uvicorn" in m.command for m in started_by(proc.pid)), 60, "no server started")
        watchdogs = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and f"bench.engine.lifeline\0{proc.pid}:".encode() in _cmdline(p)
        ]
        assert len(watchdogs) == 1
        os.kill(watchdogs[0], signal.SIGKILL)  # the worst case: the watchdog dies first
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    orphans = started_by(proc.pid)
    try:
        assert orphans, "with its watchdog gone, the dead harness's server is still running"
        (run_json,) = out.glob("*/run.json")
        assert json.loads(run_json.read_text())["status"] == "running"
        later = subprocess.run(
            [sys.executable, "-m", "bench", "run", "four-tabs", "--variants", "nope", "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        time.sleep(0.2)
        left = started_by(proc.pid)
        kill_all(left)
    assert not left, f"a later bench left the dead one's processes running: {[m.command for m in left]}"
    assert f"processes left running by an earlier bench (pid {proc.pid}) that died" in later.stderr
    assert "marked abandoned" in later.stderr
    assert json.loads(run_json.read_text())["status"] == "abandoned"
    assert later.returncode == 2  # and then it reports the bad variant, as ever


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.integration
def test_a_server_killed_mid_load_fails_its_variant_and_the_run_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = start_bench(
        "run",
        "steady-rate",
        "--time-scale",
        "0.15",  # 1.5 s of load each: the kill comes 0.3 s into the first
        "--variants",
        "threadpool,asyncio",
        "--json",
        "--out",
        str(out),
        cwd=tmp_path,
        capture=True,
    )
    with reaped(proc):

        def threadpool_server() -> list[Marked]:  # the first variant's: the servers run one at a time
            return [m for m in started_by(proc.pid) if "uvicorn" in m.command]

        wait_for(lambda: bool(threadpool_server()) and bool(list(out.glob("*/threadpool/ledger.jsonl"))), 60, "no load")
        time.sleep(0.3)
        for m in threadpool_server():
            os.kill(m.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    doc = json.loads(stdout)
    assert doc["status"] == "complete"
    killed, other = doc["variants"]
    assert killed["status"] == "failed" and "the server died during the load" in killed["error"]
    assert killed["summary"]["ok"] > 0 and killed["requests"], "what was measured before the kill is kept"
    assert killed["summary"]["errors"] > 0
    assert other["name"] == "asyncio" and other["status"] == "ok" and other["summary"]["errors"] == 0
    saved = json.loads(next(out.glob("*/run.json")).read_text())
    assert [v["status"] for v in saved["variants"]] == ["failed", "ok"]
