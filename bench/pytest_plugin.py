"""A pytest plugin (entry point ``pytest11``): assert that a request does not hold the event loop.

::

    def test_notify_leaves_the_loop_free(assert_loop_free):
        assert_loop_free(app, "/notify/42")                      # GET, at most 0.1 s held
        assert_loop_free(app, "/notes", method="POST", body=b'{"text": "hi"}', max_s=0.01)

The request goes to the ASGI app in process, with the diagnosis of ``bench check``: the
sleeps return at once (their duration is noted), blockbuster's wrapped calls and the loop
watchdog note what holds the loop, on which line of yours (the files under pytest's root
folder, installed packages left out). The assertion's message names the line; the fixture
returns the diagnosis (``bench.model.ownapp.Diagnosis``) for further checks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DEFAULT_MAX_S = 0.1


@pytest.fixture
def assert_loop_free(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """A function ``(app, path, method="GET", body=b"", headers=(), max_s=0.1, folder=None)``
    that fails the test when one request to ``app`` holds the event loop longer than ``max_s``."""
    root = Path(request.config.rootpath)

    def check(
        app: Any,
        path: str,
        method: str = "GET",
        body: bytes = b"",
        headers: tuple[tuple[str, str], ...] = (),
        max_s: float = DEFAULT_MAX_S,
        folder: Path | None = None,
    ) -> Any:
        from bench.lab.diagnose import Request, diagnose_app
        from bench.model.ownapp import Diagnosis, blocking_sentences, endpoint_text, held_per_request

        asked = Request(method=method.upper(), headers=list(headers), body=body)
        raw = diagnose_app(app, path, (folder or root).resolve(), asked)
        diagnosis = Diagnosis.model_validate(raw)
        held = held_per_request(diagnosis)
        if held > max_s:
            lines = [line for line, blocks in blocking_sentences(endpoint_text(diagnosis), diagnosis.calls) if blocks]
            raise AssertionError(
                f"{method.upper()} {path} holds the event loop {held:.3f} s per request"
                f" (at most {max_s:g} s allowed):\n" + "\n".join(f"  {line}" for line in lines)
            )
        return diagnosis

    return check
