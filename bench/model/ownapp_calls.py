"""What the run document records of a learner's app: each blocking call found in it
(``bench.model.ownapp``), and the Python it ran under."""

from __future__ import annotations

from typing import Literal

from bench.model.base import Record

CallKind = Literal["sleep", "awaits", "blocking", "cpu-loop", "cpu-threads", "thread-wait", "process"]
KIND_WORDS: dict[str, str] = {
    "sleep": "blocking call",
    "blocking": "blocking call",
    "cpu-loop": "CPU on the loop",
    "cpu-threads": "CPU in threads (the GIL)",
    "thread-wait": "waits in a thread",
    "awaits": "awaits",
    "process": "in a process pool",
}


class FoundCall(Record):
    """One call that matters to a request's timing: a sleep, a blocking call, CPU work."""

    call: str  # e.g. time.sleep, io.BufferedWriter.write, CPU work
    file: str
    line: int
    via: list[str]  # the learner's functions between the first of theirs (endpoint, dependency) and the call
    blocks_loop: bool
    seconds: float | None = None  # the work's duration: a sleep's argument, or measured (CPU work, a wait)
    after_answer: bool = False
    kind: CallKind = "sleep"
    held_s: float | None = None  # how long it held the event loop in one request (None: it did not)
    function: str = ""  # the function the line is in
    function_line: int = 0  # its def line
    role: Literal["endpoint", "dependency", "background task"] = "endpoint"
    text: str = ""  # the line's source
    pool: Literal["anyio", "default executor", "executor", "process"] | None = None  # the pool it ran in
    pool_size: int | None = None
    times: int = 1  # calls in one request

    @property
    def is_cpu(self) -> bool:
        return self.kind in ("cpu-loop", "cpu-threads")


class Interpreter(Record):
    """A Python an app ran under: the harness's own, or the learner's (``--python``, a venv beside the app)."""

    path: str
    python: str
    prefix: str
    packages: dict[str, str | None]
