"""Sampling the server while the load runs: how long does a trivial request wait?

Two probes, each on its own keep-alive connection, one request every ``period_s``:
- ``/health`` is ``async def``: its latency is the event loop's lag. Blocking work
  inside ``async def`` shows here as lag of up to the whole work's duration.
- ``/health/sync`` is a plain ``def``: it needs one of anyio's threads, so its latency
  shows when BackgroundTasks and ``def`` endpoints have taken all 40 of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bench.engine.http import Connection, HttpError

PERIOD_S = 0.05


@dataclass
class Probe:
    path: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


async def _sample(host: str, port: int, probe: Probe, stop: asyncio.Event, period_s: float, timeout_s: float) -> None:
    conn: Connection | None = None
    try:
        while not stop.is_set():
            began = time.perf_counter()
            try:
                if conn is None or not conn.usable:
                    conn = await Connection.open(host, port, timeout_s)
                await conn.send(probe.path, timeout_s)
                probe.latencies.append(time.perf_counter() - began)
            except HttpError:
                probe.errors += 1
                conn = None
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), period_s)
    finally:
        if conn is not None:
            conn.close()


@contextlib.asynccontextmanager
async def probing(
    host: str, port: int, timeout_s: float, period_s: float = PERIOD_S, enabled: bool = True
) -> AsyncIterator[tuple[Probe, Probe]]:
    """Probe the event loop and the thread pool for as long as the block runs.

    ``enabled=False`` (an own app, which has no such routes): the probes stay empty."""
    probes = (Probe("/health"), Probe("/health/sync"))  # (event loop, thread pool)
    if not enabled:
        yield probes
        return
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_sample(host, port, p, stop, period_s, timeout_s)) for p in probes]
    try:
        yield probes
    finally:
        stop.set()
        # A probe stuck behind blocking work finishes when the work does; do not wait longer than that.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout_s)
        for task in tasks:
            task.cancel()
