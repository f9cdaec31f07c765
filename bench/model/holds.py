"""What held the event loop during a run, per place in the code: the loop watchdog's holds, summed.

Each hold the watchdog saw (``bench.lab.watchdog``) is shared among the places its samples
found the learner's code at. Summed over a run: per place, how many holds it was in, how
long in all, and so per hold and per request. CPU work is summed per function (a loop's
samples land on several of its lines; the busiest names it), a wait per line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from bench.model.base import Record

CPU_SHARE = 0.5  # a place that burnt at least this share of its time on the CPU is CPU work
SHOWN = 5  # the places a report names, the longest first


class LoopHeld(Record):
    """One place that held the event loop in a run."""

    file: str
    line: int
    function: str
    chain: list[str]
    text: str
    kind: Literal["blocking call", "CPU on the loop"]
    times: int  # holds it was in
    seconds: float  # in all
    per_request_s: float | None = None  # seconds ÷ the requests of the run

    @property
    def per_hold_s(self) -> float:
        return self.seconds / self.times if self.times else 0.0

    def sentence(self) -> str:
        where = f"{Path(self.file).name}:{self.line}"
        each = f"{self.per_hold_s:.2f} s each" if self.times > 1 else f"{self.seconds:.2f} s"
        per = f", {self.per_request_s:.2f} s per request" if self.per_request_s is not None else ""
        times = f"{self.times} times" if self.times != 1 else "once"
        return f"held the loop {times}, {each}{per} at {where} `{self.text}` ({self.kind})"


def summarise(lines: Sequence[dict[str, Any]], requests: int) -> list[LoopHeld]:
    """The holds (the watchdog's JSON lines) summed per place; the longest first, at most ``SHOWN``."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    holds: dict[tuple[str, str], set[int]] = {}
    for index, hold in enumerate(lines):
        for place in hold.get("places", []):
            cpu = place["cpu_seconds"] >= CPU_SHARE * place["seconds"]
            key = (place["file"], place["function"] if cpu else str(place["line"]))
            groups.setdefault(key, []).append(place)
            holds.setdefault(key, set()).add(index)
    out = []
    for key, places in groups.items():
        seconds = sum(p["seconds"] for p in places)
        cpu = sum(p["cpu_seconds"] for p in places) >= CPU_SHARE * seconds
        top: dict[str, Any] = max(places, key=lambda p: p["seconds"])
        out.append(
            LoopHeld(
                file=top["file"],
                line=top["line"],
                function=top["function"],
                chain=top["chain"],
                text=top["text"],
                kind="CPU on the loop" if cpu else "blocking call",
                times=len(holds[key]),
                seconds=seconds,
                per_request_s=seconds / requests if requests else None,
            )
        )
    out.sort(key=lambda h: -h.seconds)
    return out[:SHOWN]
