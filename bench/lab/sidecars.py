"""Processes a variant needs besides its web server: for Celery, a broker and a worker.

``sidecars`` yields the extra environment the web server needs (the broker's URL) and
what the report should say about them; everything it starts is stopped when it exits.
The worker is ready when its log says so: connected to the broker and consuming.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import contract
from bench.engine.processes import LaunchError, last_lines, spawn, stop_async
from bench.lab.broker import redis_broker
from bench.model.scenario import Variant

WORKER_READY = " ready."  # "celery@host ready." once it consumes


@dataclass
class Sidecars:
    env: dict[str, str] = field(default_factory=dict)
    broker: str | None = None
    worker_pid: int | None = None


def worker_command(variant: Variant, name: str) -> list[str]:
    assert variant.celery is not None
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "servers.tasks",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(variant.celery.concurrency),
        "--pool",
        variant.celery.pool,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}@%h",
    ]


@asynccontextmanager
async def sidecars(
    variant: Variant, folder: Path, work_env: Mapping[str, str], broker_url: str | None, app_dir: Path
) -> AsyncIterator[Sidecars]:
    if variant.celery is None:
        yield Sidecars()
        return
    async with redis_broker(folder, broker_url) as broker:
        env = {
            **work_env,
            contract.BROKER_URL: broker.url,
            contract.PREFETCH: str(variant.celery.prefetch),
            "PYTHONPATH": str(app_dir),
        }
        log = folder / "worker.log"
        # in its folder of the run, not the learner's: ``-m`` looks in the working folder first
        worker = spawn(worker_command(variant, f"{variant.name}-{folder.name}"), log, env, cwd=folder.resolve())
        try:
            await _wait_worker_ready(worker, log)
            yield Sidecars(env={contract.BROKER_URL: broker.url}, broker=broker.description, worker_pid=worker.pid)
        finally:
            # Its work is done or given up. On the lab's own broker, which goes next, a warm shutdown
            # (0.7 to 1.2 s of waiting for the pool) keeps nothing: killed. On a broker given with
            # --broker, it hands back what it holds, as a worker leaving a real queue should.
            await stop_async(worker, grace_s=10 if broker_url else 0)


async def _wait_worker_ready(worker: object, log: Path, timeout_s: float = 60) -> None:
    import subprocess

    assert isinstance(worker, subprocess.Popen)
    deadline = time.monotonic() + timeout_s
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        if WORKER_READY in text:
            return
        if worker.poll() is not None:
            raise LaunchError(
                f"the Celery worker exited with code {worker.returncode}; last lines of {log}:\n{last_lines(log)}"
            )
        if time.monotonic() > deadline:
            raise LaunchError(
                f"the Celery worker was not ready after {timeout_s:g} s; last lines of {log}:\n{last_lines(log)}"
            )
        await asyncio.sleep(0.05)
