"""A blocking call found in a learner's app, as the run document records it (``bench.model.ownapp``)."""

from __future__ import annotations

from bench.model.base import Record


class FoundCall(Record):
    call: str  # e.g. time.sleep
    file: str
    line: int
    via: list[str]  # the learner's functions between the endpoint and the call
    blocks_loop: bool
    seconds: float | None = None  # a sleep's argument: the work's duration, as written
    after_answer: bool = False
