"""A whole run: every variant of a scenario, racing or in turn, saved after each one.

"We export results after each individual benchmark, because we would risk losing
them if a later benchmark fails" (hyperfine). A variant that cannot start is recorded
as failed with its log lines, and the run goes on; Ctrl-C marks the run interrupted
and keeps every variant that finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.engine import forking, loops
from bench.engine.browser import find_chromium, shared_browser
from bench.engine.owners import owner_mark
from bench.lab import environment, teardown
from bench.lab.gate import Gate
from bench.lab.ownapp import resolve_all
from bench.lab.plan import RunPlan
from bench.lab.runner import combine_runs, run_variant
from bench.lab.taskcontrol import run_task_control
from bench.model import fairness, racing, repeats
from bench.model.document import RunDocument, Scaled, ScenarioAsRun, VariantResult, run_name
from bench.model.events import (
    AttemptFinished,
    AttemptStarted,
    Events,
    PhaseChanged,
    RunEnded,
    RunStarted,
    VariantFinished,
    no_events,
)
from bench.model.scenario import Variant
from bench.results import prepare_folder, save


def new_run_id(scenario: str, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{scenario}"


def prepare(plan: RunPlan, variants: tuple[Variant, ...], out_dir: Path) -> tuple[Path, tuple[Variant, ...]]:
    """Before anything starts: the tools the plan needs are there, the run has its folder, and
    every own app is diagnosed (a file that does not import is bad input, said now)."""
    if plan.client == "browser":
        find_chromium()  # no Chromium: say so now, with the install command
    folder = prepare_folder(out_dir / new_run_id(plan.scenario.name))
    return folder, resolve_all(variants, folder)


def scenario_as_run(plan: RunPlan, variants: tuple[Variant, ...]) -> ScenarioAsRun:
    scaled = Scaled(
        work_s=plan.work_s,
        gap_s=plan.gap_s,
        duration_s=plan.duration_s,
        rate=plan.rate,
        client=plan.client,
        urls=plan.urls,
    )
    return ScenarioAsRun.model_validate({**dict(plan.scenario), "variants": list(variants), "scaled": scaled})


def new_document(folder: Path, scenario: ScenarioAsRun, time_scale: float) -> RunDocument:
    """A run document for ``folder``, saved at once so that even an early crash leaves a trace."""
    doc = RunDocument(
        run_id=folder.name,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        status="running",
        owner=owner_mark(),
        scenario=scenario,
        time_scale=time_scale,
        environment=environment.capture(),
    )
    save(doc, folder)
    return doc


@dataclass
class _Unit:
    """One variant in one URL mode and sweep step, and its attempts so far."""

    variant: Variant
    same_url: bool
    step: int | None
    name: str
    measured: list[VariantResult] = field(default_factory=list)
    result: VariantResult | None = None  # its attempts so far, combined: what the document holds
    over: bool = False  # failed: not run again


async def run_scenario(
    plan: RunPlan,
    variants: tuple[Variant, ...],
    folder: Path,
    events: Events | None = None,
    runs: int | None = None,
    warmup: int = 0,
) -> RunDocument:
    """Every variant (each URL mode, each sweep step), each ``warmup`` times unmeasured and then
    ``runs`` times (the scenario's ``repeat`` by default) measured and combined into one result.
    Variants whose work only waits race each other (``bench.model.racing``); the others, and
    all of them with ``plan.one_at_a_time``, run one after another.

    ``events`` hears every step (the live board, the HTML writer subscribe there); the run ends
    with ``RunEnded``, also when it is interrupted."""
    events = events or no_events()
    times = runs or plan.scenario.repeat
    as_run = scenario_as_run(plan, variants).model_copy(update={"repeat": times, "warmup": warmup})
    doc = new_document(folder, as_run, plan.time_scale)
    if any(v.own is None for v in variants):  # the lab's servers: forked from the preloaded starter
        forking.warm()  # which imports FastAPI and uvicorn while the run sets up
    steps: tuple[int | None, ...] = plan.scenario.sweep or (None,)
    units = [
        _Unit(variant, same_url, step, run_name(variant.name, same_url, step=step))
        for variant in variants
        for same_url in plan.url_modes()
        for step in steps
    ]
    shared_broker = plan.broker_url is not None and sum(v.celery is not None for v in variants) > 1
    order = racing.schedule(
        [u.variant for u in units], plan.scenario, plan.client, shared_broker, plan.one_at_a_time, plan.work_s
    )
    doc.schedule = order.why
    events.emit(RunStarted(plan.scenario.name, tuple([u.name for u in units] * (warmup + times))))
    noted = [w for w in (fairness.shared_cores(plan.scenario.work.kind, plan.pattern, plan.machine),) if w is not None]
    state = _State(plan, doc, folder, events, noted, warmup, times, units)
    try:
        async with teardown.deferred(), shared_browser() if plan.client == "browser" else contextlib.nullcontext():
            for batch in order.batches:
                members = [units[i] for i in batch]
                for k in range(1, warmup + times + 1):
                    live = [u for u in members if not u.over]
                    gate = Gate(len(live)) if len(live) > 1 else None
                    await asyncio.gather(*(state.attempt(u, k, gate) for u in live))
                for u in members:
                    if u.result is not None:
                        events.emit(VariantFinished(u.result))
    except (asyncio.CancelledError, KeyboardInterrupt):
        doc.status = "interrupted"
        save(doc, folder)
        events.emit(RunEnded(doc, folder))
        raise
    doc.status = "complete"
    save(doc, folder)
    events.emit(RunEnded(doc, folder))
    return doc


@dataclass
class _State:
    """What the attempts of a run share: the plan, the document they are saved in, the warnings."""

    plan: RunPlan
    doc: RunDocument
    folder: Path
    events: Events
    noted: list[str]
    warmup: int
    times: int
    units: list[_Unit]

    async def attempt(self, unit: _Unit, k: int, gate: Gate | None) -> None:
        """The k-th attempt at ``unit`` (racing the others at ``gate``), then saved with the rest."""
        plan, variant = self.plan, unit.variant
        step_plan = plan if unit.step is None else replace(plan, concurrency=unit.step)
        expected = plan.expected(variant, unit.same_url)
        label, sub = _attempt(unit.name, k, self.warmup, self.times)
        events = self.events if gate is None else self.events.scoped(label)
        events.emit(
            AttemptStarted(label, variant.title, plan.concurrency, None if expected is None else expected.all_done_s)
        )
        busy = fairness.busy_machine(label, environment.machine())
        if busy is not None:
            self.noted.append(busy)
        if plan.scenario.experiment == "task-control":
            events.emit(PhaseChanged("tracking, retrying and revoking tasks"))
            result = await run_task_control(plan, variant, self.folder / unit.name / sub)
        else:
            folder = self.folder / unit.name / sub
            result = await run_variant(step_plan, variant, folder, events, unit.same_url, unit.step, gate)
        events.emit(AttemptFinished(label, result))
        if k <= self.warmup and result.status == "ok":
            return  # a warm-up is left out; one that failed is kept: the variant does not start
        unit.measured.append(result)
        combined = unit.result = combine_runs(plan, variant, unit.measured, self.warmup)
        self.doc.variants = [u.result for u in self.units if u.result is not None]  # in the scenario's order
        spread = repeats.warnings(unit.name, combined.runs, self.warmup) if len(combined.runs) > 1 else []
        unequal = fairness.unequal_budgets(self.doc.variants)
        self.doc.warnings = [*self.noted, *([unequal] if unequal else []), *spread]
        if k == self.warmup + self.times:
            self.noted += spread
        save(self.doc, self.folder)
        if result.status == "failed":  # did not start, or its server died: not run again
            unit.over = True


def measure(
    plan: RunPlan,
    variants: tuple[Variant, ...],
    folder: Path,
    events: Events | None = None,
    runs: int | None = None,
    warmup: int = 0,
) -> RunDocument:
    """``run_scenario`` on the engine's event loop, for a command (Ctrl-C: KeyboardInterrupt, run saved)."""
    return loops.run(run_scenario(plan, variants, folder, events, runs, warmup))


def _attempt(name: str, k: int, warmup: int, times: int) -> tuple[str, str]:
    """How the k-th attempt at a variant is shown, and its subfolder (the variant's own if it runs once)."""
    if warmup + times == 1:
        return name, ""
    if k <= warmup:
        return f"{name} (warm-up {k})", f"warmup-{k}"
    return f"{name}#{k - warmup}", f"run-{k - warmup}"
