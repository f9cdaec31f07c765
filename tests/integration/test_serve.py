"""``bench serve``: a variant on the port the learner picks, driven by hand, stopped by Ctrl-C."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from bench.engine.processes import free_port
from tests.factories import reaped


class Lines:
    """A process's output lines as they come, read by a thread (select() on the pipe would miss
    lines already in the reader's buffer)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.proc, self.queue, self.seen = proc, queue.Queue[str](), list[str]()
        stream = proc.stdout

        def read() -> None:
            for line in stream:
                self.queue.put(line)

        self.thread = threading.Thread(target=read, daemon=True)
        self.thread.start()

    def until(self, words: str, timeout_s: float = 30) -> list[str]:
        """The lines up to the one containing ``words``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, "".join(self.seen)
                continue
            self.seen.append(line)
            if words in line:
                return self.seen
        raise AssertionError(f"no line with {words!r} in {timeout_s} s: {''.join(self.seen)}")

    def rest(self) -> str:
        """Everything printed after, once the process has ended."""
        self.thread.join(10)
        return "".join(self.queue.get() for _ in range(self.queue.qsize()))


def test_serve_runs_a_variant_on_the_chosen_port_until_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "bench", "serve", "background", "--port", str(port), "--time-scale", "0.05"]
    proc = subprocess.Popen([*cmd, "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with reaped(proc):
        output = Lines(proc)
        printed = output.until("its logs:")
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
        code = proc.wait(timeout=30)
        rest = output.rest()  # the reader thread alone reads stdout, to its end
        assert proc.stdout is not None and proc.stderr is not None
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0, err
    assert "stopped" in rest


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
    assert done.returncode == 2 and "already in use" in done.stderr and len(done.stderr.strip().splitlines()) == 1
