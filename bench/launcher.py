"""Starting and stopping real servers: the harness owns every process it starts.

A server runs in its own process group (``start_new_session``), so a terminal's Ctrl-C
does not reach it behind our back and teardown can stop the whole tree at once: the
uvicorn supervisor, its workers and anything they spawned. Teardown always runs, on
success, error, cancellation and Ctrl-C: SIGTERM to the group, a grace period, then
SIGKILL to whatever is left.

Readiness is a signal, never a sleep: ``GET /health`` answers 200 and the log shows
"Application startup complete" once per worker.
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
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HOST = "127.0.0.1"
READY_LINE = "Application startup complete"
PORT_ATTEMPTS = 5
# Marks every process the harness starts, so tests can prove none is left running.
OWNER_ENV = "BENCH_LAB_OWNER"


class LaunchError(Exception):
    """A server that did not become ready; the message carries its last log lines."""


@dataclass(frozen=True)
class ServerSpec:
    app: str
    workers: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    app_dir: Path = Path(".")
    log_path: Path = Path("server.log")
    ready_timeout_s: float = 30.0
    stop_grace_s: float = 5.0


@dataclass(frozen=True)
class RunningServer:
    spec: ServerSpec
    port: int
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    """A port the kernel says is free now; another process may still take it first,
    which is why ``serve`` retries with a new port when the bind fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def last_lines(path: Path, count: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log written)"
    return "\n".join(lines[-count:]) or "(the log is empty)"


def _command(spec: ServerSpec, port: int) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        spec.app,
        "--host",
        HOST,
        "--port",
        str(port),
        "--app-dir",
        str(spec.app_dir),
        "--no-access-log",
    ]
    if spec.workers > 1:
        cmd += ["--workers", str(spec.workers)]
    return cmd


def spawn(cmd: list[str], log_path: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a process the harness owns: its own session (a terminal's Ctrl-C does not reach
    it; ``stop`` ends its whole group), output appended to ``log_path``, and the owner mark."""
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", OWNER_ENV: str(os.getpid())}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """Stop the process group: SIGTERM, wait up to ``grace_s``, then SIGKILL.

    The final SIGKILL to the group also reaches children that outlived their parent.
    """
    pgid = process.pid  # leader of its own session, so its pid is the group id
    if process.poll() is None:
        _signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    _signal_group(pgid, signal.SIGKILL)
    process.wait()
    _wait_group_gone(pgid, timeout_s=grace_s)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_group_gone(pgid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.01)


async def _wait_ready(spec: ServerSpec, port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + spec.ready_timeout_s
    url = f"http://{HOST}:{port}/health"
    async with httpx.AsyncClient(timeout=1.0, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                raise LaunchError(f"the server exited with code {process.returncode} before it was ready")
            try:
                healthy = (await client.get(url)).status_code == 200
            except httpx.HTTPError:
                healthy = False
            if healthy and _startups_logged(spec.log_path) >= spec.workers:
                return
            if time.monotonic() > deadline:
                raise LaunchError(f"the server was not ready after {spec.ready_timeout_s:g} s")
            await asyncio.sleep(0.05)


def _startups_logged(log_path: Path) -> int:
    try:
        return log_path.read_text(errors="replace").count(READY_LINE)
    except OSError:
        return 0


def _port_was_taken(log_path: Path) -> bool:
    text = last_lines(log_path, 5).lower()
    return "address already in use" in text or "errno 98" in text


@asynccontextmanager
async def serve(spec: ServerSpec) -> AsyncIterator[RunningServer]:
    """Start the server on a free loopback port, wait until ready, always stop it."""
    for _attempt in range(PORT_ATTEMPTS):
        port = free_port()
        process = spawn(_command(spec, port), spec.log_path, spec.env)
        try:
            await _wait_ready(spec, port, process)
        except LaunchError as exc:
            stop(process, spec.stop_grace_s)
            if _port_was_taken(spec.log_path):
                continue  # someone took the port between our check and uvicorn's bind
            raise LaunchError(f"{exc}; last lines of {spec.log_path}:\n{last_lines(spec.log_path)}") from None
        except BaseException:
            stop(process, spec.stop_grace_s)
            raise
        try:
            yield RunningServer(spec=spec, port=port, process=process)
        finally:
            stop(process, spec.stop_grace_s)
        return
    raise LaunchError(
        f"no free port after {PORT_ATTEMPTS} attempts; last lines of {spec.log_path}:\n{last_lines(spec.log_path)}"
    )
