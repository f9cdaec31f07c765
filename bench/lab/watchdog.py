"""A loop watchdog: what holds the event loop, where, and for how long, seen from another thread.

Pure standard library, no imports of the harness: it runs in the learner's own interpreter
(handed to it with the diagnosis) as well as in the lab's servers.

How it works. A heartbeat callback on the event loop notes the time every ``BEAT_S``. A
thread of its own wakes every ``PERIOD_S``: while the heartbeat is late by more than the
threshold, the loop is held (nothing else can run on it), and the thread samples the loop
thread's stack (``sys._current_frames()``). When the heartbeat comes back the hold is over:
its length is known to within a beat, and it is shared among the places the samples saw, in
proportion. A place is the learner's innermost frame (file, line, function) with the chain
of the learner's functions that led to it: it names CPU loops, C calls that keep the GIL and
blocking calls no wrapper knows (a sync HTTP client, ``subprocess.run``) alike. The loop
thread's CPU clock tells which: a hold that burnt CPU is work on the loop, one that did not
is a wait (a blocking call).

``ThreadSampler`` does the same for every other thread while one request is diagnosed: CPU
work in worker threads, which the GIL serialises, shows there.
"""

from __future__ import annotations

import json
import linecache
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from types import FrameType
from typing import Any

BEAT_S = 0.01  # the heartbeat's period on the loop
LOOK_S = 0.01  # how often the watchdog looks at the heartbeat
PERIOD_S = 0.005  # how often it samples during a hold
THRESHOLD_S = 0.02  # a loop late by more than this is held
CPU_SHARE = 0.5  # a hold that burnt at least this share of its time on the CPU is CPU work


@dataclass
class Place:
    """Where the learner's code was when a sample was taken."""

    file: str
    line: int
    function: str  # the innermost of the learner's functions, where the line is
    chain: list[str]  # the learner's functions from the outermost to the innermost
    text: str  # the line's source, stripped
    first_line: int = 0  # where the function's code starts (its first decorator)

    @property
    def key(self) -> tuple[str, int]:
        return (self.file, self.line)


@dataclass
class Held:
    """One place's share of the loop's (or a thread's) time."""

    place: Place
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    times: int = 0  # holds (or samples, for threads) it was seen in
    samples: int = 0
    pool: str | None = None  # for a worker thread: "anyio", "default executor", "executor"
    pool_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self.place), "seconds": self.seconds, "cpu_seconds": self.cpu_seconds, "times": self.times}


def learner_place(frame: FrameType | None, folders: tuple[str, ...]) -> Place | None:
    """The learner's innermost frame on this stack, and the chain of theirs above it."""
    mine: list[FrameType] = []
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(folders) and not name.startswith(_HERE) and _not_installed(name, folders):
            mine.append(frame)
        frame = frame.f_back
    if not mine:
        return None
    inner = mine[0]
    file, line = inner.f_code.co_filename, inner.f_lineno or 0
    text = linecache.getline(file, line).strip()
    code, hash_, _ = text.partition("  #")  # a trailing comment is not the code
    text = code.rstrip() if hash_ and code.count('"') % 2 == 0 and code.count("'") % 2 == 0 else text
    chain = [f.f_code.co_name for f in reversed(mine)]
    return Place(file, line, inner.f_code.co_name, chain, text, inner.f_code.co_firstlineno)


def _not_installed(name: str, folders: tuple[str, ...]) -> bool:
    """Not a package installed under one of the folders (a venv inside the learner's project);
    a folder that is itself inside site-packages (the lab's servers, installed) is theirs."""
    return any(name.startswith(f) and "site-packages" not in name[len(f) :] for f in folders)


_HERE = os.path.dirname(os.path.abspath(__file__))
_sleep = time.sleep  # the real one: the diagnosis replaces time.sleep with a stand-in that does not wait


def _cpu_clock(thread_id: int) -> Callable[[], float] | None:
    """The CPU clock of a thread (Linux and most Unixes); None where there is none."""
    try:
        clock = time.pthread_getcpuclockid(thread_id)
        time.clock_gettime(clock)
    except (AttributeError, OSError, OverflowError):
        return None
    return lambda: time.clock_gettime(clock)


