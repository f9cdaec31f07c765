"""The lessons in teaching order: what ``bench tour`` runs, and what it says about each.

Each lesson is a scenario of scenarios.yaml with the question it answers and one short
paragraph to read after the figures. The prediction comes from the theory of each run,
the verdict from its claims: nothing here is a measured figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bench.model.document import RunDocument

Needs = Literal["chromium"]


@dataclass(frozen=True)
class Lesson:
    scenario: str
    question: str
    paragraph: str
    needs: Needs | None = None
    variants: tuple[str, ...] = ()  # a subset, to keep the tour short; () = all of the scenario's


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "four-tabs",
        "Four tabs reloaded one after another: what does each strategy do with them?",
        "Blocking work inside async def holds the one event loop, so the tabs finish one after "
        "another. A second worker helps less than the tutorial says: a worker busy in its loop "
        "does not accept, and the one that comes back takes every connection waiting (3 + 1). "
        "BackgroundTasks, a def endpoint and await all overlap the work; BackgroundTasks and "
        "create_task also answer at once.",
    ),
    Lesson(
        "four-tabs-burst",
        "And when the four requests leave at the same instant?",
        "With simultaneous requests the workers race to accept: whichever wakes first may take "
        "all four. The model gives a range, 2 d to 4 d, and the run shows where it fell this time.",
        variants=("sync", "multi-worker", "background"),
    ),
    Lesson(
        "thread-limit",
        "Does 'all at about the same time' hold for 100 requests?",
        "A def endpoint and BackgroundTasks share anyio's 40 threads per event loop: 100 units of "
        "work run in waves of 40. Raising the limit in the app's lifespan removes the waves.",
    ),
    Lesson(
        "to-thread",
        "Is asyncio.to_thread the same as a def endpoint?",
        "The same code shape, another pool: asyncio's default executor has min(32, CPUs + 4) threads, "
        "fewer than anyio's 40 on a small machine, so the same load makes more waves.",
    ),
    Lesson(
        "cpu-bound",
        "What if the work burns CPU instead of waiting?",
        "Threads take turns holding the GIL, so CPU-bound work does not overlap in threads. "
        "Processes do, up to the number of cores.",
    ),
    Lesson(
        "celery-tabs",
        "What does a real task queue add?",
        "Celery answers at once like BackgroundTasks, but the work runs in worker processes you "
        "size separately, on a broker that outlives the web server.",
    ),
    Lesson(
        "restart",
        "What happens to queued background work when the server is killed?",
        "BackgroundTasks and create_task live in the web server's process: killed, their work is "
        "lost. Celery's tasks wait in the broker and are done anyway.",
        variants=("background", "celery-4"),
    ),
    Lesson(
        "browser-tabs",
        "Is the browser a neutral load generator?",
        "No: Chromium lets one request for an identical URL through at a time (its cache lock), "
        "so four tabs on the tutorial's /push/1 finish one after another even on a parallel server.",
        needs="chromium",
    ),
)


@dataclass(frozen=True)
class Verdict:
    """A lesson's outcome in one line each: what theory predicted, what was measured, the claims."""

    prediction: str
    measurement: str
    held: int  # the lab's own claims (its model) that held
    claims: int
    not_held: list[str]  # "2m (multi-worker)": the lab's claims that did not hold
    findings: list[str]  # the tutorial's statements that did not hold here: "2 (multi-worker): says …"


def verdict(doc: RunDocument) -> Verdict:
    predicted, measured = [], []
    for v in doc.variants:
        span = v.expected.all_done_range_s if v.expected is not None else None
        if span is not None:
            predicted.append(f"{v.name} {span[0]:.2f}–{span[1]:.2f} s")
        elif v.expected is not None:
            predicted.append(f"{v.name} {v.expected.all_done_s:.2f} s")
        if v.summary is not None and v.summary.all_done_s is not None:
            measured.append(f"{v.name} {v.summary.all_done_s:.2f} s")
        elif v.status == "failed":
            measured.append(f"{v.name} failed")
    claims = [c for c in doc.claims() if not c.tutorial]
    tutorials = [c for c in doc.claims() if c.tutorial and not c.holds]
    return Verdict(
        prediction="all done: " + ", ".join(predicted) if predicted else "no closed-form theory for this load",
        measurement="all done: " + ", ".join(measured) if measured else "nothing measured",
        held=sum(c.holds for c in claims),
        claims=len(claims),
        not_held=[f"{c.id} ({c.variant})" for c in claims if not c.holds],
        findings=[f"{c.id} ({c.variant}): “{c.says}” measured {c.measured_text}" for c in tutorials],
    )
