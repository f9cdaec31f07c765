"""A variant's servers stopped while the next variant starts.

Once a variant's work is done (or given up) and its figures are read, stopping its web server
(0.2 s: uvicorn's graceful shutdown), its Celery worker and its broker measures nothing. Inside
``deferred()`` (a run; a tour, across its lessons) that stopping goes on in the background
while the next variant launches; the next variant waits for it to finish (``settled``) before
it measures anything, so no stopping server shares the machine with a measurement. The block
does not end before every server it deferred has stopped, however it ends (Ctrl-C included:
each stop then finishes synchronously, see ``stop_async``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar


class _Pending:
    def __init__(self) -> None:
        self.tasks: set[asyncio.Future[None]] = set()

    async def settled(self) -> None:
        """Every deferred stop done. A stop that failed after its variant was measured changes
        none of its figures: it is not the next variant's failure."""
        while self.tasks:
            done, _ = await asyncio.wait(set(self.tasks))
            self.tasks -= done
            for task in done:
                if not task.cancelled():
                    task.exception()  # retrieved: asyncio does not report it as never retrieved


_PENDING: ContextVar[_Pending | None] = ContextVar("bench_deferred_teardowns", default=None)


@contextlib.asynccontextmanager
async def deferred() -> AsyncIterator[None]:
    """Stops deferred in the block are done when it ends; inside another such block, that one's."""
    if _PENDING.get() is not None:
        yield
        return
    pending = _PENDING.set(_Pending())
    try:
        yield
    finally:
        current = _PENDING.get()
        _PENDING.reset(pending)
        if current is not None:
            await current.settled()


async def stop_later(stack: contextlib.AsyncExitStack) -> bool:
    """Close ``stack`` (a variant's servers) in the background inside ``deferred()`` (True); else now."""
    pending = _PENDING.get()
    if pending is None:
        await stack.aclose()
        return False
    pending.tasks.add(asyncio.ensure_future(stack.aclose()))
    return True


async def settled() -> None:
    """Wait for the stops deferred so far (before a variant measures)."""
    pending = _PENDING.get()
    if pending is not None:
        await pending.settled()
