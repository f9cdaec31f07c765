"""A learner's own app: its diagnosis, the strategy it implies, and the theory for it.

The diagnosis (``bench.lab.diagnose`` runs the app once in process) lists every blocking
call it saw, with the learner's file and line and the functions it came through, and
when the work ran: on the event loop or in a thread, before or after the answer. From
that, and the endpoint's shape, this module infers the strategy in the lab's own terms
(work slots per worker, whether the answer waits for the work), so the same scheduling
model (``bench.model.theory``) predicts the learner's app as it predicts the lab's
servers; and what each usual fix would predict instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from bench.contract import ANYIO_DEFAULT_THREADS as ANYIO_THREADS
from bench.model.base import Record
from bench.model.machine import default_executor_threads
from bench.model.ownapp_calls import KIND_WORDS, FoundCall
from bench.model.scenario import Variant, WorkSlots
from bench.model.theory import expected


class Endpoint(Record):
    name: str
    file: str
    line: int
    is_async: bool
    background_tasks: bool


class Diagnosis(Record):
    app: str
    path: str
    routes: list[str] = Field(default_factory=list)
    endpoint: Endpoint | None = None
    status: int | None = None
    answered: bool = False
    calls: list[FoundCall] = Field(default_factory=list)
    problem: str | None = None  # the app raised on the request, or blocked outside the learner's files
    bad: str | None = None  # the app cannot be run at all (missing file, import error, no such route)
    method: str = "GET"  # the route found when none was named: its method,
    route_path: str | None = None  # and its path with {token} for its parameters
    route: str | None = None  # "POST /notify/{user_id}": the route as the app declares it
    needs_body: dict[str, Any] | None = None  # its body's JSON schema, when it takes one and none was given
    body: str = ""  # the body the diagnosis sent (given, or built from that schema)
    cpus: int | None = None  # the CPUs the app's process may use, as the diagnosis saw them
    rest_s: float | None = None  # the request's time to its answer, its sleeps stood in for (they return at once),
    # less cpu_wait_s: the time its threads were runnable but had no CPU (others' load), where Linux says
    cpu_wait_s: float = 0.0


@dataclass(frozen=True)
class Strategy:
    work_slots: WorkSlots
    answers: Literal["after-work", "at-once"]
    why: str
    seconds_written: float | None  # the work's duration: as the code writes it (a sleep), or measured once
    cpu_bound: bool = False  # the work is CPU work: threads do not parallelise it (the GIL), processes do


NEGLIGIBLE_S = 0.001  # a blocking call that holds the loop less than this per request is said, not modelled


def the_work(diagnosis: Diagnosis) -> FoundCall | None:
    """The call that is the work: the longest sleep, wait or CPU work the diagnosis saw."""
    timed = [c for c in diagnosis.calls if c.seconds is not None]
    return max(timed, key=lambda c: c.seconds or 0.0, default=None)


def negligible(call: FoundCall) -> bool:
    return call.held_s is not None and call.held_s < NEGLIGIBLE_S and call.kind == "blocking"


def pool_words(call: FoundCall, cpus: int | None) -> tuple[WorkSlots, str]:
    """The thread pool a call ran in: its slots and the sentence that says so, with the number."""
    if call.pool == "default executor":
        size = call.pool_size or default_executor_threads(cpus)
        return size, f"asyncio's default executor (to_thread, run_in_executor(None)): min(32, CPUs + 4) = {size}"
    if call.pool == "executor" and call.pool_size:
        return call.pool_size, f"a ThreadPoolExecutor of {call.pool_size} threads"
    size = call.pool_size or ANYIO_THREADS
    where = "a BackgroundTasks task" if call.after_answer else "a def endpoint or sync dependency"
    return "threads", f"anyio's thread pool ({where}): {size} at once"


def infer(diagnosis: Diagnosis) -> Strategy:
    work = the_work(diagnosis)
    if work is not None:
        answers: Literal["after-work", "at-once"] = "at-once" if work.after_answer else "after-work"
        seconds = work.seconds
        if work.kind == "cpu-loop":
            return Strategy(1, answers, "CPU work on the event loop: one request at a time per worker", seconds, True)
        if work.kind == "cpu-threads":
            why = "CPU work in threads: under the GIL one runs at a time, threads do not parallelise it"
            return Strategy(1, answers, why, seconds, True)
        if work.kind == "process":
            size = work.pool_size or diagnosis.cpus or 1
            at_once = min(size, diagnosis.cpus or size)
            why = f"the work runs in a process pool of {size}: {at_once} at once (one per usable core)"
            return Strategy(at_once, answers, why, seconds, True)
        if work.blocks_loop and not negligible(work):
            return Strategy(1, answers, "the work blocks the event loop: one unit at a time per worker", seconds)
        if work.kind in ("sleep", "thread-wait"):
            slots, words = pool_words(work, diagnosis.cpus)
            return Strategy(slots, answers, f"the work waits in {words}", seconds)
        return Strategy("unbounded", answers, "the work awaits: the event loop overlaps any number", seconds)
    if any(c.blocks_loop and not negligible(c) for c in diagnosis.calls):
        return Strategy(1, "after-work", "a blocking call holds the event loop: one request at a time", None)
    endpoint = diagnosis.endpoint
    if endpoint is not None and not endpoint.is_async:
        why = f"a def endpoint runs in anyio's thread pool: {ANYIO_THREADS} at once"
        return Strategy("threads", "after-work", why, None)
    return Strategy("unbounded", "after-work", "nothing holds the event loop", None)


def held_per_request(diagnosis: Diagnosis) -> float:
    """How long one request holds the event loop, every call that holds it summed."""
    return sum(c.held_s or 0.0 for c in diagnosis.calls if c.blocks_loop)


def culprit(diagnosis: Diagnosis) -> FoundCall | None:
    """What holds the loop longest in a request (else CPU work in threads): the one to fix first."""
    holding = [c for c in diagnosis.calls if c.blocks_loop and not negligible(c)]
    if holding:
        return max(holding, key=lambda c: c.held_s or 0.0)
    return next((c for c in diagnosis.calls if c.kind == "cpu-threads"), None)


def endpoint_text(diagnosis: Diagnosis) -> str:
    ep = diagnosis.endpoint
    return f"{'async def' if ep.is_async else 'def'} {ep.name} ({ep.file}:{ep.line})" if ep else "the endpoint"


def held_words(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def blocking_sentences(head: str, calls: Sequence[FoundCall]) -> list[tuple[str, bool]]:
    """One sentence per call found, the learner's file and line in it, and whether it holds
    the event loop (and for how long per request); ``head``: ``endpoint_text``."""
    out = []
    for c in calls:
        via = f", via {' → '.join(c.via)}" if c.via else ""
        what = f"`{c.text}`" if c.text and c.call in ("CPU work", "a blocking call") else c.call
        where = f"{what} at line {c.line} of {c.file}{via}"
        whose = head if c.role == "endpoint" else f"the {c.role} {c.function} ({c.file}:{c.function_line})"
        times = f", {c.times} times" if c.times > 1 else ""
        if negligible(c):
            out.append((f"{where} holds the event loop {held_words(c.held_s)} per request{times}: negligible", False))
        elif c.blocks_loop:
            kind = KIND_WORDS[c.kind]
            held = f" for {held_words(c.held_s)} per request{times}" if c.held_s is not None else ""
            out.append((f"{whose} holds the event loop{held} ({kind}): {where}", True))
        elif c.kind == "cpu-threads":
            out.append((f"{where} is CPU work in a worker thread: under the GIL threads take turns", True))
        elif c.kind == "process":
            out.append((f"{c.call} at line {c.line} of {c.file}: its own processes, the event loop stays free", False))
        elif c.kind in ("sleep", "thread-wait"):
            pool = pool_words(c, None)[1] if c.pool else "a worker thread"
            out.append((f"{where} waits in {pool}: the event loop stays free", False))
    return out


# The fixes a learner meets next, as strategies (the tutorial's and the lab's variants).
FIXES: tuple[tuple[str, WorkSlots, Literal["after-work", "at-once"]], ...] = (
    ("a def endpoint (FastAPI runs it in the thread pool)", "threads", "after-work"),
    ("await asyncio.sleep (a non-blocking call) in the async def", "unbounded", "after-work"),
    ("BackgroundTasks.add_task (answers at once, work in a thread)", "threads", "at-once"),
    ("Celery with a 4-process worker (answers at once)", 4, "at-once"),
)


def fixes_for(strategy: Strategy, cpus: int) -> tuple[tuple[str, WorkSlots, Literal["after-work", "at-once"]], ...]:
    """The usual fixes as strategies, for the kind of work found: for CPU work, threads take
    turns under the GIL and processes run one unit per usable core."""
    if not strategy.cpu_bound:
        return FIXES
    celery = min(4, cpus)
    return (
        ("a def endpoint (threads: under the GIL one at a time)", 1, "after-work"),
        (f"a process pool (run_in_executor(ProcessPoolExecutor())): {cpus} at once, one per core", cpus, "after-work"),
        ("BackgroundTasks.add_task (answers at once; the GIL still runs one at a time)", 1, "at-once"),
        (f"Celery with a 4-process worker (answers at once; {celery} cores here)", celery, "at-once"),
    )


@dataclass(frozen=True)
class Prediction:
    label: str
    all_responded_s: float
    all_done_s: float


def predictions(
    strategy: Strategy, d: float, clients: int, gap_s: float, workers: int = 1, cpus: int = 1
) -> list[Prediction]:
    """Four tabs (or ``clients``) on this app, and on each usual fix: when all are answered and done."""
    rows = [("your app as it is", strategy.work_slots, strategy.answers)]
    rows += [(label, slots, answers) for label, slots, answers in fixes_for(strategy, cpus)]
    out = []
    for label, slots, answers in rows:
        variant = Variant(name="v", title=label, app="own:app", workers=workers, work_slots=slots, answers=answers)
        e = expected(variant, clients, gap_s, d)
        out.append(Prediction(label, e.all_responded_s, e.all_done_s))
    return out