class Watchdog:
    """Watches one event loop from a thread of its own; ``on_hold`` gets each hold's places."""

    def __init__(
        self,
        folders: Iterable[str],
        threshold_s: float = THRESHOLD_S,
        on_hold: Callable[[float, float, list[Held]], None] | None = None,
    ) -> None:
        self.folders = tuple(os.path.abspath(f) + os.sep for f in folders)
        self.threshold_s = threshold_s
        self.on_hold = on_hold
        self.held: dict[tuple[str, int], Held] = {}  # every hold's places, summed
        self.holds = 0
        self.held_s = 0.0
        self.beat = time.monotonic()
        self.loop: Any = None
        self.loop_thread = 0
        self.cpu: Callable[[], float] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, loop: Any) -> None:
        """Start watching ``loop``; call it from the loop's own thread."""
        self.loop, self.loop_thread = loop, threading.get_ident()
        self.cpu = _cpu_clock(self.loop_thread)
        self.beat = time.monotonic()
        loop.call_soon(self._beat)
        self._thread = threading.Thread(target=self._watch, name="bench-loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(1.0)

    def _beat(self) -> None:
        self.beat = time.monotonic()
        if not self._stop.is_set():
            self.loop.call_later(BEAT_S, self._beat)

    def _watch(self) -> None:
        while not self._stop.wait(LOOK_S):
            if time.monotonic() - self.beat - BEAT_S > self.threshold_s:
                self._follow_hold()

    def _follow_hold(self) -> None:
        last_beat = self.beat
        seen: dict[tuple[str, int], Held] = {}
        shares: dict[tuple[str, int], list[float]] = {}  # per place: CPU seconds, wall seconds sampled
        samples, unplaced = 0, 0.0  # unplaced: wall time sampled outside the learner's code
        clock_before, cpu_before = time.monotonic(), (self.cpu() if self.cpu else 0.0)
        while self.beat == last_beat and not self._stop.is_set():
            frame = sys._current_frames().get(self.loop_thread)
            place = learner_place(frame, self.folders)
            frame = None
            now, cpu_now = time.monotonic(), (self.cpu() if self.cpu else 0.0)
            samples += 1
            if place is not None:
                entry = seen.setdefault(place.key, Held(place))
                entry.samples += 1
                share = shares.setdefault(place.key, [0.0, 0.0])
                share[0] += cpu_now - cpu_before
                share[1] += now - clock_before
            else:
                unplaced += now - clock_before
            clock_before, cpu_before = now, cpu_now
            _sleep(PERIOD_S)
        seconds = max(0.0, self.beat - last_beat - BEAT_S)  # the hold: from its last beat to the next
        self.holds += 1
        self.held_s += seconds
        sampled = sum(wall for _, wall in shares.values()) + unplaced
        for key, entry in seen.items():
            cpu, wall = shares[key]
            entry.seconds = seconds * wall / sampled if sampled > 0 else 0.0
            entry.cpu_seconds = entry.seconds * min(1.0, cpu / wall) if self.cpu and wall > 0 else 0.0
            entry.times = 1
            total = self.held.setdefault(key, Held(entry.place))
            total.seconds += entry.seconds
            total.cpu_seconds += entry.cpu_seconds
            total.times += 1
            total.samples += entry.samples
        if self.on_hold is not None:
            self.on_hold(last_beat, seconds, list(seen.values()))


def pool_of(frame: FrameType | None, thread_name: str) -> tuple[str | None, int | None]:
    """Which thread pool a worker thread belongs to, and its size: anyio's (FastAPI's ``def``
    endpoints, sync dependencies and background tasks), asyncio's default executor
    (``to_thread``, ``run_in_executor(None, ...)``) or another ``ThreadPoolExecutor``."""
    while frame is not None:
        code = frame.f_code
        name = code.co_filename.replace("\\", "/")
        if name.endswith("concurrent/futures/thread.py") and code.co_name == "_worker":
            ref = frame.f_locals.get("executor_reference")
            executor = ref() if callable(ref) else None
            size = getattr(executor, "_max_workers", None)
            kind = "default executor" if thread_name.startswith("asyncio_") else "executor"
            return kind, size if isinstance(size, int) else None
        if "/anyio/" in name and code.co_name == "run":
            return "anyio", None
        frame = frame.f_back
    return None, None


class ThreadSampler:
    """Samples every thread but the loop's and its own while one request is diagnosed: where
    the learner's code ran in worker threads, for how long, and whether on the CPU."""

    def __init__(self, folders: Iterable[str], skip: Iterable[int] = ()) -> None:
        self.folders = tuple(os.path.abspath(f) + os.sep for f in folders)
        self.skip = set(skip)
        self.held: dict[tuple[str, int], Held] = {}
        self._clocks: dict[int, Callable[[], float] | None] = {}
        self._last_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-thread-sampler", daemon=True)

    def start(self) -> None:
        self.skip.add(threading.get_ident())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1.0)

    def _run(self) -> None:
        self.skip.add(threading.get_ident())
        last = time.monotonic()
        while not self._stop.wait(PERIOD_S):
            now = time.monotonic()
            step, last = now - last, now
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in list(sys._current_frames().items()):
                if ident in self.skip:
                    continue
                place = learner_place(frame, self.folders)
                cpu = self._cpu_step(ident)
                if place is None:
                    continue
                if place.key not in self.held:
                    pool, size = pool_of(frame, names.get(ident, ""))
                    self.held[place.key] = Held(place, pool=pool, pool_size=size)
                entry = self.held[place.key]
                entry.seconds += step
                entry.cpu_seconds += min(cpu, step)
                entry.samples += 1
                entry.times = 1
            del frame  # no frame kept alive between samples

    def _cpu_step(self, ident: int) -> float:
        if ident not in self._clocks:
            self._clocks[ident] = _cpu_clock(ident)
        clock = self._clocks[ident]
        if clock is None:
            return 0.0
        try:
            now = clock()
        except OSError:  # the thread has ended
            return 0.0
        before = self._last_cpu.get(ident, now)
        self._last_cpu[ident] = now
        return now - before


@dataclass
class HoldLog:
    """Each hold as one JSON line in a file of the run (the lab's servers and ``bench run --app``)."""

    path: str
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, start: float, seconds: float, places: list[Held]) -> None:
        at = time.time() - (time.monotonic() - start)  # the wall clock, as the run's requests
        line = json.dumps({"at": at, "seconds": seconds, "places": [p.to_json() for p in places]})
        with self.lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
