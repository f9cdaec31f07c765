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

from bench.model.base import Record
from bench.model.ownapp_calls import FoundCall
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
    needs_body: dict[str, Any] | None = None  # its body's JSON schema, when it takes one and none was given
    body: str = ""  # the body the diagnosis sent (given, or built from that schema)


@dataclass(frozen=True)
class Strategy:
    work_slots: WorkSlots
    answers: Literal["after-work", "at-once"]
    why: str
    seconds_written: float | None  # the work's duration as the code writes it (a sleep's argument)


def the_work(diagnosis: Diagnosis) -> FoundCall | None:
    """The call that is the work: the longest sleep (the tutorial's stand-in for a slow call)."""
    sleeps = [c for c in diagnosis.calls if c.seconds is not None]
    return max(sleeps, key=lambda c: c.seconds or 0.0, default=None)


def infer(diagnosis: Diagnosis) -> Strategy:
    work = the_work(diagnosis)
    endpoint = diagnosis.endpoint
    if work is not None:
        answers: Literal["after-work", "at-once"] = "at-once" if work.after_answer else "after-work"
        seconds = work.seconds
        if work.blocks_loop:
            return Strategy(1, answers, "the work blocks the event loop: one unit at a time per worker", seconds)
        if work.call == "time.sleep":
            where = "a BackgroundTasks task" if answers == "at-once" else "a def endpoint"
            return Strategy("threads", answers, f"the work runs in the thread pool ({where}): 40 at once", seconds)
        return Strategy("unbounded", answers, "the work awaits: the event loop overlaps any number", seconds)
    if any(c.blocks_loop for c in diagnosis.calls):
        return Strategy(1, "after-work", "a blocking call holds the event loop: one request at a time", None)
    if endpoint is not None and not endpoint.is_async:
        return Strategy("threads", "after-work", "a def endpoint runs in the thread pool: 40 at once", None)
    return Strategy("unbounded", "after-work", "nothing blocks the event loop", None)


def endpoint_text(diagnosis: Diagnosis) -> str:
    ep = diagnosis.endpoint
    return f"{'async def' if ep.is_async else 'def'} {ep.name} ({ep.file}:{ep.line})" if ep else "the endpoint"


def blocking_sentences(head: str, calls: Sequence[FoundCall]) -> list[tuple[str, bool]]:
    """One sentence per call found, the learner's file and line in it, and whether it blocks
    the event loop; ``head``: ``endpoint_text``."""
    out = []
    for c in calls:
        via = f", via {' → '.join(c.via)}" if c.via else ""
        if c.blocks_loop:
            out.append((f"{head} blocks the event loop: {c.call} at line {c.line} of {c.file}{via}", True))
        elif c.call == "time.sleep":
            where = f"{c.call} at line {c.line} of {c.file}{via}"
            out.append((f"{where} runs in a worker thread: the event loop stays free", False))
    return out


# The fixes a learner meets next, as strategies (the tutorial's and the lab's variants).
FIXES: tuple[tuple[str, WorkSlots, Literal["after-work", "at-once"]], ...] = (
    ("a def endpoint (FastAPI runs it in the thread pool)", "threads", "after-work"),
    ("await asyncio.sleep (a non-blocking call) in the async def", "unbounded", "after-work"),
    ("BackgroundTasks.add_task (answers at once, work in a thread)", "threads", "at-once"),
    ("Celery with a 4-process worker (answers at once)", 4, "at-once"),
)


@dataclass(frozen=True)
class Prediction:
    label: str
    all_responded_s: float
    all_done_s: float


def predictions(strategy: Strategy, d: float, clients: int, gap_s: float, workers: int = 1) -> list[Prediction]:
    """Four tabs (or ``clients``) on this app, and on each usual fix: when all are answered and done."""
    rows = [("your app as it is", strategy.work_slots, strategy.answers)]
    rows += [(label, slots, answers) for label, slots, answers in FIXES]
    out = []
    for label, slots, answers in rows:
        variant = Variant(name="v", title=label, app="own:app", workers=workers, work_slots=slots, answers=answers)
        e = expected(variant, clients, gap_s, d)
        out.append(Prediction(label, e.all_responded_s, e.all_done_s))
    return out
