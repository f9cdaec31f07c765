"""d of a learner's app: as its code writes it, when that is all of its work, else one request alone.

The diagnosis stands in for the app's sleeps (they return at once) and times the rest of the
request. When the work is one sleep and the rest took next to nothing, d is the sleep's
argument, and the run spends no d measuring it (10 s per app at the tutorial's scale).
Otherwise one request is sent alone before the load and d is what it took.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.engine.http import Connection
from bench.engine.load import WallClock
from bench.engine.processes import HOST, LaunchError
from bench.lab.ledger import LedgerWatcher
from bench.model import metrics
from bench.model.document import VariantResult
from bench.model.ownapp import negligible
from bench.model.scenario import OwnApp, Variant

MEASURE_TIMEOUT_S = 120.0  # one request alone may take this long
AFTER_ANSWER_MARKER_S = 0.5  # an app that answers after its work has written its marker by then
SLEEP_KINDS = ("sleep", "awaits", "thread-wait")  # time.sleep, asyncio.sleep, time.sleep in a thread
REST_SHARE = 0.02  # the rest of the request, at most this share of the sleep: d is the sleep


@dataclass(frozen=True)
class Written:
    d: float | None  # None: the code writes one, but the rest of the request was too long to take it
    said: str  # the note the run keeps


def as_written(own: OwnApp, answers: str | None) -> Written | None:
    """d from the code, when the diagnosis found one sleep and the rest of one request took next to
    nothing, and the answer waits for the work (work done after the answer needs its done marker
    seen once, alone: a pattern that never matches must make done unknown, not lost). A sleep
    found with too long a rest is said too (``d`` None): the run says why it measured d alone."""
    if answers != "after-work" or own.rest_s is None:
        return None
    timed = [c for c in own.diagnosis if c.seconds is not None and not negligible(c)]  # not a log line's write
    if len(timed) != 1 or timed[0].kind not in SLEEP_KINDS or own.seconds_written != timed[0].seconds:
        return None
    d = timed[0].seconds
    if d is None or d <= 0:
        return None
    waited = f", and {own.cpu_wait_s * 1000:.1f} ms waiting for a busy CPU" if own.cpu_wait_s >= 0.001 else ""
    took = f"the rest of one request took {own.rest_s * 1000:.1f} ms in the diagnosis{waited}"
    where = f"{timed[0].call} at {timed[0].file}:{timed[0].line}"
    if own.rest_s > REST_SHARE * d:
        return Written(None, f"d measured alone, not taken from the code ({where}): {took}, over {REST_SHARE:.0%} of d")
    return Written(d, f"d = {d:g} s as the code writes it ({where}; {took}): not measured alone")


def observable_alone(
    own: OwnApp, variant: Variant, watcher: LedgerWatcher, solo: str, result: VariantResult, observable: bool
) -> bool:
    """After one request alone: does its done marker show? If not, done times are unknown, never lost."""
    if observable and variant.answers == "after-work" and not watcher.found.get(solo):
        result.notes.append(
            f"the done marker ({own.done_file}, a line with {own.done_pattern!r}) did not show the work "
            f"of one request alone: done times are unknown (answers are measured)"
        )
        return False  # d was its answer's time; the marker never showed
    if result.work_s is None and observable:
        result.notes.append(
            f"the done marker ({own.done_file}, a line with {own.done_pattern!r}) never showed the work "
            f"of one request alone within {marker_wait_s(own):g} s: done times are unknown"
        )
        return False
    return observable


def observable_under_load(variant: Variant, watcher: LedgerWatcher, accepted: list[str], result: VariantResult) -> bool:
    """d was not measured alone: the load's own answers say whether the done marker shows."""
    own = variant.own
    if own is None or not accepted or any(watcher.found.get(t) for t in accepted):
        return True
    result.notes.append(
        f"the done marker ({own.done_file}, a line with {own.done_pattern!r}) showed the work of none of the "
        f"{len(accepted)} requests answered: done times are unknown (answers are measured)"
    )
    return False


async def measure_d(port: int, route: str, token: str, variant: Variant, watcher: LedgerWatcher) -> float | None:
    """d of an own app: one request alone. If the answer waits for the work, the answer's
    time is d; if it comes at once, d is when the done marker showed the work finished. Such
    an app is sent a second request alone right after the first, and d is the smaller: the
    first request to an app pays its cold start (a thread pool to start, imports), some
    10-20 ms that are not the work's."""
    clock = WallClock()
    assert variant.own is not None
    conn = await Connection.open(HOST, port, 10, variant.own.request)
    try:
        response = await conn.send(route.replace("{token}", token), MEASURE_TIMEOUT_S, token)
        second = None
        if variant.answers != "after-work" and metrics.is_success(response.status) and conn.usable:
            again = f"{token}-2"
            second = (again, await conn.send(route.replace("{token}", again), MEASURE_TIMEOUT_S, again))
    finally:
        conn.close()
    path = route.replace("{token}", token)
    if not metrics.is_success(response.status):
        said = response.body[:300].decode(errors="replace").strip()
        raise LaunchError(
            f"{variant.own.request.method} {path} answered {response.status} to one request alone: not a route of "
            f"the app that works{f' ({said})' if said else ''}"
        )
    if variant.answers == "after-work":  # its marker, if it has one, is written before the answer
        await watcher.wait_for([token], AFTER_ANSWER_MARKER_S)
        return response.done - response.sent
    sent = [(token, response)] if second is None else [(token, response), second]
    await watcher.wait_for([t for t, _ in sent], marker_wait_s(variant.own))
    seen = [watcher.found[t][0].end - clock.wall(r.sent) for t, r in sent if watcher.found.get(t)]
    return min(seen) if seen else None


def marker_wait_s(own: OwnApp) -> float:
    """How long one request alone's done marker is waited for: twice the work as the code
    writes it and 5 s more, else 30 s. Never minutes: past that, done times are unknown."""
    return 2 * own.seconds_written + 5 if own.seconds_written else 30.0
