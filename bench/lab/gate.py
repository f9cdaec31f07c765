"""The gate racing attempts wait at (``bench.lab.session`` races the variants whose work only waits)."""

from __future__ import annotations

import asyncio


class Gate:
    """Where racing attempts wait for each other: the load fires at all of them at once, when
    every one is ready (or has failed and left)."""

    def __init__(self, parties: int) -> None:
        self.waiting = parties
        self.opened = asyncio.Event()
        if parties <= 0:
            self.opened.set()

    def leave(self) -> None:
        self.waiting -= 1
        if self.waiting <= 0:
            self.opened.set()

    async def arrive(self) -> None:
        self.leave()
        await self.opened.wait()
