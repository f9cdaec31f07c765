"""An app under the loop watchdog: what uvicorn serves in every real run, the lab's own servers and the learner's.

``uvicorn --factory bench.lab.watched:app`` (or ``_bench_diagnosis.watched:app`` under the
learner's Python) serves the app named by ``BENCH_WATCHED_APP`` (``module:attr``, built by
calling it when ``BENCH_WATCHED_FACTORY`` is 1), unchanged, and starts a
``watchdog.Watchdog`` on uvicorn's running loop. Each hold longer than the threshold is one JSON
line in ``BENCH_WATCHDOG_LOG/watchdog-PID.jsonl`` (one file per worker process); the harness
reads them after the run (``bench.lab.holds``). The learner's frames are those under the
folders of ``BENCH_WATCHDOG_FOLDERS``.

The target is imported when uvicorn calls the factory, so that importing this module costs
nothing and an app that fails to import fails as it would under uvicorn alone. Standard
library and relative imports only.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
from typing import Any

from .watchdog import HoldLog, Watchdog

WATCHED_APP = "BENCH_WATCHED_APP"
WATCHED_FACTORY = "BENCH_WATCHED_FACTORY"
WATCHDOG_LOG = "BENCH_WATCHDOG_LOG"
WATCHDOG_FOLDERS = "BENCH_WATCHDOG_FOLDERS"
LOG_PATTERN = "watchdog-*.jsonl"


def _target() -> Any:
    module_name, _, attr = os.environ[WATCHED_APP].partition(":")
    found: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        found = getattr(found, part)
    if os.environ.get(WATCHED_FACTORY) == "1":
        found = found()
    return found


def _start(loop: Any) -> Watchdog:
    folders = [f for f in os.environ.get(WATCHDOG_FOLDERS, "").split(os.pathsep) if f]
    log = os.path.join(os.environ.get(WATCHDOG_LOG, "."), f"watchdog-{os.getpid()}.jsonl")
    watchdog = Watchdog(folders, on_hold=HoldLog(log))
    watchdog.start(loop)
    return watchdog


class _Watched:
    """The app wrapped, for a server that builds it before its loop runs: the watchdog starts on the first call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.watchdog: Watchdog | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.watchdog is None:
            self.watchdog = _start(asyncio.get_running_loop())
        await self.inner(scope, receive, send)


def _first_request_imports() -> None:
    """anyio imports its asyncio backend when it is first used: by the first request that runs
    anything in the thread pool or as a background task (some 20 ms of CPU on this lab's
    machine). Imported here, at startup, so that no measured request pays for it."""
    with contextlib.suppress(ImportError):  # an app without anyio (not Starlette's): nothing to do
        importlib.import_module("anyio._backends._asyncio")


def app() -> Any:
    """The factory uvicorn calls (``--factory``): uvicorn builds the app inside its running
    loop, so the watchdog starts on it here and the app is served as it is, not wrapped,
    costing its requests nothing."""
    inner = _target()
    _first_request_imports()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _Watched(inner)
    _start(loop)
    return inner
