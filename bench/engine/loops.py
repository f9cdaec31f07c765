"""Which event loop the harness's client runs on: uvloop when installed, else asyncio's."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


def loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Like ``asyncio.run`` (Ctrl-C cancels ``main``, then raises KeyboardInterrupt), on uvloop if present."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """What is alive now is left out of the garbage collector's passes until the block ends.

    A load allocates a few objects per request, which triggers collections; each one of the
    oldest generation would walk every object the imports made (pydantic, rich: hundreds of
    thousands), a few per cent of a fast load's time. ``gc.freeze`` leaves them out."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
