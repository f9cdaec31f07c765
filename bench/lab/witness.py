"""What one request did, as three witnesses saw it (``bench.lab.diagnose`` runs them).

The stand-in sleeps and the hooks on blockbuster's wrappers note each call as a ``Call``;
what the watchdog and the thread sampler saw that those did not name becomes a ``Call``
too. Standard library and relative imports only: it runs in the learner's interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import linecache
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from .watchdog import CPU_SHARE, Held, learner_place, pool_of

INDIRECT_FLOOR_S = 0.001  # a blocking call inside a library the learner called: kept from 1 ms
MIN_SAMPLED_S = 0.005  # what the samplers saw for less than this is noise


@dataclass
class Call:
    """One thing the request did that matters to its timing, as ``FoundCall`` reads it."""

    call: str
    file: str
    line: int
    via: list[str]
    blocks_loop: bool
    kind: str  # sleep, awaits, blocking, cpu-loop, cpu-threads, thread-wait
    seconds: float | None = None  # the work's duration: a sleep's argument, or measured
    held_s: float | None = None  # how long it held the event loop in this request
    after_answer: bool = False
    function: str = ""  # the innermost of the learner's functions, where the call is written
    function_line: int = 0  # that function's def line
    role: str = "endpoint"  # endpoint, dependency or background task: where the chain starts
    text: str = ""  # the line's source
    pool: str | None = None
    pool_size: int | None = None
    times: int = 1
    direct: bool = True  # written in the learner's line itself, not deep in a library it called

    def found(self, folder: Path) -> dict[str, Any]:
        fields = asdict(self)
        del fields["direct"]
        return {**fields, "file": short(self.file, folder)}

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.call, self.file, self.line)


@dataclass
class Observed:
    status: int | None = None
    answered_at: float | None = None
    began: float = 0.0  # when the request was handed to the app (time.monotonic)
    cpu_wait_s: float = 0.0  # of the time to the answer, how long its threads waited for a CPU (a busy machine)
    calls: list[Call] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def rest_s(self) -> float:
        """The time to the answer that was the app's (its sleeps return at once): the wall time
        less the time its threads waited for a CPU: another process's load adds that, not the app."""
        wall = (self.answered_at or self.began) - self.began
        return max(0.0, wall - min(self.cpu_wait_s, wall))


def def_line(file: str, first: int) -> int:
    """The ``def`` line of a function whose code starts at ``first`` (its first decorator)."""
    for line in range(first, first + 40):
        text = linecache.getline(file, line).lstrip()
        if text.startswith(("def ", "async def ")):
            return line
        if not text and line > first + 1:
            break
    return first


