"""What theory expects of each variant: a small scheduling model, pure and exact.

Each server process runs at most ``slots`` units of work at once (1 when the work
blocks the event loop, anyio's 40 threads for the thread pool, unbounded for
``await``). Requests arrive at known offsets; each unit starts at its arrival or when
a slot frees up, whichever is later, and takes ``d`` seconds (list scheduling on
``workers x slots`` identical machines, first come first served). With several
workers this is the *ideal* split; how the kernel really hands connections to the
workers is what the run measures.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from bench import contract
from bench.model.document import Expected
from bench.model.machine import Machine, default_executor_threads
from bench.model.scenario import Variant

ANYIO_DEFAULT_THREADS = contract.ANYIO_DEFAULT_THREADS  # anyio.to_thread's default limiter, per event loop
# Requests closer than this race for the workers: blocked by their work, the workers come back as far
# apart as the requests came, and within a few ms of each other either may take what waits. Four
# tabs 6 and 15 ms apart (scales 0.02 and 0.05) split 2 + 2 in about one run of three, not 3 + 1.
RACE_WINDOW_S = 0.02


def slots_per_worker(variant: Variant, machine: Machine | None = None) -> int | None:
    """Units of work one worker runs at once; None means no limit. The default executor's
    size depends on the machine: ``machine`` is needed for it."""
    if variant.work_slots == "threads":
        return variant.thread_limit or ANYIO_DEFAULT_THREADS
    if variant.work_slots == "executor":
        if machine is None:
            raise ValueError(f"{variant.name}: the default executor's size depends on the machine's CPU count")
        return default_executor_threads(machine.cpu_count)
    if variant.work_slots == "unbounded":
        return None
    if variant.work_slots is None:
        raise ValueError(f"{variant.name}: its strategy is not known yet (an own app before its diagnosis)")
    return int(variant.work_slots)


def schedule(arrivals: Sequence[float], duration: float, slots: int | None) -> list[float]:
    """Finish time of each unit of work, in arrival order, on ``slots`` parallel slots."""
    if slots is None or slots >= len(arrivals):
        return [a + duration for a in arrivals]
    free_at = [0.0] * slots  # a min-heap of the times each slot becomes free
    finish = []
    for arrival in sorted(arrivals):
        start = max(arrival, heapq.heappop(free_at))
        heapq.heappush(free_at, start + duration)
        finish.append(start + duration)
    order = sorted(range(len(arrivals)), key=lambda i: arrivals[i])
    result = [0.0] * len(arrivals)
    for rank, i in enumerate(order):
        result[i] = finish[rank]
    return result


# What a browser lets through to one host at once: Chromium's HTTP cache lock passes one
# request for an identical URL at a time; otherwise 6 connections per host.
BROWSER_SAME_URL = 1
BROWSER_PER_HOST = 6


def cpu_slots(variant: Variant, cpus: int) -> int:
    """How many CPU-bound units of work really run at once: one per process (the GIL lets
    one thread run Python code at a time), no more than there are cores."""
    if variant.processes is not None:
        processes = variant.processes
    elif variant.celery is not None and variant.celery.pool == "prefork":
        processes = variant.celery.concurrency
    else:
        processes = variant.workers  # threads and the event loop share their process's GIL
    return max(1, min(processes, cpus))


def accept_model(arrivals: Sequence[float], duration: float, workers: int) -> list[float]:
    """Finish times under ``uvicorn --workers N`` when the work blocks each worker's event loop.

    The workers share one listening socket. A worker whose loop is blocked does not accept;
    an idle worker accepts a new connection at once; a worker that returns to its loop
    (its request done) accepts *every* connection waiting, then serves them one by one.
    Arrivals at distinct times make this deterministic (which idle worker wins does not
    change the times). The measured "3 + 1 every time" of four tabs 0.3 d apart on two
    workers is what it predicts.
    """
    order = sorted(range(len(arrivals)), key=lambda i: arrivals[i])
    queues: list[list[int]] = [[] for _ in range(workers)]
    free_at: list[float | None] = [None] * workers  # None: idle in its loop
    backlog: list[int] = []
    done = [0.0] * len(arrivals)

    def finish_until(t: float) -> None:
        while True:
            busy = [(at, w) for w, at in enumerate(free_at) if at is not None and at <= t]
            if not busy:
                return
            at, w = min(busy)
            queues[w] += backlog  # back in its loop: it takes every connection waiting
            backlog.clear()
            if queues[w]:
                i = queues[w].pop(0)
                done[i] = at + duration
                free_at[w] = done[i]
            else:
                free_at[w] = None

    for i in order:
        finish_until(arrivals[i])
        idle = next((w for w, at in enumerate(free_at) if at is None), None)
        if idle is None:
            backlog.append(i)
        else:
            done[i] = arrivals[i] + duration
            free_at[idle] = done[i]
    finish_until(float("inf"))
    return done


def _races(variant: Variant, per_worker: int | None, kind: str, cpus: int) -> bool:
    """Several workers whose loops the work blocks: the accept model applies."""
    return variant.workers > 1 and per_worker == 1 and (kind != "cpu" or variant.workers <= cpus)


def expected(
    variant: Variant,
    clients: int,
    gap_s: float,
    work_s: float,
    client_cap: int | None = None,
    kind: str = "sleep",
    machine: Machine | None = None,
) -> Expected:
    """``client_cap``: how many requests the client itself lets out at once (a browser's limits);
    ``kind``: for ``cpu`` work, the GIL and the core count set the slots (``machine``'s usable CPUs)."""
    arrivals = [i * gap_s for i in range(clients)]
    per_worker = slots_per_worker(variant, machine)
    if kind == "cpu" and machine is None:
        raise ValueError("the theory of CPU-bound work needs the machine's usable CPUs")
    cpus = machine.cpus_usable if machine is not None else 1
    slots = None if per_worker is None else per_worker * variant.workers
    if kind == "cpu":
        slots = cpu_slots(variant, cpus)
    server_slots = slots
    if client_cap is not None:
        slots = client_cap if slots is None else min(slots, client_cap)
    done = schedule(arrivals, work_s, slots)
    model = _describe(variant, server_slots)
    if kind == "cpu":
        model = f"CPU-bound: {slots} at once (one per process, at most one per core)"
    done_range: list[float] | None = None
    if client_cap is None and _races(variant, per_worker, kind, cpus):
        if gap_s >= RACE_WINDOW_S or clients == 1:  # one at a time: the model says where each lands
            done = accept_model(arrivals, work_s, variant.workers)
            model = (
                f"{variant.workers} workers, each blocked by its work: a blocked worker does not accept, "
                "one back in its loop takes every connection waiting"
            )
        else:  # simultaneous, or within the window: whichever worker wakes first takes what is waiting
            done_range = [max(done), max(schedule(arrivals, work_s, 1))]
            model = (
                f"{variant.workers} workers racing to accept requests that arrive within {RACE_WINDOW_S * 1000:g} ms "
                "of each other: all done between "
                f"{done_range[0]:.3g} s (an even split) and {done_range[1]:.3g} s (all on one)"
            )
        model += "; answers when its work is done" if variant.answers == "after-work" else "; answers at once"
    responded = done if variant.answers == "after-work" else list(arrivals)
    if client_cap is not None and (server_slots is None or client_cap < server_slots):
        model += f"; the browser lets {client_cap} request{'s' if client_cap > 1 else ''} through at once"
    return Expected(
        model=model,
        all_responded_s=max(responded),
        all_done_s=max(done),
        responded_s=responded,
        done_s=done,
        all_done_range_s=done_range,
    )


def closed_loop_rate(
    connections: int, slots_per_worker: int | None, workers: int, work_s: float | None, answers: str | None
) -> float | None:
    """A closed loop whose answers wait for the work: req/s = min(connections, slots) / d
    (Little's law with every connection always waiting). None when the answer does not wait
    for the work, or d is unknown: then the server's own speed is the limit, not the theory's."""
    if not work_s or answers != "after-work":
        return None
    in_flight = connections if slots_per_worker is None else min(connections, slots_per_worker * workers)
    return in_flight / work_s


def _describe(variant: Variant, slots: int | None) -> str:
    if slots is None:
        capacity = "no limit on overlapping work"
    else:
        capacity = f"at most {slots} unit{'s' if slots > 1 else ''} of work at once"
    if variant.workers > 1:
        capacity += f" ({variant.workers} workers, evenly loaded)"
    answer = "answers when its work is done" if variant.answers == "after-work" else "answers at once"
    return f"{capacity}; {answer}"
