"""What the run document records of a learner's app: each blocking call found in it
(``bench.model.ownapp``), and the Python it ran under."""

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


class Interpreter(Record):
    """A Python an app ran under: the harness's own, or the learner's (``--python``, a venv beside the app)."""

    path: str
    python: str
    prefix: str
    packages: dict[str, str | None]
