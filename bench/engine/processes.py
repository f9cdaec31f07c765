"""Processes the harness owns: start them marked, stop their whole group, never leave one behind.

Every process the harness starts runs in its own session (``start_new_session``), so a
terminal's Ctrl-C does not reach it behind the harness's back and teardown can stop the
whole tree at once: SIGTERM to the group, a grace period, then SIGKILL.

Each carries the owner mark ``BENCH_LAB_OWNER=<pid>:<start time>`` in its environment,
inherited by everything it starts (uvicorn's workers, Celery's pool, Chromium), and is
listed in the harness's registry file. Two things use them:

- the **lifeline**: the first ``spawn`` starts a small watchdog (``bench.engine.lifeline``)
  that reads a pipe only this process holds open. However the harness ends, SIGKILL
  included, the kernel closes the pipe, and the watchdog stops every process bearing
  this harness's mark;
- ``leftovers``: a later ``bench`` finds processes whose owner is gone (the watchdog
  itself was killed too, or the machine was in trouble) and stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
OWNER_ENV = "BENCH_LAB_OWNER"
REGISTRY = Path(tempfile.gettempdir()) / "bench-lab"  # one file per harness: the processes it started


class LaunchError(Exception):
    """A process that did not become ready; the message carries its last log lines."""


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, ppid, ...), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22): with the
    pid, it names one process for good, even after the pid is reused."""
    fields = _stat(pid)
    return fields[19] if fields else None


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc (Linux)."""
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and (fields := _stat(p.name)) is not None and len(fields) > 1 and fields[1] == str(pid)
    ]


def owner_mark(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_ticks(pid) or 0}"


def owner_alive(mark: str) -> bool:
    """Whether the harness that wrote ``mark`` still runs (same pid, same start time)."""
    pid_text, _, ticks = mark.partition(":")
    if not pid_text.isdigit():
        return False
    return _start_ticks(int(pid_text)) == ticks


@dataclass(frozen=True)
class Marked:
    pid: int
    owner: str
    command: str


def registry_file(owner: str) -> Path:
    """Where a harness lists the processes it started (pid and start time, one a line)."""
    return REGISTRY / f"{owner.replace(':', '-')}.pids"


def _register(pid: int) -> None:
    REGISTRY.mkdir(parents=True, exist_ok=True)
    with registry_file(owner_mark()).open("a", encoding="ascii") as f:
        f.write(f"{pid} {_start_ticks(pid) or 0}\n")


def marked_processes() -> Iterator[Marked]:
    """Every process on this machine that a harness started, as this user can see them.

    Two sources: the owner mark in a process's environment (inherited by everything a
    started process starts in turn), and each harness's registry of the processes it
    started itself. The registry is what finds redis-server, which rewrites the memory
    that /proc/PID/environ shows when it sets its process title."""
    key = OWNER_ENV.encode() + b"="
    seen: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(key):
                seen.add(int(entry.name))
                yield Marked(int(entry.name), item[len(key) :].decode(errors="replace"), _command(entry))
                break
    for file in sorted(REGISTRY.glob("*.pids")) if REGISTRY.is_dir() else []:
        owner = file.stem.replace("-", ":")
        try:
            lines = file.read_text(encoding="ascii").split()
        except (OSError, UnicodeDecodeError):
            continue
        for pid_text, ticks in zip(lines[::2], lines[1::2], strict=False):
            if pid_text.isdigit() and int(pid_text) not in seen and _start_ticks(int(pid_text)) == ticks:
                seen.add(int(pid_text))
                yield Marked(int(pid_text), owner, _command(Path(f"/proc/{pid_text}")))


def _command(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def kill_marked(owner: str, grace_s: float = 1.5, timeout_s: float = 4.0) -> int:
    """Stop every process bearing ``owner``'s mark: SIGTERM, ``grace_s``, then SIGKILL,
    until none is left or ``timeout_s`` passed. Returns how many there were."""
    me = os.getpid()
    seen: set[int] = set()
    start = time.monotonic()
    sig = signal.SIGTERM
    while True:
        pids = [m.pid for m in marked_processes() if m.owner == owner and m.pid != me]
        if not pids:
            return len(seen)
        seen.update(pids)
        if time.monotonic() - start > grace_s:
            sig = signal.SIGKILL
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        if time.monotonic() - start > timeout_s:
            return len(seen)
        time.sleep(0.05)


def forget(owner: str) -> None:
    """Drop a finished harness's registry (its processes are stopped)."""
    registry_file(owner).unlink(missing_ok=True)


