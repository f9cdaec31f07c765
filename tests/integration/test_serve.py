"""``bench serve``: a variant on the port the learner picks, driven by hand, stopped by Ctrl-C."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.engine.processes import free_port
from tests.factories import reaped


def _line_with(proc: subprocess.Popen[str], words: str, timeout_s: float = 30) -> list[str]:
    """The output lines up to the one containing ``words`` (the server is ready then)."""
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            seen.append(line)
            if words in line:
                return seen
        assert proc.poll() is None, "".join(seen) + (proc.stderr.read() if proc.stderr else "")
    raise AssertionError(f"no line with {words!r} in {timeout_s} s: {''.join(seen)}")


def test_serve_runs_a_variant_on_the_chosen_port_until_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "bench", "serve", "background", "--port", str(port), "--time-scale", "0.05"]
    proc = subprocess.Popen([*cmd, "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with reaped(proc):
        printed = _line_with(proc, "its logs:")
        assert f"http://127.0.0.1:{port}/push/1" in "".join(printed)
        folder = Path(printed[-1].split("its logs:", 1)[1].strip())
        for tab in range(1, 5):  # four tabs by hand: answered at once, the work in the background
            answer = httpx.get(f"http://127.0.0.1:{port}/push/tab{tab}", timeout=5, trust_env=False)
            assert answer.status_code == 200 and answer.json() == {"message": "Notification sent"}
        deadline = time.monotonic() + 10
        ledger = folder / "ledger.jsonl"
        while time.monotonic() < deadline and len(ledger.read_text().splitlines() if ledger.exists() else []) < 4:
            time.sleep(0.05)
        tokens = sorted(json.loads(line)["token"] for line in ledger.read_text().splitlines())
        assert tokens == ["tab1", "tab2", "tab3", "tab4"]
        assert len((folder / "notification.log").read_text().splitlines()) == 4
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out


def test_serve_refuses_a_taken_port_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "bench", "serve", "sync", "--port", str(port), "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1 and "already in use" in done.stderr and len(done.stderr.strip().splitlines()) == 1
