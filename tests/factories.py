"""Small builders of run documents for the tests of reading, rendering and exporting."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.claims import check
from bench.metrics import summarise
from bench.results import Capacity, Expected, RequestRecord, RunDocument, VariantResult
from bench.runner import RunPlan
from bench.scenario import Catalog, Claim, default_scenarios_path, load_catalog
from bench.session import run_scenario


def variant_result(
    name: str,
    done: list[float],
    answers_at_once: bool = False,
    workers: int = 1,
    pids: list[int] | None = None,
    claim: Claim | None = None,
) -> VariantResult:
    pids = pids or [100] * len(done)
    requests = [
        RequestRecord(
            client=i + 1,
            token=f"tab{i + 1}-x",
            sent_s=i * 0.03,
            first_byte_s=None,
            responded_s=(i * 0.03 + 0.002) if answers_at_once else d,
            done_s=d,
            status=200,
            pid=pid,
            work_start_s=d - 1.0,
            work_pid=pid,
            work_thread="MainThread",
        )
        for i, (d, pid) in enumerate(zip(done, pids, strict=True))
    ]
    summary = summarise(requests)
    expected = Expected(
        model="test model",
        all_responded_s=max(done),
        all_done_s=max(done),
        responded_s=[r.responded_s or 0.0 for r in requests],
        done_s=list(done),
    )
    claims = [check(claim, summary, 1.0, "split")] if claim else []
    return VariantResult(
        name=name,
        title=f"the {name} strategy",
        app=f"servers.{name}:app",
        capacity=Capacity(workers=workers, work_slots_per_worker=1, thread_limit=40),
        status="ok",
        summary=summary,
        expected=expected,
        claims=claims,
        requests=requests,
        started_at=1.7e9,
    )


def run_document(
    run_id: str = "20260101-000000-four-tabs",
    variants: list[VariantResult] | None = None,
    time_scale: float = 0.1,
) -> RunDocument:
    if variants is None:
        serial = Claim(
            id="1b",
            variant="sync",
            says="Serial.",
            measure="all_done_s",
            approx=4,
            tolerance=0.15,
            why="The loop is blocked.",
        )
        racing = Claim(
            id="2",
            variant="multi-worker",
            says="Two workers halve it.",
            measure="all_done_s",
            approx=2,
            tolerance=0.2,
            why="Two processes.",
            if_not="They raced.",
        )
        variants = [
            variant_result("sync", [1.0, 2.0, 3.0, 4.0], claim=serial),
            variant_result("multi-worker", [1.0, 2.0, 3.0, 4.0], workers=2, claim=racing),
            variant_result("background", [1.0, 1.03, 1.06, 1.09], answers_at_once=True),
        ]
    return RunDocument(
        run_id=run_id,
        created="2026-01-01T00:00:00+00:00",
        status="complete",
        scenario={
            "name": "four-tabs",
            "title": "Four tabs",
            "work": {"kind": "sleep", "seconds": 10},
            "load": {"clients": 4, "gap": 0.3},
            "scaled": {"work_s": 1.0, "gap_s": 0.03},
        },
        time_scale=time_scale,
        environment={"python": "3.11", "cpus_usable": 2, "packages": {"fastapi": "x", "uvicorn": "y"}},
        variants=variants,
    )


def run_named(
    name: str, time_scale: float, folder: Path, variants: list[str] | None = None, catalog: Catalog | None = None
) -> RunDocument:
    """Run a scenario of the project's scenarios.yaml (or of ``catalog``) on real servers."""
    catalog = catalog or load_catalog(default_scenarios_path())
    scenario = catalog.scenario(name)
    plan = RunPlan.of(scenario, time_scale, Path(catalog.source).resolve().parent)
    return asyncio.run(run_scenario(plan, catalog.pick_variants(scenario, variants), folder / name))