def leftovers() -> dict[str, list[Marked]]:
    """Processes marked by a harness that is no longer running, by owner mark: only harnesses
    of this registry (this user's, this TMPDIR's). Another's are not ours to stop: their own
    lifeline, or the next bench of their registry, does."""
    registered = {f.stem.replace("-", ":") for f in REGISTRY.glob("*.pids")} if REGISTRY.is_dir() else set()
    found: dict[str, list[Marked]] = {}
    for m in marked_processes():
        if m.owner in registered and not owner_alive(m.owner):
            found.setdefault(m.owner, []).append(m)
    return found


class _Lifeline:
    """The write end of the watchdog's pipe, held by this process only (not inherited)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self._fd: int | None = None
        self._starter: subprocess.Popen[bytes] | None = None

    def ensure(self) -> None:
        if self._fd is not None and self.pid == os.getpid():
            if self._starter is not None and self._starter.poll() is not None:
                self._starter = None  # the watchdog's first process, reaped once it has detached
            return
        read_fd, write_fd = os.pipe()  # both non-inheritable: children other than the watchdog get neither
        try:
            # The watchdog detaches itself (forks and lets this child exit), so it is nobody's
            # zombie and no Popen object of ours outlives it. Not waited for here: it starts
            # while the first server does (the pipe is its, whenever it reads it).
            self._starter = subprocess.Popen(
                [sys.executable, "-m", "bench.engine.lifeline", owner_mark()],
                stdin=read_fd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={k: v for k, v in os.environ.items() if k != OWNER_ENV},
                start_new_session=True,  # Ctrl-C in the terminal must not end the watchdog before us
                cwd="/",  # not the learner's folder: ``-m bench...`` must find the harness's, not theirs
            )
        finally:
            os.close(read_fd)
        self._fd, self.pid = write_fd, os.getpid()


_LIFELINE = _Lifeline()  # one per harness process; started by the first spawn, never at import


def spawn(
    cmd: list[str], log_path: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a process the harness owns: its own session, output appended to ``log_path``,
    the owner mark in its environment, and the lifeline watching over it."""
    _LIFELINE.ensure()
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", OWNER_ENV: owner_mark()}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
            cwd=cwd,
        )
    _register(process.pid)
    return process


def owned_env() -> dict[str, str]:
    """The environment for a process started by another library (Playwright's browser):
    the owner mark, and the lifeline started."""
    _LIFELINE.ensure()
    return {**os.environ, OWNER_ENV: owner_mark()}


def free_port() -> int:
    """A port the kernel says is free now; another process may still take it first, which
    is why the launcher retries with a new port when the bind fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether ``port`` on the loopback address can be bound now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def last_lines(path: Path, count: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log written)"
    return "\n".join(lines[-count:]) or "(the log is empty)"


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop(process: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """Stop the process group: SIGTERM, wait up to ``grace_s``, then SIGKILL. Blocking: for
    synchronous callers only; coroutines use ``stop_async``.

    The final SIGKILL to the group also reaches children that outlived their parent.
    """
    pgid = process.pid  # leader of its own session, so its pid is the group id
    if process.poll() is None:
        signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    signal_group(pgid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


async def stop_async(process: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """``stop`` without blocking the event loop: the waits are ``asyncio.sleep`` polls.

    A cancellation (Ctrl-C cancels the run) does not interrupt it halfway: the group is then
    stopped synchronously before the cancellation goes on."""
    task = asyncio.ensure_future(_stop_polling(process, grace_s))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        stop(process, grace_s)
        task.cancel()
        raise


async def _stop_polling(process: subprocess.Popen[bytes], grace_s: float) -> None:
    pgid = process.pid
    if process.poll() is None:
        signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    signal_group(pgid, signal.SIGKILL)
    while process.poll() is None:
        await asyncio.sleep(0.01)
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
