"""The simulated slow call, written once for every variant.

The tutorial's ``send_push_notification`` stands in for a network call to a push
service: it blocks for a while, then appends a line to ``notification.log``. Here the
launcher chooses the kind of work and its duration through environment variables, and
every finished unit of work is also appended to a machine-readable ledger
(``ledger.jsonl``) by whichever process and thread did it. The harness reads that
ledger to learn when background work really finished.

Environment (set by ``bench.lab.runner.work_env``; the names are ``bench.contract``'s):
    BENCH_WORK_KIND     ``sleep`` (blocking I/O stand-in) or ``cpu`` (burns CPU time)
    BENCH_WORK_SECONDS  how long one unit of work takes (float)
    BENCH_LEDGER_DIR    folder that receives ``notification.log`` and ``ledger.jsonl``
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bench import contract

LEDGER_FILE = contract.LEDGER_FILE
HUMAN_LOG_FILE = contract.HUMAN_LOG_FILE


@dataclass(frozen=True)
class WorkSettings:
    kind: str
    seconds: float
    ledger_dir: Path


@cache
def settings() -> WorkSettings:
    """Read the work settings once per process, on first use (never at import)."""
    kind = os.environ.get(contract.WORK_KIND, "sleep")
    if kind not in ("sleep", "cpu"):
        raise RuntimeError(f"{contract.WORK_KIND} must be 'sleep' or 'cpu', not {kind!r}")
    seconds = float(os.environ.get(contract.WORK_SECONDS, "10"))
    ledger_dir = Path(os.environ.get(contract.LEDGER_DIR, "."))
    return WorkSettings(kind=kind, seconds=seconds, ledger_dir=ledger_dir)


def _append_line(path: Path, line: str) -> None:
    # One os.write on an O_APPEND descriptor: lines from several processes and
    # threads never interleave (POSIX appends of this size are atomic on local files).
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def record_done(device_token: str, start: float, end: float) -> None:
    """Append the human line and the machine record for one finished unit of work."""
    where = settings().ledger_dir
    _append_line(where / HUMAN_LOG_FILE, f"Successfully sent push notification to {device_token}\n")
    record = {
        "token": device_token,
        "start": start,
        "end": end,
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
    }
    _append_line(where / LEDGER_FILE, json.dumps(record) + "\n")


def _burn_cpu(seconds: float) -> None:
    # Spin until this thread has used `seconds` of CPU time. Under the GIL, N threads
    # doing this need N x seconds of wall time, exactly as real CPU-bound work would.
    deadline = time.thread_time() + seconds
    while time.thread_time() < deadline:
        sum(range(1000))


def loaded() -> int:
    """A pool process's pid, once it has imported this module: called at a pool's start, so that
    its first unit of work does not pay the import (0.1 s in a spawned process, half of d at 0.1)."""
    return os.getpid()


def send_push_notification(device_token: str) -> None:
    """The tutorial's slow call: blocks the calling thread for the configured time."""
    work = settings()
    start = time.time()
    if work.kind == "cpu":
        _burn_cpu(work.seconds)
    else:
        time.sleep(work.seconds)
    record_done(device_token, start, time.time())


async def send_push_notification_async(device_token: str) -> None:
    """The same call written for the event loop: the waiting yields to other requests.

    CPU work cannot yield, so with ``BENCH_WORK_KIND=cpu`` it still blocks the loop.
    """
    work = settings()
    start = time.time()
    if work.kind == "cpu":
        _burn_cpu(work.seconds)
    else:
        await asyncio.sleep(work.seconds)
    record_done(device_token, start, time.time())
