"""Device tokens that carry the moment their request was sent (used by the Locust load).

Locust never sees background work finish; the ledger does, but only knows tokens. A
token ``l<microseconds since the epoch>-<user><n>`` lets the harness compute each
request's done time from the ledger alone. Kept apart from the locustfile so that the
harness never imports Locust (which monkey-patches the process with gevent).
"""

from __future__ import annotations

import time

PREFIX = "l"


def make(user: str, number: int) -> str:
    return f"{PREFIX}{time.time_ns() // 1000}-{user}{number}"


def name_of(path: str) -> str:
    """The name Locust files a push under: its path with ``[token]`` for the token."""
    return path.replace("{token}", "[token]")


def sent_at(token: str) -> float | None:
    """The wall-clock send time the token carries, or None for other tokens."""
    head = token.split("-", 1)[0]
    if not head.startswith(PREFIX) or not head[1:].isdigit():
        return None
    return int(head[1:]) / 1_000_000
