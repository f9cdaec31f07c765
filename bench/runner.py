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
from dataclasses import dataclass
from pathlib import Path

from bench import claims, metrics, theory
from bench.launcher import HOST, LaunchError, ServerSpec, serve
from bench.ledger import LedgerReader, LedgerWatcher, WorkRecord
from bench.live import VariantProgress
from bench.load import Sample, burst
from bench.results import Capacity, RequestRecord, VariantResult
from bench.scenario import Scenario, Variant

LEDGER_FILE = "ledger.jsonl"  # written by servers.work


@dataclass(frozen=True)
class RunPlan:
    """A scenario with its times scaled: what one run actually does."""

    scenario: Scenario
    time_scale: float
    work_s: float
    gap_s: float
    clients: int
    app_dir: Path

    @classmethod
    def of(cls, scenario: Scenario, time_scale: float, app_dir: Path) -> RunPlan:
        return cls(
            scenario=scenario,
            time_scale=time_scale,
            work_s=scenario.work.seconds * time_scale,
            gap_s=scenario.load.gap * time_scale,
            clients=scenario.load.clients,
            app_dir=app_dir,
        )


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
    expected = theory.expected(variant, plan.clients, plan.gap_s, plan.work_s)
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
    tokens = [f"tab{i + 1}-{secrets.token_hex(4)}" for i in range(plan.clients)]
    client_of = {token: i for i, token in enumerate(tokens)}

    def on_record(record: WorkRecord) -> None:
        if progress is not None and record.token in client_of:
            progress.on_done(client_of[record.token], record.end)

    watcher = LedgerWatcher(LedgerReader(folder / LEDGER_FILE), on_record)
    result = VariantResult(
        name=variant.name, title=variant.title, app=variant.app, capacity=capacity(variant), status="failed"
    )
    timeout_s = 2 * expected.all_done_s + 10
    try:
        async with serve(spec) as server:
            if progress is not None:
                progress.phase = "load: tabs sent"
            follower = asyncio.create_task(watcher.follow())
            try:
                samples = await burst(
                    HOST,
                    server.port,
                    [(t, f"/push/{t}") for t in tokens],
                    plan.gap_s,
                    timeout_s,
                    progress.on_load if progress else lambda *a: None,
                )
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
    result.started_at = min(s.sent for s in samples)
    result.summary = summary
    result.expected = expected
    result.requests = records
    result.claims = [
        claims.check(c, summary, plan.work_s, split)
        for c in plan.scenario.claims
        if c.variant == variant.name
    ]
    return result


def _records(samples: list[Sample], work: dict[str, WorkRecord]) -> list[RequestRecord]:
    """Join what the client saw with what the ledger says, in seconds from the first send."""
    t0 = min(s.sent for s in samples)

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
                work_start_s=rel(done.start) if done else None,
                work_pid=done.pid if done else None,
                work_thread=done.thread if done else None,
            )
        )
    return out
