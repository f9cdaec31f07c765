"""A run's plan: a scenario with its times scaled, and what every variant's processes are given.

Durations and gaps shrink with the time scale and the arrival rate grows with it, so a
scaled run has the same shape (the same number of requests, the same overlap of work) as
the true one, only faster. The machine's facts are read once here and handed to the theory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench import contract
from bench.engine.dispatch import LoadShape, Pattern
from bench.errors import BenchError
from bench.lab import environment
from bench.model import theory
from bench.model.document import Capacity, Expected, VariantResult, run_name
from bench.model.machine import Machine
from bench.model.scenario import RunClient, Scenario, UrlMode, Variant

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
    pattern: Pattern
    concurrency: int  # tabs of a burst, connections of a closed loop, the most an open loop's pool opens
    gap_s: float
    duration_s: float | None
    rate: float | None
    total: int | None
    app_dir: Path
    client: RunClient = "raw"
    urls: UrlMode = "distinct"
    broker_url: str | None = None  # --broker: a Redis for the Celery variants instead of starting one
    one_at_a_time: bool = False  # --one-at-a-time: no variants race (bench.model.racing)
    machine: Machine = field(default_factory=environment.machine)  # what the theory counts on

    @classmethod
    def of(
        cls,
        scenario: Scenario,
        time_scale: float,
        app_dir: Path,
        client: RunClient | None = None,
        same_url: bool = False,
        broker_url: str | None = None,
    ) -> RunPlan:
        """``client`` and ``same_url`` (the command line's) override the scenario's."""
        load = scenario.load
        client = client or load.client or "raw"
        urls: UrlMode = "same" if same_url else load.urls
        if client == "browser" and load.pattern != "burst":
            raise BenchError(
                f"--client browser opens tabs: it needs a burst load, and {scenario.name!r} is {load.pattern}"
            )
        if urls != "distinct" and load.pattern != "burst":
            raise BenchError(f"--same-url is for burst loads (tabs), and {scenario.name!r} is {load.pattern}")
        return cls(
            scenario=scenario,
            time_scale=time_scale,
            work_s=scenario.work.seconds * time_scale,
            pattern=load.pattern,
            concurrency=load.clients or DEFAULT_OPEN_LOOP_CONNECTIONS,
            gap_s=load.gap * time_scale,
            duration_s=None if load.duration is None else load.duration * time_scale,
            rate=None if load.rate is None else load.rate / time_scale,
            total=load.total,
            app_dir=app_dir,
            client=client,
            urls=urls,
            broker_url=broker_url,
        )

    def url_modes(self) -> tuple[bool, ...]:
        """Each variant runs once per mode: False = one URL per tab, True = every tab on the same URL."""
        return {"distinct": (False,), "same": (True,), "both": (False, True)}[self.urls]

    def expected(self, variant: Variant, same_url: bool = False, work_s: float | None = None) -> Expected | None:
        """The theory, for the burst pattern (arrivals known in advance); None otherwise.

        ``work_s``: d as measured (an own app's work is its own, not the scenario's)."""
        if self.pattern != "burst" or (variant.own is not None and work_s is None):
            return None
        cap = None
        if self.client == "browser":
            cap = theory.BROWSER_SAME_URL if same_url else theory.BROWSER_PER_HOST
        d = self.work_s if work_s is None else work_s
        return theory.expected(
            variant, self.concurrency, self.gap_s, d, cap, kind=self.scenario.work.kind, machine=self.machine
        )

    def shape(self, timeout_s: float) -> LoadShape:
        return LoadShape(
            pattern=self.pattern,
            concurrency=self.concurrency,
            timeout_s=timeout_s,
            gap_s=self.gap_s,
            duration_s=self.duration_s,
            total=self.total,
            rate=self.rate,
        )

    def request_timeout_s(self, expected: Expected | None) -> float:
        if expected is not None:
            return 2 * expected.all_done_s + 10
        return 10 * self.work_s + 30


def capacity(variant: Variant, machine: Machine) -> Capacity:
    celery = variant.celery
    return Capacity(
        workers=variant.workers,
        work_slots_per_worker=theory.slots_per_worker(variant, machine),
        thread_limit=variant.thread_limit or contract.ANYIO_DEFAULT_THREADS,
        celery_concurrency=celery.concurrency if celery else None,
        celery_pool=celery.pool if celery else None,
        celery_prefetch=celery.prefetch if celery else None,
        answers=variant.answers,
    )


def work_env(plan: RunPlan, folder: Path, **extra: str) -> dict[str, str]:
    """What every process doing the work needs to know: its kind, its duration, the ledger."""
    return {
        contract.WORK_KIND: plan.scenario.work.kind,
        contract.WORK_SECONDS: repr(plan.work_s),
        contract.LEDGER_DIR: str(folder.resolve()),
        **extra,
    }


def unfinished_result(
    plan: RunPlan, variant: Variant, same_url: bool = False, step: int | None = None
) -> VariantResult:
    """A variant's result before anything ran: failed until the run says otherwise."""
    return VariantResult(
        name=run_name(variant.name, same_url, step=step),
        variant=variant.name,
        same_url=same_url,
        step=step,
        title=variant.title + (" — every tab on the same URL" if same_url else ""),
        app=variant.app,
        capacity=capacity(variant, plan.machine),
        status="failed",
    )
