"""The live view while a run goes on: which variant, and each tab's state with its clock.

The board is a rich renderable that computes elapsed times when it is drawn, so a
40-second wait keeps ticking instead of looking frozen. It subscribes to the lab's
events (``Board.on_event``); rich's ``Live`` redraws it from its own thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from bench.errors import one_line as error_in_one_line
from bench.model.document import VariantResult
from bench.model.events import (
    AttemptFinished,
    AttemptStarted,
    Event,
    LessonStarted,
    LoadEventKind,
    LoadHappened,
    PhaseChanged,
    RunStarted,
    TheoryKnown,
    WorkDone,
)


@dataclass
class TabState:
    sent: float | None = None
    responded: float | None = None
    done: float | None = None
    failed: bool = False


@dataclass
class VariantProgress:
    name: str
    title: str
    clients: int
    expected_done_s: float | None
    phase: str = "starting server"
    started: float = field(default_factory=time.time)
    first_sent: float | None = None
    tabs: list[TabState] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tabs = [TabState() for _ in range(self.clients)]

    def _tab(self, client: int) -> TabState:
        while client >= len(self.tabs):  # closed and open loops do not know their count in advance
            self.tabs.append(TabState())
        return self.tabs[client]

    def on_load(self, event: LoadEventKind, client: int, at: float) -> None:
        tab = self._tab(client)
        if event == "sent":
            tab.sent = at
            self.first_sent = at if self.first_sent is None else min(self.first_sent, at)
        elif event == "responded":
            tab.responded = at
        elif event == "failed":
            tab.failed = True

    def on_done(self, client: int, at: float) -> None:
        self._tab(client).done = at


@dataclass
class Board:
    """All variants of the run: finished ones as one line each, the current one in full."""

    scenario: str
    variants: list[str]
    finished: list[Text] = field(default_factory=list)
    racing: dict[str, VariantProgress] = field(default_factory=dict)  # the attempts going on, by label
    lessons: list[int] = field(default_factory=list)  # bench tour: which lessons (several race at once) ...
    of_lessons: int = 0  # ... of how many
    _lessons_ran: bool = field(default=True, init=False, repr=False)  # a run began since: the next lesson starts anew

    def on_event(self, event: Event) -> None:
        """The lab's events, drawn: a new run resets the board, an attempt becomes a current one
        (several at once when variants race), an event moves the attempt it names."""
        if isinstance(event, LessonStarted):  # one before each run, or one for each lesson that races
            if self._lessons_ran:
                self.lessons, self._lessons_ran = [], False
            self.lessons.append(event.number)
            self.of_lessons = event.total
        elif isinstance(event, RunStarted):
            self.scenario, self.variants, self.finished = event.scenario, list(event.attempts), []
            self.racing.clear()
            self._lessons_ran = True
        elif isinstance(event, AttemptStarted):
            self.racing[event.label] = VariantProgress(event.label, event.title, event.clients, event.expected_done_s)
        elif isinstance(event, AttemptFinished):
            self.finished.append(one_line(event.result, event.label))
            self.racing.pop(event.label, None)
        elif isinstance(event, (LoadHappened, WorkDone, PhaseChanged, TheoryKnown)):
            progress = self.racing.get(event.attempt) if event.attempt else self.current
            if progress is None:
                return
            if isinstance(event, LoadHappened):
                progress.on_load(event.kind, event.client, event.at)
            elif isinstance(event, WorkDone):
                progress.on_done(event.client, event.at)
            elif isinstance(event, PhaseChanged):
                progress.phase = event.phase
            elif isinstance(event, TheoryKnown):
                progress.expected_done_s = event.expected_done_s

    @property
    def current(self) -> VariantProgress | None:
        """The attempt being measured, when one runs alone (the last started, when several race)."""
        return next(reversed(self.racing.values()), None)

    def _lesson(self) -> str:
        if not self.lessons:
            return ""
        if len(self.lessons) == 1:
            return f", lesson {self.lessons[0]} of {self.of_lessons}"
        return f", lessons {', '.join(map(str, self.lessons))} of {self.of_lessons} at once"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        number = len(self.finished) + len(self.racing)
        what = "variant" if len(set(self.variants)) == len(self.variants) else "run"  # --runs: each variant again
        racing = f" ({len(self.racing)} racing at once)" if len(self.racing) > 1 else ""
        heading = f"bench run {self.scenario}{self._lesson()}: {what} {number} of {len(self.variants)}{racing}"
        yield Text(heading, style="bold")
        yield from self.finished
        for progress in self.racing.values():
            yield _current(progress)


def one_line(result: VariantResult, label: str) -> Text:
    """A finished attempt in one line: ✗ with the reason when it failed or any claim of it failed."""
    if result.status != "ok":
        return Text(f"✗ {label}: {error_in_one_line(result.error)}", style="red")
    if result.summary is None:
        held = sum(c.holds for c in result.claims)
        return Text(f"✓ {label}: {held} of {len(result.claims)} checks hold", style="green")
    s = result.summary
    done = "not done" if s.all_done_s is None else f"all done {s.all_done_s:.2f} s"
    responded = "no answer" if s.all_responded_s is None else f"all responded {s.all_responded_s:.2f} s"
    if s.errors:  # never "all" of them: the failed ones did not answer
        responded = f"{s.errors} of {s.requests} requests failed ({error_in_one_line(', '.join(s.errors_by_kind))})"
        done = "not done" if s.all_done_s is None else f"the others done {s.all_done_s:.2f} s"
    failed = [c for c in result.claims if not c.holds]
    own = [c for c in failed if not c.tutorial]
    if own or s.errors or (failed and len(failed) == len(result.claims)):
        held = len(result.claims) - len(failed)
        return Text(f"✗ {label}: {responded}, {done}, lost {s.lost}; {held} of {len(result.claims)} claims hold", "red")
    found = f"; the tutorial's {', '.join(c.id for c in failed)} does not hold (a finding)" if failed else ""
    return Text(f"✓ {label}: {responded}, {done}, lost {s.lost}{found}", style="green")


def _current(p: VariantProgress) -> Group:
    now = time.time()
    zero = p.first_sent if p.first_sent is not None else now
    heading = Text()
    heading.append(f"▶ {p.name}", style="bold")
    theory = (
        "" if p.expected_done_s is None else f" · theory: all done {p.expected_done_s:.2f} s after the first request"
    )
    heading.append(f" — {p.title}\n  {p.phase} · {now - p.started:.1f} s since start{theory}", style="dim")
    table = Table(box=None, padding=(0, 2))
    table.add_column("tab")
    table.add_column("state")
    table.add_column("answered at", justify="right")
    table.add_column("done at", justify="right")
    if len(p.tabs) > 16:
        counts = {"waiting": 0, "answered": 0, "done": 0, "failed": 0}
        for tab in p.tabs:
            counts[_state(tab)[0]] += 1
        table.add_row("all", ", ".join(f"{v} {k}" for k, v in counts.items() if v), "", "")
        return Group(heading, table)
    for i, tab in enumerate(p.tabs, start=1):
        state, style = _state(tab)
        if state == "waiting":
            state = "not sent yet" if tab.sent is None else f"waiting {now - tab.sent:.1f} s"
        table.add_row(
            str(i),
            Text(state, style=style),
            "" if tab.responded is None else f"{tab.responded - zero:.2f} s",
            "" if tab.done is None else f"{tab.done - zero:.2f} s",
        )
    return Group(heading, table)


def _state(tab: TabState) -> tuple[str, str]:
    if tab.failed:
        return "failed", "red"
    if tab.done is not None and tab.responded is not None:
        return "done", "green"
    if tab.responded is not None:
        return "answered", "yellow"
    return "waiting", "cyan"


class LoadProgress:
    """The live line of ``bench load``: elapsed time, answered requests, the recent rate, errors."""

    def __init__(self, duration_s: float | None, total: int | None) -> None:
        self.duration_s, self.total = duration_s, total
        self.started = time.monotonic()
        self.answered = 0
        self.failed = 0
        self._last = (self.started, 0)
        self._rate = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        self._last = (self.started, 0)

    def observe(self, event: LoadEventKind, client: int, at: float) -> None:
        if event == "responded":
            self.answered += 1
        elif event == "failed":
            self.failed += 1

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        now = time.monotonic()
        then, count = self._last
        if now - then >= 0.5:
            self._rate = (self.answered - count) / (now - then)
            self._last = (now, self.answered)
        limit = [
            f"{self.duration_s:g} s" if self.duration_s is not None else "",
            f"{self.total} requests" if self.total is not None else "",
        ]
        yield Text(
            f"{now - self.started:.1f} s of {' or '.join(x for x in limit if x)} · {self.answered} answered · "
            f"{self._rate:,.0f} req/s now · {self.failed} failed",
            style="dim",
        )
