"""One variant, start to finish: launch, load, wait for the work, tear down, measure.

launcher: the server on a free loopback port, ready by /health (bench.launcher)
load:     the burst of tabs, every request timestamped (bench.load)
ledger:   wait for every accepted unit of work to be recorded done (bench.ledger)
teardown: the whole process group, always (the ``serve`` context manager)
measure:  records -> summary, theory, claims (pure: bench.metrics/theory/claims)
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import claims, metrics, theory
from bench.clients import ClientKind, make_client
from bench.launcher import HOST, LaunchError, ServerSpec, serve
from bench.ledger import LedgerReader, LedgerWatcher, WorkRecord
from bench.live import VariantProgress
from bench.load import Request, Sample, burst, closed_loop, open_loop
from bench.pump import closed_loop_raw
from bench.results import Capacity, Expected, RequestRecord, VariantResult
from bench.scenario import Scenario, Variant

LEDGER_FILE = "ledger.jsonl"  # written by servers.work
DEFAULT_OPEN_LOOP_CONNECTIONS = 1000


@dataclass(frozen=True)
class RunPlan:
    """A scenario with its times scaled: what one run actually does.

    Durations and gaps shrink with the time scale and the arrival rate grows with it,
    so a scaled run has the same shape (the same number of requests, the same overlap
    of work) as the true one, only faster.
    """

    scenario: Scenario
    time_scale: float
    work_s: float
    pattern: str
    clients: int
    gap_s: float
    duration_s: float | None
    rate: float | None
    total: int | None
    app_dir: Path
    client: ClientKind = "raw"

    @classmethod
    def of(cls, scenario: Scenario, time_scale: float, app_dir: Path, client: ClientKind = "raw") -> RunPlan:
        load = scenario.load
        return cls(
            scenario=scenario,
            time_scale=time_scale,
            work_s=scenario.work.seconds * time_scale,
            pattern=load.pattern,
            clients=load.clients or DEFAULT_OPEN_LOOP_CONNECTIONS,
            gap_s=load.gap * time_scale,
            duration_s=None if load.duration is None else load.duration * time_scale,
            rate=None if load.rate is None else load.rate / time_scale,
            total=load.total,
            app_dir=app_dir,
            client=client,
        )

    def expected(self, variant: Variant) -> Expected | None:
        """The theory, for the burst pattern (arrivals known in advance); None otherwise."""
        if self.pattern != "burst":
            return None
        return theory.expected(variant, self.clients, self.gap_s, self.work_s)

    def request_timeout_s(self, expected: Expected | None) -> float:
        if expected is not None:
            return 2 * expected.all_done_s + 10
        return 10 * self.work_s + 30


def capacity(variant: Variant) -> Capacity:
    return Capacity(
        workers=variant.workers,
        work_slots_per_worker=theory.slots_per_worker(variant),
        thread_limit=theory.ANYIO_DEFAULT_THREADS,
    )


def pid_split(pids: dict[str, int], workers: int) -> str:
    """'4 on pid 812, 0 on the other worker' — how the requests spread over processes."""
    parts = [f"{count} on pid {pid}" for pid, count in pids.items()]
    idle = workers - len(pids)
    if idle > 0 and pids:
        parts.append(f"0 on the other {idle} worker{'s' if idle > 1 else ''}")
    return ", ".join(parts)


async def run_variant(
    plan: RunPlan, variant: Variant, folder: Path, progress: VariantProgress | None = None
) -> VariantResult:
    folder.mkdir(parents=True, exist_ok=True)
    expected = plan.expected(variant)
    spec = ServerSpec(
        app=variant.app,
        workers=variant.workers,
        env={
            "BENCH_WORK_KIND": plan.scenario.work.kind,
            "BENCH_WORK_SECONDS": repr(plan.work_s),
            "BENCH_LEDGER_DIR": str(folder.resolve()),
        },
        app_dir=plan.app_dir,
        log_path=folder / "server.log",
    )
    nonce = secrets.token_hex(4)
    client_of: dict[str, int] = {}

    def next_request(index: int) -> Request:
        token = f"tab{index + 1}-{nonce}" if plan.pattern == "burst" else f"r{index + 1}-{nonce}"
        client_of[token] = index
        return token, f"/push/{token}"

    def on_record(record: WorkRecord) -> None:
        if progress is not None and record.token in client_of:
            progress.on_done(client_of[record.token], record.end)

    watcher = LedgerWatcher(LedgerReader(folder / LEDGER_FILE), on_record)
    result = VariantResult(
        name=variant.name, title=variant.title, app=variant.app, capacity=capacity(variant), status="failed"
    )
    timeout_s = plan.request_timeout_s(expected)
    try:
        async with serve(spec) as server:
            if progress is not None:
                progress.phase = f"load: {plan.pattern}, client {plan.client}"
            follower = asyncio.create_task(watcher.follow())
            try:
                samples = await _fire(plan, server.port, next_request, timeout_s, progress)
            finally:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            accepted = [s.token for s in samples if metrics.is_success(s.status)]
            if progress is not None:
                progress.phase = "waiting for the background work"
            await watcher.wait_for(accepted, timeout_s)
            if progress is not None:
                progress.phase = "stopping the server"
    except LaunchError as exc:
        result.error = str(exc)
        return result
    records = _records(samples, watcher.found)
    summary = metrics.summarise(records)
    split = pid_split(summary.pids, variant.workers) if variant.workers > 1 else ""
    result.status = "ok"
    result.started_at = min((s.sent for s in samples), default=None)
    result.summary = summary
    result.expected = expected
    result.requests = records
    result.claims = [
        claims.check(c, summary, plan.work_s, split) for c in plan.scenario.claims if c.variant == variant.name
    ]
    return result


async def _fire(
    plan: RunPlan,
    port: int,
    next_request: Callable[[int], Request],
    timeout_s: float,
    progress: VariantProgress | None,
) -> list[Sample]:
    observe = progress.on_load if progress is not None else (lambda event, client, at: None)
    client = make_client(plan.client, HOST, port, max_connections=plan.clients)
    try:
        if plan.pattern == "burst":
            requests = [next_request(i) for i in range(plan.clients)]
            return await burst(client, requests, plan.gap_s, timeout_s, observe)
        if plan.pattern == "closed" and plan.client == "raw":
            return await closed_loop_raw(
                HOST, port, next_request, plan.clients, plan.duration_s, plan.total, timeout_s, observe
            )
        if plan.pattern == "closed":
            return await closed_loop(
                client, next_request, plan.clients, plan.duration_s, plan.total, timeout_s, observe
            )
        assert plan.rate is not None
        return await open_loop(
            client, next_request, plan.rate, plan.duration_s, plan.total, timeout_s, plan.clients, observe
        )
    finally:
        await client.aclose()


def _records(samples: list[Sample], work: dict[str, WorkRecord]) -> list[RequestRecord]:
    """Join what the client saw with what the ledger says, in seconds from the first send."""
    t0 = min((s.sent for s in samples), default=0.0)

    def rel(t: float | None) -> float | None:
        return None if t is None else t - t0

    out = []
    for s in sorted(samples, key=lambda s: s.client):
        done = work.get(s.token) if metrics.is_success(s.status) else None
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
