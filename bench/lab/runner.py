"""One variant, start to finish: launch, load, wait for the work, tear down, measure.

launcher: the server on a free loopback port, ready by /health (bench.lab.launcher)
load:     the burst of tabs, every request timestamped (bench.engine.load)
ledger:   wait for every accepted unit of work to be recorded done (bench.lab.ledger)
teardown: the whole process group, always (the ``serve`` context manager)
measure:  records -> summary, theory, claims (pure: bench.model.metrics/theory/claims)
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench import contract
from bench.engine.dispatch import fire
from bench.engine.http import GET
from bench.engine.load import Request, Sample
from bench.engine.probe import probing
from bench.engine.processes import HOST, LaunchError
from bench.lab import holds, own_d, stall, teardown
from bench.lab.disrupt import disrupt
from bench.lab.gate import Gate
from bench.lab.interpreter import harness
from bench.lab.launcher import RunningServer, ServerSpec, serve
from bench.lab.ledger import LedgerReader, LedgerWatcher, MarkerReader, WorkRecord
from bench.lab.ownapp import module_and_folder
from bench.lab.plan import RunPlan, unfinished_result, work_env
from bench.lab.sidecars import Sidecars, sidecars
from bench.model import claims, metrics, repeats
from bench.model.document import ClaimResult, RequestRecord, Summary, VariantResult, run_name
from bench.model.events import Events, PhaseChanged, TheoryKnown, WorkDone, no_events
from bench.model.scenario import Claim, Measure, OwnApp, Variant


@dataclass(frozen=True)
class Launched:
    sidecars: Sidecars
    spec: ServerSpec  # to start the web server again (the restart experiments)
    server: RunningServer


async def launch(
    stack: contextlib.AsyncExitStack,
    plan: RunPlan,
    variant: Variant,
    folder: Path,
    env: dict[str, str],
    port: int | None = None,
) -> Launched:
    """Start a variant inside ``stack``: its sidecars (Celery: broker, worker), then its web server
    (on ``port``, or a free one). The stack stops them in reverse order, whatever happens."""
    if variant.thread_limit is not None:
        env = {**env, contract.THREAD_LIMIT: str(variant.thread_limit)}
    if variant.processes is not None:
        env = {**env, contract.PROCESSES: str(variant.processes)}
    side = await stack.enter_async_context(sidecars(variant, folder, env, plan.broker_url, plan.app_dir))
    if variant.own is not None:  # the learner's app: no /health to ask, and it writes into its variant's folder
        module, app_dir = module_and_folder(variant.own)
        watched = holds.watched_env(variant.own, module, app_dir, folder)
        spec = ServerSpec(
            app=module,
            workers=variant.workers,
            env={**dict(variant.own.env), **watched.env},
            wrapper=watched.wrapper,
            factory=variant.own.factory,
            python=variant.own.interpreter.path if variant.own.interpreter is not None else sys.executable,
            app_dir=app_dir,
            log_path=folder / "server.log",
            health_path=None,
            cwd=folder.resolve(),
            port=port,
        )
    else:
        watched = holds.watched_env(None, variant.app, plan.app_dir, folder)
        spec = ServerSpec(
            app=variant.app,
            workers=variant.workers,
            env={**env, **side.env, **watched.env},
            wrapper=watched.wrapper,
            app_dir=plan.app_dir,
            log_path=folder / "server.log",
            port=port,
        )
    server = await stack.enter_async_context(serve(spec))
    return Launched(side, spec, server)


async def run_variant(
    plan: RunPlan,
    variant: Variant,
    folder: Path,
    events: Events | None = None,
    same_url: bool = False,
    step: int | None = None,
    gate: Gate | None = None,
) -> VariantResult:
    """One attempt at ``variant``, telling ``events`` its phases, every request and every unit of work done.

    ``gate``: the attempts racing this one; the load starts when all of them are ready."""
    events = events or no_events()
    arrived = False

    async def ready() -> None:
        nonlocal arrived
        if gate is not None:
            events.emit(PhaseChanged("ready: waiting for the variants racing it"))
            arrived = True
            await gate.arrive()

    try:
        return await _run_variant(plan, variant, folder, events, same_url, step, ready)
    finally:
        if gate is not None and not arrived:
            gate.leave()


async def _run_variant(
    plan: RunPlan,
    variant: Variant,
    folder: Path,
    events: Events | None,
    same_url: bool,
    step: int | None,
    ready: Callable[[], Awaitable[None]],
) -> VariantResult:
    events = events or no_events()
    folder.mkdir(parents=True, exist_ok=True)
    expected = plan.expected(variant, same_url)
    env = work_env(plan, folder)
    nonce = secrets.token_hex(4)
    clients_of: dict[str, list[int]] = {}
    own = variant.own
    route = own.path if own is not None and own.path else contract.PUSH_PATH

    def next_request(index: int) -> Request:
        if same_url:  # every tab on one URL, as the tutorial's /push/1
            token = f"same-{nonce}"
        else:
            token = f"tab{index + 1}-{nonce}" if plan.pattern == "burst" else f"r{index + 1}-{nonce}"
        clients_of.setdefault(token, []).append(index)
        return token, route.replace("{token}", token)

    def on_record(record: WorkRecord) -> None:
        waiting = clients_of.get(record.token)
        if waiting:
            events.emit(WorkDone(waiting.pop(0), record.end))

    solo = f"solo-{nonce}"  # d's requests alone: solo-NONCE, then (an app that answers at once) solo-NONCE-2
    if own is None:
        watcher = LedgerWatcher(LedgerReader(folder / contract.LEDGER_FILE), on_record)
    else:  # the app's own output says when its work is done (default: the tutorial's notification.log)
        is_ours = lambda token: token in clients_of or token.startswith(solo)  # noqa: E731
        marker = MarkerReader(folder / (own.done_file or ".none"), own.done_pattern, is_ours)
        watcher = LedgerWatcher(marker, on_record)
    observable = own is None or own.done_file is not None
    result = unfinished_result(plan, variant, same_url, step)
    timeout_s = plan.request_timeout_s(expected)
    try:
        async with contextlib.AsyncExitStack() as stack:
            launched = await launch(stack, plan, variant, folder, env)
            await teardown.settled()  # the variant before this one stopped: nothing stopping shares a measurement
            server = launched.server
            result.broker = launched.sidecars.broker
            events.emit(PhaseChanged(f"load: {plan.pattern}, client {plan.client}"))
            written = None if own is None else own_d.as_written(own, variant.answers)
            if own is not None:  # d is the app's own: as its code writes it, or one request alone, then the theory
                if written is not None:
                    result.notes.append(written.said)
                if written is None or written.d is None:
                    events.emit(PhaseChanged("measuring d: one request alone"))
                    result.work_s = await own_d.measure_d(server.port, route, solo, variant, watcher)
                    observable = own_d.observable_alone(own, variant, watcher, solo, result, observable)
                expected = plan.expected(variant, same_url, work_s=result.work_s or own.seconds_written)
                timeout_s = plan.request_timeout_s(expected)
                events.emit(TheoryKnown(None if expected is None else expected.all_done_s))
                events.emit(PhaseChanged(f"load: {plan.pattern}, client {plan.client}"))
            await ready()
            watching = await stack.enter_async_context(contextlib.AsyncExitStack())
            stalls = await watching.enter_async_context(stall.watching())
            # Until the work is done (closed before the servers), sample the event loop's lag
            # and the thread pool's wait (the lab's servers have the routes).
            probes = await watching.enter_async_context(probing(HOST, server.port, timeout_s, enabled=own is None))
            follower = asyncio.create_task(watcher.follow())
            try:
                samples = await fire(
                    plan.shape(timeout_s),
                    plan.client,
                    HOST,
                    server.port,
                    next_request,
                    events.load_observer(),
                    spec=GET if own is None else own.request,
                )
            finally:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            disruption = plan.scenario.disruption
            if disruption is not None:
                events.emit(PhaseChanged(f"disrupting: SIG{disruption.signal} to the {disruption.target}"))
                result.disruption = await disrupt(disruption, server, launched.sidecars.worker_pid, plan.work_s)
                if disruption.target == "web-server":
                    server = await stack.enter_async_context(serve(launched.spec))  # the restart
                if expected is not None:  # work that died will never come: wait what theory needs, not more
                    timeout_s = 1.5 * expected.all_done_s + 2
                    if disruption.target == "celery-worker":  # its work is redone, once new pool processes boot
                        timeout_s += REDO_GRACE_S
                    elif variant.own is None and variant.celery is None:  # the lab's work lived in the web server's
                        timeout_s = min(timeout_s, GONE_GRACE_S)  # processes, all gone: what is not done never will be
            exit_code = server.process.poll()
            if exit_code is not None:  # killed under the load (the OOM killer, a crash): keep what was measured
                result.error = f"the server died during the load (exit code {exit_code}); what was measured is kept"
                timeout_s = min(timeout_s, 1.0)  # its queued work will never be done: read what the ledger has
            accepted = [s.token for s in samples if metrics.is_success(s.status)]
            events.emit(PhaseChanged("waiting for the background work"))
            if observable and written is not None:  # the marker comes before each answer, if it comes at all
                await watcher.wait_for(accepted, own_d.AFTER_ANSWER_MARKER_S)
                observable = own_d.observable_under_load(variant, watcher, accepted, result)
            elif observable:
                await watcher.wait_for(accepted, timeout_s)
            await watching.aclose()
            events.emit(PhaseChanged("stopping the server"))
            if stalls.disturbed and result.error is None:
                result.error = stalls.said()  # what was measured is kept, and shown, but not judged
            if await teardown.stop_later(stack.pop_all()):  # while the next variant starts, in a run
                # Still up: its watchdog writes a hold's line some 10 ms after the hold ends (the last
                # request's, seen missing once when read at once); a stopped server has written them all.
                await asyncio.sleep(HOLDS_WRITTEN_S)
    except LaunchError as exc:
        result.error = str(exc)
        return result
    records = _records(samples, watcher.found)
    summary = metrics.summarise(records, observable)
    loop_probe, thread_probe = probes
    summary.loop_lag_p99_s, summary.loop_lag_max_s = metrics.tail(loop_probe.latencies)
    summary.thread_wait_p99_s, summary.thread_wait_max_s = metrics.tail(thread_probe.latencies)
    result.status = "ok" if result.error is None else "failed"
    result.started_at = min((s.sent for s in samples), default=None)
    result.summary = summary
    result.expected = expected
    result.requests = records
    result.loop_held = holds.read(folder, len(records), min((s.sent for s in samples), default=None))
    result.interpreter = own.interpreter if own is not None and own.interpreter is not None else harness()
    if own is not None:
        result.diagnosis = list(own.diagnosis)
        if own.interpreter_said:
            result.notes.append(own.interpreter_said)
        result.strategy = own.strategy
        result.endpoint = own.endpoint
    result.claims = [] if stalls.disturbed else variant_claims(plan, variant, result, summary)
    return result


def variant_claims(plan: RunPlan, variant: Variant, result: VariantResult, summary: Summary) -> list[ClaimResult]:
    """The claims about ``result``'s variant, checked on ``summary`` (one run's, or the mean of several)."""
    name = run_name(variant.name, result.same_url)  # what the claims name
    split = metrics.pid_split(summary.pids, variant.workers) if variant.workers > 1 else ""
    if variant.own is not None:
        d = result.work_s or variant.own.seconds_written
        if d is None or result.expected is None:  # no d, no theory: nothing to check the run against
            return []
        checks = own_claims(name, variant.own)
        found = [claims.check(c, summary, d, split, expected=result.expected) for c in checks]
        return [claims.model_wrong(c, variant.work_slots, result.loop_held) for c in found]
    return [
        claims.check(c, summary, plan.work_s, split, expected=result.expected)
        for c in plan.scenario.claims
        if c.variant == name
    ]


def combine_runs(plan: RunPlan, variant: Variant, results: list[VariantResult], warmups: int) -> VariantResult:
    """One result for the repeated runs of a variant: the median run's requests and summary, every
    run's summary in ``runs``, each figure over them in ``stats``, the claims checked on the means."""
    measured = [r for r in results if r.summary is not None]
    if len(results) == 1 or not measured:
        last = results[-1]
        said = [f"ran {len(results)} times; the last run is shown"] if len(results) > 1 else []
        return last.model_copy(update={"warmups": warmups, "notes": [*last.notes, *said]})
    summaries = [r.summary for r in measured if r.summary is not None]
    stats = repeats.figure_stats(summaries)
    middle = measured[repeats.median_run(summaries)]
    combined = middle.model_copy(update={"runs": summaries, "stats": stats, "warmups": warmups})
    assert middle.summary is not None
    combined.claims = variant_claims(plan, variant, middle, repeats.mean_summary(middle.summary, stats))
    for claim in combined.claims:
        claim.runs = len(measured)
        claim.held_runs = sum(c.holds for r in measured for c in r.claims if c.id == claim.id)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        combined.status = "failed"
        combined.error = f"{len(failed)} of {len(results)} runs failed; the first: {failed[0].error}"
    return combined


