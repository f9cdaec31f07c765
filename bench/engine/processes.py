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
import time
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO, Protocol

from bench.engine.owners import OWNER_ENV, kill_session, owner_mark, proc_stats, register

HOST = "127.0.0.1"


class Owned(Protocol):
    """What the harness asks of a process it started: a ``Popen``, or a ``Forked`` (``bench.engine.forking``)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class LaunchError(Exception):
    """A process that did not become ready; the message carries its last log lines."""


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
    cmd: list[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start a process the harness owns: its own session, output appended to ``log_path``,
    the owner mark in its environment, and the lifeline watching over it."""
    _LIFELINE.ensure()
    with start_log(log_path, cmd) as log:
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env(env),
            start_new_session=True,
            cwd=cwd,
            pass_fds=pass_fds,
        )
    register(process.pid)
    return process


def child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """A started process's environment: the harness's, ``env`` over it, unbuffered output, the owner mark."""
    return {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", OWNER_ENV: owner_mark()}


def start_log(log_path: Path, cmd: list[str]) -> BinaryIO:
    """``log_path`` opened to append, the command line written first. A full disk fails this
    process's start (one variant), never the whole run."""
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("ab", buffering=0)  # unbuffered: a failed write leaves nothing for close to fail on
    except OSError as exc:
        raise LaunchError(f"cannot write its log {log_path}: {exc.strerror or exc}") from None
    try:
        log.write(f"$ {' '.join(cmd)}\n".encode())
    except OSError as exc:
        log.close()
        raise LaunchError(f"cannot write its log {log_path}: {exc.strerror or exc}") from None
    return log


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


def bound_socket(port: int = 0) -> socket.socket:
    """A loopback socket bound here, not yet listening, for a server to serve (uvicorn ``--fd``):
    the port is ours from this moment, so nobody else's server can answer on it in our name.
    A port someone holds raises ``OSError``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a chosen port a moment after its last server
        # uvicorn takes an ``--fd`` socket for a Unix one and so never sets TCP_NODELAY on what it
        # accepts: Nagle then holds a response's body until the client's delayed ACK (40 ms on
        # a kept-alive connection). Set on the listening socket, every accepted one inherits it.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


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
    """Whether a process of group ``pgid`` still runs. One that has exited and waits to be
    reaped (a zombie whose parent died, left for init) runs nothing: it is not waited for."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    group = str(pgid)
    return any(fields[2] == group and fields[0] not in ("Z", "X") for _, fields in proc_stats())


def stop(process: Owned, grace_s: float = 5.0) -> None:
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
    kill_session(pgid)
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


async def stop_async(process: Owned, grace_s: float = 5.0) -> None:
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


async def _stop_polling(process: Owned, grace_s: float) -> None:
    pgid = process.pid
    if process.poll() is None:
        signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    signal_group(pgid, signal.SIGKILL)
    while process.poll() is None:
        await asyncio.sleep(0.01)
    kill_session(pgid)
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
