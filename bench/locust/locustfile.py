"""The load Locust fires at a variant (``bench locust`` passes this file to Locust).

FastHttpUser, not HttpUser: about 3.6 times the throughput here. Each push uses a new
token that carries the moment it was sent (``bench.locust.tokens``), so the
harness can tell from the ledger alone when each request's work finished relative to
when it was sent: Locust itself never sees background work complete. Requests are
named by variant, so runs against several variants stay apart in Locust's tables.
"""

from __future__ import annotations

import itertools
import json
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


def _request() -> dict[str, Any]:
    """What each push sends: the lab's GET /push/{token}, or an own app's request (its JSON)."""
    given = os.environ.get(contract.LOCUST_REQUEST)
    if given:
        return dict(json.loads(given))
    return {"method": "GET", "path": contract.PUSH_PATH, "headers": [], "body": "", "health": True}


class PushUser(FastHttpUser):
    wait_time = _wait_time()

    def on_start(self) -> None:
        self.variant = os.environ.get(contract.VARIANT, "server")
        self.me = secrets.token_hex(3)
        self.numbers = itertools.count(1)
        self.request = _request()
        self.label = f"{tokens.name_of(self.request['path'])} {self.variant}"
        if self.request.get("health"):
            self.health()  # every user looks at the server once before its first push, as a page load would

    @task(10)
    def push(self) -> None:
        token = tokens.make(self.me, next(self.numbers))
        r = self.request
        headers = {k: v.replace("{token}", token) for k, v in r["headers"]}
        body = r["body"].replace("{token}", token).encode() if r["body"] else None
        path = r["path"].replace("{token}", token)
        self.client.request(r["method"], path, name=self.label, headers=headers or None, data=body)

    @task(1)
    def health(self) -> None:
        if self.request.get("health"):  # an own app has no /health: it is never asked for one
            self.client.get(contract.HEALTH_PATH, name=f"{contract.HEALTH_PATH} {self.variant}")
