"""Noticing that the harness itself stood still: SIGSTOP, a closed laptop lid, a suspended VM.

A stalled harness sends nothing and reads nothing, while the server's clock goes on: the
requests it was timing look slow, or time out, for reasons that are not the server's. A
ticker on the harness's own event loop measures how late each of its wakes is (the
monotonic clock runs on while a process is stopped); a wake later than ``STALL_S`` means
the measurement was disturbed, and the variant says so instead of being judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

TICK_S = 0.05
STALL_S = 1.0  # a busy 2-core machine delays a wake by tens of ms; a second is the harness stopped


@dataclass
class Stalls:
    longest_s: float = 0.0  # the longest the harness stood still, beyond its tick

    @property
    def disturbed(self) -> bool:
        return self.longest_s >= STALL_S

    def said(self) -> str:
        return (
            f"the harness itself stood still for {self.longest_s:.1f} s during the measurement (it was stopped "
            "or suspended): its timings are not the server's, so its claims are not judged; run it again"
        )


@contextlib.asynccontextmanager
async def watching() -> AsyncIterator[Stalls]:
    """Within the block, ``Stalls.longest_s`` is the longest late wake of the ticker."""
    stalls = Stalls()

    async def tick() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(TICK_S)
            stalls.longest_s = max(stalls.longest_s, time.monotonic() - before - TICK_S)

    ticker = asyncio.create_task(tick())
    try:
        yield stalls
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
