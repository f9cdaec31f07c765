"""One way to fire a load of any shape with any client: the lab's runs and ``bench load`` both call ``fire``.

A ``LoadShape`` says what to send (the pattern and its numbers); ``fire`` picks the
pattern's function and the client (the raw client's closed and open loops have their own
fast paths, ``bench.engine.pump`` and ``bench.engine.open_pump``; the browser opens tabs, for
bursts only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bench.engine.browser import browser_burst
from bench.engine.clients import make_client
from bench.engine.http import GET
from bench.engine.load import Request, Sample, burst, closed_loop, open_loop
from bench.engine.open_pump import open_loop_raw
from bench.engine.pump import Answered, closed_loop_raw
from bench.model.events import LoadObserver, no_load_observer
from bench.model.request import RequestSpec
from bench.model.scenario import RunClient

Pattern = Literal["burst", "closed", "open"]


@dataclass(frozen=True)
class LoadShape:
    """What one load sends.

    ``concurrency`` is read by the pattern: a burst opens that many tabs (one request
    each), a closed loop keeps that many connections busy, an open loop may open at most
    that many connections for its arrivals.
    """

    pattern: Pattern
    concurrency: int
    timeout_s: float
    gap_s: float = 0.0  # burst: between two tabs' arrivals
    duration_s: float | None = None
    total: int | None = None
    rate: float | None = None  # open loop: requests started per second
    per_connection: bool = False  # open loop, raw client: wrk2's schedule (a queue per connection)

    def __post_init__(self) -> None:
        if self.pattern == "open" and self.rate is None:
            raise ValueError("an open loop needs a rate")


async def fire(
    shape: LoadShape,
    client: RunClient,
    host: str,
    port: int,
    next_request: Callable[[int], Request],
    observe: LoadObserver = no_load_observer,
    sink: Callable[[Sample], None] | None = None,
    observe_sent: bool = True,
    spec: RequestSpec = GET,
    hard_limits: bool = False,
    answered: Answered | None = None,
) -> list[Sample]:
    """Send ``shape``'s requests (``next_request(i)`` gives the i-th) and return their samples.

    With ``sink`` every sample of a closed or open loop goes there as it completes (the
    list returned is then empty): a long load keeps constant memory. ``observe_sent=False``
    spares the raw closed loop its per-request 'sent' call when nobody needs it. ``spec``: the
    method, headers and body of every request (the browser sends plain GETs only). ``hard_limits``
    (``bench load``): the duration ends the load at its deadline, what is in flight then is
    cancelled, and a total counts answers (the lab's runs instead await their last requests).
    ``answered`` (a ``LoadRecorder``'s): the raw closed loop's answers go there without a ``Sample``."""
    if client == "browser":
        if shape.pattern != "burst" or not spec.plain_get:
            raise ValueError("the browser opens tabs: it fires bursts of plain GETs only")
        requests = [next_request(i) for i in range(shape.concurrency)]
        return await browser_burst(host, port, requests, shape.gap_s, shape.timeout_s, observe)
    if shape.pattern == "closed" and client == "raw":
        return await closed_loop_raw(
            host,
            port,
            next_request,
            shape.concurrency,
            shape.duration_s,
            shape.total,
            shape.timeout_s,
            observe,
            observe_sent=observe_sent,
            sink=sink,
            spec=spec,
            hard_limits=hard_limits,
            answered=answered,
        )
    if shape.pattern == "open" and client == "raw":
        assert shape.rate is not None
        return await open_loop_raw(
            host,
            port,
            next_request,
            shape.rate,
            shape.duration_s,
            shape.total,
            shape.timeout_s,
            shape.concurrency,
            observe,
            sink=sink,
            spec=spec,
            hard_limits=hard_limits,
            per_connection=shape.per_connection,
        )
    if shape.per_connection:
        raise ValueError("a schedule per connection is the raw client's open loop only")
    http = make_client(client, host, port, max_connections=shape.concurrency, spec=spec)
    try:
        if shape.pattern == "burst":
            requests = [next_request(i) for i in range(shape.concurrency)]
            return await burst(http, requests, shape.gap_s, shape.timeout_s, observe)
        if shape.pattern == "closed":
            return await closed_loop(
                http, next_request, shape.concurrency, shape.duration_s, shape.total, shape.timeout_s, observe, sink
            )
        assert shape.rate is not None
        return await open_loop(
            http,
            next_request,
            shape.rate,
            shape.duration_s,
            shape.total,
            shape.timeout_s,
            shape.concurrency,
            observe,
            sink,
            hard_limits,
        )
    finally:
        await http.aclose()
