"""The two kinds of error a command ends on without a traceback (``bench.cli.status`` maps them to exit codes).

- ``BenchError``: bad input or a missing prerequisite, the user's to fix (exit 2);
- ``RunFailed``: the input was fine but the run could not be made (exit 1): nothing
  listens on the URL, every request failed.
"""

from __future__ import annotations


class BenchError(Exception):
    """Bad input or a missing prerequisite, with a message that says what and where."""


class RunFailed(Exception):
    """The measurement could not be made; the message says why, in one line."""


def one_line(error: str | None) -> str:
    """An error in one line. One that ends by announcing a log's last lines ("…; last lines of
    server.log:") ends with the last of them instead, which is where the server said why."""
    lines = [line.strip() for line in (error or "failed to run").splitlines() if line.strip()] or ["failed"]
    first = lines[0]
    if first.endswith(":") and len(lines) > 1:
        return f"{first[:-1]}, ending: {lines[-1]}"
    return first


def quoted(text: str) -> str:
    """What the user typed, as an error message quotes it: every control character escaped
    (a newline too), so the message keeps its one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
