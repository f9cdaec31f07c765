"""The load Locust fires at a variant (``bench locust`` passes this file to Locust).

FastHttpUser, not HttpUser: about 3.6 times the throughput here. Each push uses a new
token that carries the moment it was sent (``bench.locust.tokens``), so the
harness can tell from the ledger alone when each request's work finished relative to
when it was sent: Locust itself never sees background work complete. Requests are
named by variant, so runs against several variants stay apart in Locust's tables.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable
from typing import Any

from locust import FastHttpUser, constant, constant_pacing, task

from bench import contract
from bench.locust import tokens


def _wait_time() -> Callable[[Any], float]:
    # Each user starts one task every BENCH_LOCUST_PACE seconds (1 by default), however long
    # the answer takes, like a person who reloads once a second; 0: no wait at all, every
    # user fires as fast as the server answers.
    pace = float(os.environ.get(contract.LOCUST_PACE, "1"))
    return constant(0) if pace <= 0 else constant_pacing(pace)


class PushUser(FastHttpUser):
    wait_time = _wait_time()

    def on_start(self) -> None:
        self.variant = os.environ.get(contract.VARIANT, "server")
        self.me = secrets.token_hex(3)
        self.numbers = itertools.count(1)
        self.health()  # every user looks at the server once before its first push, as a page load would

    @task(10)
    def push(self) -> None:
        token = tokens.make(self.me, next(self.numbers))
        self.client.get(contract.PUSH_PATH.format(token=token), name=f"/push/[token] {self.variant}")

    @task(1)
    def health(self) -> None:
        self.client.get("/health", name=f"/health {self.variant}")
