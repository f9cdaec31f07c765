"""A variant's servers stop while the next one starts, and are all stopped when the run ends."""

from __future__ import annotations

import asyncio
import contextlib

from bench.lab import teardown


def _stack(log: list[str], name: str, delay: float = 0.05, fail: bool = False) -> contextlib.AsyncExitStack:
    async def close() -> None:
        await asyncio.sleep(delay)
        log.append(name)
        if fail:
            raise RuntimeError("a stop that failed")

    stack = contextlib.AsyncExitStack()
    stack.push_async_callback(close)
    return stack


def test_inside_a_run_a_stop_goes_on_while_the_next_starts_and_the_run_waits_for_it() -> None:
    log: list[str] = []

    async def run() -> None:
        async with teardown.deferred():
            await teardown.stop_later(_stack(log, "first"))
            log.append("next launched")  # not after the first's stop: beside it
            await teardown.settled()
            log.append("next measures")
            await teardown.stop_later(_stack(log, "second"))
        log.append("run ended")

    asyncio.run(run())
    assert log == ["next launched", "first", "next measures", "second", "run ended"]


def test_outside_a_run_a_stop_is_done_at_once_and_a_failed_stop_is_nobody_elses_failure() -> None:
    log: list[str] = []

    async def run() -> None:
        await teardown.stop_later(_stack(log, "alone"))
        log.append("after")
        async with teardown.deferred():
            async with teardown.deferred():  # a lesson inside a tour: the tour's block settles
                await teardown.stop_later(_stack(log, "lesson", fail=True))
            log.append("next lesson")
            await teardown.settled()  # the failure is not raised here
        log.append("tour ended")

    asyncio.run(run())
    assert log == ["alone", "after", "next lesson", "lesson", "tour ended"]
