"""Errors the user can fix: reported as one or two lines, exit code 2, no traceback."""

from __future__ import annotations

USAGE_EXIT_CODE = 2


class BenchError(Exception):
    """Bad input or a missing prerequisite, with a message that says what and where."""