class Witness:
    """The stand-in sleeps and the blockbuster hook: each notes a Call in ``observed``."""

    def __init__(self, folder: Path, endpoint: str) -> None:
        self.folders = (str(folder),)
        self.endpoint = endpoint
        self.observed: Observed | None = None
        self.real_asyncio_sleep = asyncio.sleep
        self.pending = threading.local()
        self.outer: set[str] = set()  # the names of the functions that called the diagnosis

    def call_here(self, name: str, frame: FrameType | None, kind: str, seconds: float | None) -> Call | None:
        obs = self.observed
        place = learner_place(frame, self.folders)
        if obs is None or place is None:
            return None
        try:
            on_loop = asyncio.get_running_loop() is not None
        except RuntimeError:
            on_loop = False
        pool, size = (None, None) if on_loop else pool_of(frame, threading.current_thread().name)
        after = obs.answered_at is not None
        place.chain = self.trim(place.chain)
        role = "endpoint" if place.chain[0] == self.endpoint else ("background task" if after else "dependency")
        return Call(
            call=name,
            file=place.file,
            line=place.line,
            via=place.chain[1:],
            blocks_loop=on_loop and kind in ("sleep", "blocking"),
            kind=kind if on_loop or kind in ("awaits", "process") else "thread-wait",
            seconds=seconds,
            held_s=seconds if on_loop and kind == "sleep" else None,
            after_answer=after,
            function=place.function,
            function_line=def_line(place.file, place.first_line),
            role=role,
            text=place.text,
            pool=pool,
            pool_size=size,
        )

    def trim(self, chain: list[str]) -> list[str]:
        """The chain without the frames that were already there when the diagnosis began (a
        test calling the pytest plugin lies under the same folder as the app)."""
        kept = list(chain)
        while len(kept) > 1 and kept[0] in self.outer:
            kept.pop(0)
        return kept

    def add(self, call: Call | None) -> None:
        if call is None or self.observed is None:
            return
        known = next((c for c in self.observed.calls if c.key == call.key), None)
        if known is None:
            self.observed.calls.append(call)
            return
        known.times += 1
        if call.held_s is not None:
            known.held_s = (known.held_s or 0.0) + call.held_s

    def time_sleep(self, seconds: float) -> None:
        value = float(seconds) if isinstance(seconds, (int, float)) else None
        self.add(self.call_here("time.sleep", sys._getframe(1), "sleep", value))

    async def asyncio_sleep(self, delay: float, result: Any = None) -> Any:
        value = float(delay) if isinstance(delay, (int, float)) else None
        self.add(self.call_here("asyncio.sleep", sys._getframe(1), "awaits", value))
        return await self.real_asyncio_sleep(0, result)

    def process_submit(self, real: Callable[..., Any]) -> Callable[..., Any]:
        """``ProcessPoolExecutor.submit`` that notes the call site, the pool's size, and how long
        the work took (it runs for real, in the pool's processes: nothing here can shorten it)."""

        def submit(executor: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            call = self.call_here("ProcessPoolExecutor", sys._getframe(1), "process", None)
            future = real(executor, fn, *args, **kwargs)
            if call is not None:
                call.pool, call.pool_size = "process", getattr(executor, "_max_workers", None)
                call.call = f"a process pool: {getattr(fn, '__name__', 'work')}"
                start = time.perf_counter()

                def done(_: Any) -> None:
                    call.seconds = time.perf_counter() - start

                future.add_done_callback(done)
                self.add(call)
            return future

        return submit

    def hook(self, buster: Any) -> Callable[[], None]:
        """Make each of blockbuster's wrapped functions note and time its call instead of raising;
        returns what undoes it."""
        buster.functions.pop("time.sleep", None)  # the stand-in notes it, with its argument
        undo = []
        for name, function in buster.functions.items():
            undo.append((function, function.can_block_predicate, function.original_func))
            function.can_block_predicate = self._predicate(name, function.can_block_predicate)
            if function.original_func is not None:
                function.original_func = self._timed(function.original_func)

        def restore() -> None:
            for function, predicate, original in undo:
                function.can_block_predicate, function.original_func = predicate, original

        return restore

    def _predicate(self, name: str, allowed: Callable[..., bool]) -> Callable[..., bool]:
        def predicate(*args: Any, **kwargs: Any) -> bool:
            if not allowed(*args, **kwargs):
                caller = sys._getframe(2)
                call = self.call_here(name, caller, "blocking", None)
                if call is not None:
                    call.direct = caller.f_code.co_filename == call.file
                self.pending.call = call
            return True  # it runs: timed, never raised

        return predicate

    def _timed(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            call, self.pending.call = getattr(self.pending, "call", None), None
            if call is None:
                return real(*args, **kwargs)
            start = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                call.held_s = call.seconds = time.perf_counter() - start
                if call.direct or call.held_s >= INDIRECT_FLOOR_S:  # a library's own tiny waits are not news
                    self.add(call)

        return timed


def folded(calls: list[Call]) -> list[Call]:
    """A file's buffer flushed when its ``with`` block ends is charged to the ``with`` line: it
    belongs to the write inside the block, the learner's own line."""
    out: list[Call] = []
    for c in calls:
        if c.kind == "blocking" and c.text.startswith("with ") and c.call.startswith("io."):
            later = [w for w in calls if w.kind == "blocking" and w.function == c.function and w.line > c.line]
            target = min(later, key=lambda w: w.line, default=None)
            if target is not None and target.call.startswith("io."):
                target.held_s = (target.held_s or 0.0) + (c.held_s or 0.0)
                target.seconds = target.held_s
                continue
        out.append(c)
    return out


def sampled(
    on_loop: dict[tuple[str, int], Held],
    in_threads: dict[tuple[str, int], Held],
    known: list[Call],
    witness: Witness,
    threads: int | None,
) -> list[Call]:
    """What the watchdog and the thread sampler saw that the stand-ins and wrappers did not
    name: one Call per function for CPU work (a loop's samples land on several of its lines:
    the busiest names it), one per line for a wait."""
    seen = {(c.file, c.line) for c in known}
    out: list[Call] = []
    for held, loop in ((on_loop, True), (in_threads, False)):
        groups: dict[tuple[str, ...], list[Held]] = {}
        for key, h in held.items():
            if key in seen or h.seconds <= 0:
                continue
            cpu = h.cpu_seconds >= CPU_SHARE * h.seconds
            group = (h.place.file, h.place.function) if cpu else (h.place.file, str(h.place.line))
            groups.setdefault(group, []).append(h)
        for members in groups.values():
            top = max(members, key=lambda h: h.samples)
            seconds = sum(h.seconds for h in members)
            if seconds < MIN_SAMPLED_S:  # the tail of a hold, caught on its way out
                continue
            cpu = sum(h.cpu_seconds for h in members) >= CPU_SHARE * seconds
            kind = ("cpu-loop" if cpu else "blocking") if loop else ("cpu-threads" if cpu else "thread-wait")
            place = top.place
            chain = witness.trim(place.chain)
            out.append(
                Call(
                    call="CPU work" if cpu else "a blocking call",
                    file=place.file,
                    line=place.line,
                    via=chain[1:],
                    blocks_loop=loop,
                    kind=kind,
                    seconds=seconds,
                    held_s=seconds if loop else None,
                    function=place.function,
                    function_line=def_line(place.file, place.first_line),
                    role="endpoint" if chain[0] == witness.endpoint else "dependency",
                    text=place.text,
                    pool=top.pool,
                    pool_size=top.pool_size if top.pool != "anyio" else threads,
                    times=max(h.times for h in members),
                )
            )
    return out


def short(file: str, folder: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(file).relative_to(folder))
    return file