OWN_CLAIMS: tuple[tuple[str, str, Measure], ...] = (
    ("diagnosis", "All work done when the diagnosis predicts.", "all_done_s"),
    ("answers", "Every request answered when the diagnosis predicts.", "all_responded_s"),
)


def own_claims(name: str, own: OwnApp) -> list[Claim]:
    """What the diagnosis predicts for an own app, checked like the tutorial's claims (±20 % of theory)."""
    why = f"The diagnosis: {own.strategy}."
    return [
        Claim(id=id_, variant=name, says=says, measure=measure, approx=1.0, unit="theory", tolerance=0.2, why=why)
        for id_, says, measure in OWN_CLAIMS
    ]


REDO_GRACE_S = 10.0  # a killed Celery pool's new processes boot (seconds on a busy machine) before the redo
HOLDS_WRITTEN_S = 0.1  # after the work, before the loop's holds are read from a server still up
GONE_GRACE_S = 0.5  # after the web server's processes are gone: the ledger read once more (its last lines)


def _records(samples: list[Sample], work: dict[str, list[WorkRecord]]) -> list[RequestRecord]:
    """Join what the client saw with what the ledger says, in seconds from the first send.

    When several requests share a token (same URL), the k-th answered gets the k-th
    finished unit of work: each one's work is done before its answer, in the same order.
    """
    t0 = min((s.sent for s in samples), default=0.0)

    def rel(t: float | None) -> float | None:
        return None if t is None else t - t0

    queues = {token: sorted(records, key=lambda r: r.end) for token, records in work.items()}
    done_of: dict[int, WorkRecord] = {}
    for s in sorted(samples, key=lambda s: s.responded or float("inf")):
        queue = queues.get(s.token)
        if metrics.is_success(s.status) and queue:
            done_of[s.client] = queue.pop(0)
    out = []
    for s in sorted(samples, key=lambda s: s.client):
        done = done_of.get(s.client)
        out.append(
            RequestRecord(
                client=s.client + 1,
                token=s.token,
                sent_s=s.sent - t0,
                first_byte_s=rel(s.first_byte),
                responded_s=rel(s.responded),
                done_s=rel(done.end) if done else None,
                status=s.status,
                pid=s.pid,
                error=s.error,
                queued_s=s.queued_s,
                work_start_s=rel(done.start) if done else None,
                work_pid=done.pid if done else None,
                work_thread=done.thread if done else None,
            )
        )
    return out
