"""Starting a variant's web server and knowing when it is ready.

The server is a process the harness owns (``bench.engine.processes``): its own process
group, the owner mark, the lifeline. Teardown always runs, on success, error,
cancellation and Ctrl-C, and never blocks the event loop.

Readiness is a signal, never a sleep: ``GET /health`` answers 200 and the log shows
"Application startup complete" once per worker.

The harness binds the server's socket itself and hands it over (``uvicorn --fd``): from the
bind on, the port is ours, so a server someone else runs on a port we picked can neither
be measured in our server's name nor make it fail to start.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.engine.forking import start_server
from bench.engine.http import Connection, HttpError
from bench.engine.owners import children_of
from bench.engine.processes import HOST, LaunchError, Owned, bound_socket, last_lines, signal_group, stop_async
from bench.errors import BenchError

READY_LINE = "Application startup complete"
POLL_S = 0.01  # readiness is polled: a server is ready within this of the moment it is


@dataclass(frozen=True)
class ServerSpec:
    app: str
    workers: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    app_dir: Path = Path(".")
    log_path: Path = Path("server.log")
    ready_timeout_s: float = 30.0
    stop_grace_s: float = 5.0
    health_path: str | None = "/health"  # None: an own app; ready when the port accepts and startup is logged
    cwd: Path | None = None  # an own app runs in its variant's folder, so what it writes lands there
    factory: bool = False  # app names a function that builds the app (uvicorn --factory)
    port: int | None = None  # the port the learner chose (bench serve); None: a free one, retried if taken
    python: str = sys.executable  # an own app's: the learner's interpreter and its uvicorn
    wrapper: str | None = None  # what uvicorn serves instead, wrapping ``app`` (the loop watchdog)


@dataclass(frozen=True)
class RunningServer:
    port: int
    process: Owned

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def _command(spec: ServerSpec, fd: int) -> list[str]:
    cmd = [
        spec.python,
        "-m",
        "uvicorn",
        spec.wrapper or spec.app,
        "--fd",
        str(fd),
        "--app-dir",
        str(spec.app_dir),
        "--no-access-log",
    ]
    if spec.workers > 1:
        cmd += ["--workers", str(spec.workers)]
    if spec.factory or spec.wrapper is not None:  # the wrapper is a factory (and calls the app's own)
        cmd.append("--factory")
    return cmd


async def _wait_ready(spec: ServerSpec, port: int, process: Owned) -> None:
    """Ready: the lab's servers answer ``/health``; an own app is only watched, never asked
    (a request could trigger its work): its port accepts and uvicorn logged its startup."""
    deadline = time.monotonic() + spec.ready_timeout_s
    while True:
        if process.poll() is not None:
            raise LaunchError(f"the server exited with code {process.returncode} before it was ready (startup failed)")
        ready = await (_healthy(port, spec.health_path) if spec.health_path is not None else _accepts(port))
        if ready and _startups_logged(spec.log_path) >= spec.workers:
            return
        if time.monotonic() > deadline:
            listening = ready or await _accepts(port)
            seen = "still starting (no startup logged)" if listening else "nothing is listening on its port"
            if listening and _startups_logged(spec.log_path) >= spec.workers:
                seen = f"{spec.health_path} did not answer 200"
            raise LaunchError(f"the server was not ready after {spec.ready_timeout_s:g} s: {seen}")
        await asyncio.sleep(POLL_S)


async def _healthy(port: int, path: str) -> bool:
    """``GET path`` answers 200, on a raw connection (an httpx client costs ~30 ms to create: its TLS context)."""
    try:
        connection = await Connection.open(HOST, port, 1.0)
    except HttpError:
        return False
    try:
        return (await connection.send(path, 1.0)).status == 200
    except HttpError:
        return False
    finally:
        connection.close()


async def _accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 1.0)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True


def _startups_logged(log_path: Path) -> int:
    try:
        return log_path.read_text(errors="replace").count(READY_LINE)
    except OSError:
        return 0


@asynccontextmanager
async def serve(spec: ServerSpec) -> AsyncIterator[RunningServer]:
    """Start the server on a loopback port bound here, wait until ready, always stop it."""
    try:
        sock = bound_socket(spec.port or 0)
    except OSError:  # only a port the learner chose can be taken: 0 is any free one
        raise BenchError(f"port {spec.port} on {HOST} is already in use; pass --port with a free one") from None
    with sock:
        port = int(sock.getsockname()[1])
        process = await start_server(_command(spec, sock.fileno()), spec.log_path, spec.env, spec.cwd, sock.fileno())
    try:
        await _wait_ready(spec, port, process)
    except LaunchError as exc:
        await stop_async(process, spec.stop_grace_s)
        raise LaunchError(f"{exc}; last lines of {spec.log_path}:\n{last_lines(spec.log_path)}") from None
    except BaseException:
        await stop_async(process, spec.stop_grace_s)
        raise
    try:
        yield RunningServer(port=port, process=process)
    finally:
        await _stop(spec, process)


async def _stop(spec: ServerSpec, process: Owned) -> None:
    """The group's SIGTERM reaches uvicorn's workers at once, and they shut down in a few ms;
    the supervisor notices only at its next check (about 1.5 s). Once its workers are gone it
    holds nothing of its own, so it is not waited for."""
    if spec.workers > 1 and process.poll() is None:
        signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + spec.stop_grace_s
        while _workers_left(process.pid) and process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        signal_group(process.pid, signal.SIGKILL)
    await stop_async(process, spec.stop_grace_s)


def _workers_left(supervisor: int) -> bool:
    """Whether uvicorn's workers still run (its multiprocessing resource tracker, which ends with
    the supervisor, is not one)."""
    for pid in children_of(supervisor, living=True):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in command:
            return True
    return False
