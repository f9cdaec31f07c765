"""What the lab tells whoever watches a run: typed events and the observer they go to.

The lab fires, the live board and the HTML writer subscribe (Locust's ``EventHook`` /
``Events`` shape). The lab never imports rich or the report: it only calls
``events.emit(...)``; what the CLI subscribed decides what a person sees. The types
live in the model, below both the lab and the report, so neither imports the other.

Per-request load events stay a plain call (``LoadObserver``: kind, client, time) on the
hot path of ``bench load``; the lab wraps them into ``LoadHappened`` only for its runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from bench.model.document import LoadDocument, RunDocument, VariantResult
from bench.model.tour import Lesson

LoadEventKind = Literal["sent", "responded", "failed"]
LoadObserver = Callable[[LoadEventKind, int, float], None]
"""Called with (what happened, which client, wall time) for every request of a load."""


def no_load_observer(kind: LoadEventKind, client: int, at: float) -> None:
    return None


@dataclass(frozen=True)
class RunStarted:
    """A run of a scenario begins; ``attempts`` names the variant of every attempt to come (a
    variant run N times stands there N times)."""

    scenario: str
    attempts: tuple[str, ...]


@dataclass(frozen=True)
class AttemptStarted:
    """One measured (or warm-up) run of a variant begins: its server is being started."""

    label: str
    title: str
    clients: int
    expected_done_s: float | None


@dataclass(frozen=True)
class PhaseChanged:
    """What the current attempt is doing now ("waiting for the background work")."""

    phase: str
    attempt: str = ""  # which attempt, when several race at once ("": the only one)


@dataclass(frozen=True)
class TheoryKnown:
    """The theory of the current attempt became known late (an own app's d was measured)."""

    expected_done_s: float | None
    attempt: str = ""  # which attempt, when several race at once ("": the only one)


@dataclass(frozen=True)
class LoadHappened:
    """A request of the current attempt was sent, answered or failed."""

    kind: LoadEventKind
    client: int
    at: float
    attempt: str = ""  # which attempt, when several race at once ("": the only one)


@dataclass(frozen=True)
class WorkDone:
    """The background work of a request of the current attempt was recorded done."""

    client: int
    at: float
    attempt: str = ""  # which attempt, when several race at once ("": the only one)


@dataclass(frozen=True)
class AttemptFinished:
    label: str
    result: VariantResult


@dataclass(frozen=True)
class VariantFinished:
    """Every run of a variant is over: ``result`` is the one saved (repeated runs combined)."""

    result: VariantResult


@dataclass(frozen=True)
class RunEnded:
    """A run document reached its last state (complete or interrupted) and is saved in ``folder``."""

    doc: RunDocument | LoadDocument
    folder: Path


@dataclass(frozen=True)
class LessonStarted:
    number: int
    total: int
    lesson: Lesson


Event = (
    RunStarted
    | AttemptStarted
    | PhaseChanged
    | TheoryKnown
    | LoadHappened
    | WorkDone
    | AttemptFinished
    | VariantFinished
    | RunEnded
    | LessonStarted
)
Listener = Callable[[Event], None]


@dataclass
class Events:
    """One hook: listeners are called in the order they subscribed. Empty, it is the null observer."""

    listeners: list[Listener] = field(default_factory=list)

    def subscribe(self, listener: Listener) -> Events:
        self.listeners.append(listener)
        return self

    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)

    def load_observer(self) -> LoadObserver:
        """A load's per-request calls as ``LoadHappened`` events (a no-op when nobody listens)."""
        if not self.listeners:
            return no_load_observer
        return lambda kind, client, at: self.emit(LoadHappened(kind, client, at))

    def scoped(self, attempt: str) -> Events:
        """The same listeners, each attempt-level event stamped with ``attempt``: attempts that
        race at once tell the board which of them moved."""
        return Scoped(self.listeners, attempt)


SCOPED = (PhaseChanged, TheoryKnown, LoadHappened, WorkDone)


@dataclass
class Scoped(Events):
    attempt: str = ""

    def emit(self, event: Event) -> None:
        if isinstance(event, SCOPED):
            event = replace(event, attempt=self.attempt)
        super().emit(event)


def prefixed(events: Events, prefix: str) -> Events:
    """A run's events when several runs go on at once (the tour's lessons that race): every
    attempt's label starts with ``prefix``, and the run's own ``RunStarted`` is left out (whoever
    started the runs said at once which attempts all of them make)."""

    def relabel(event: Event) -> None:
        if isinstance(event, RunStarted):
            return
        if isinstance(event, (AttemptStarted, AttemptFinished)):
            event = replace(event, label=prefix + event.label)
        elif isinstance(event, SCOPED):
            event = replace(event, attempt=prefix + event.attempt)
        events.emit(event)

    return Events([relabel])


def no_events() -> Events:
    """The null observer: the lab runs the same with nobody watching (tests, scripts)."""
    return Events()
