"""``bench load -t N``: the load from N processes, as wrk's threads, for servers faster than one Python core.

Each process fires its share (the connections, the rate and the total divided among
them; an open loop's processes offset by 1/rate each, so their arrivals interleave) on
its own event loop, into its own ``LoadRecorder``. All start at one instant, after every
one has imported and is ready. At the end each sends back what it recorded: exact
latencies, or its HDR histogram encoded, with its counts. The parent merges them: the
percentiles stay exact (or within the histogram's 0.1 %), and counts, min, max, mean and
standard deviation are exact. Second by second, answers and errors add up; a second's
p99 is the highest of the processes' (each exact).

The processes carry the harness's owner mark, so the lifeline stops them if the harness
dies; Ctrl-C reaches them as it reaches the harness, and each sends what it measured.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.synchronize import Event as EventType
from typing import Any

from bench.engine.dispatch import LoadShape, fire
from bench.engine.load import SameRequest
from bench.engine.load_recorder import LoadRecorder
from bench.engine.owners import OWNER_ENV
from bench.engine.processes import owned_env
from bench.model.request import RequestSpec
from bench.model.scenario import RunClient

READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Share:
    """One process's part of the load."""

    shape: LoadShape
    delay_s: float  # after the common start: an open loop's processes interleave their arrivals


def shares(shape: LoadShape, processes: int) -> list[Share]:
    """``shape`` divided among ``processes`` (each gets at least one connection)."""
    n = max(1, min(processes, shape.concurrency))
    out = []
    for k in range(n):
        connections = shape.concurrency // n + (1 if k < shape.concurrency % n else 0)
        total = None if shape.total is None else shape.total // n + (1 if k < shape.total % n else 0)
        rate = None if shape.rate is None else shape.rate / n
        part = replace(shape, concurrency=connections, total=total, rate=rate)
        out.append(Share(part, 0.0 if shape.rate is None else k / shape.rate))
    return [s for s in out if s.shape.total is None or s.shape.total > 0]


def _child(
    share: Share,
    client: RunClient,
    host: str,
    port: int,
    path: str,
    spec: RequestSpec,
    ready: Any,
    go: EventType,
    results: Any,
) -> None:
    from bench.engine import loops

    recorder = LoadRecorder()
    interrupted = False

    ready.put(os.getpid())
    try:
        go.wait(READY_TIMEOUT_S)
        if share.delay_s > 0:
            time.sleep(share.delay_s)
        with loops.frozen_heap():
            loops.run(
                fire(
                    share.shape,
                    client,
                    host,
                    port,
                    SameRequest(path),
                    sink=recorder.add,
                    observe_sent=False,
                    spec=spec,
                    hard_limits=True,
                    answered=recorder.answered,
                )
            )
    except KeyboardInterrupt:
        interrupted = True
    results.put((recorder.export(), interrupted))


def fire_in_processes(
    shape: LoadShape,
    processes: int,
    client: RunClient,
    host: str,
    port: int,
    path: str,
    spec: RequestSpec,
    on_start: Callable[[], None] | None = None,
) -> tuple[LoadRecorder, bool]:
    """Fire ``shape`` from ``processes`` processes; the merged recorder, and whether Ctrl-C ended it."""
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    parts = shares(shape, processes)
    children = []
    mark = owned_env()[OWNER_ENV]  # the lifeline runs, and the children carry the mark
    before = os.environ.get(OWNER_ENV)
    os.environ[OWNER_ENV] = mark
    try:
        for part in parts:
            child = context.Process(
                target=_child, args=(part, client, host, port, path, spec, ready, go, results), daemon=True
            )
            child.start()
            children.append(child)
    finally:
        if before is None:
            os.environ.pop(OWNER_ENV, None)
        else:
            os.environ[OWNER_ENV] = before
    merged = LoadRecorder()
    interrupted = False
    absorbed = 0
    try:
        for _ in children:
            ready.get(timeout=READY_TIMEOUT_S)
        if on_start is not None:
            on_start()
        go.set()
        while absorbed < len(children):
            exported, stopped = results.get()
            merged.absorb(exported)
            absorbed += 1
            interrupted = interrupted or stopped
    except KeyboardInterrupt:
        interrupted = True
        go.set()
        for child in children:  # a signal to the harness alone (kill -INT): passed on
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGINT)
        while absorbed < len(children):  # each sends what it measured until then
            try:
                exported, _ = results.get(timeout=10)
            except Exception:
                break
            merged.absorb(exported)
            absorbed += 1
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
    return merged, interrupted
