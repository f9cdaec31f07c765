"""A ``bench locust`` run as a run document: the variant under Locust, saved like any run.

The document is saved before Locust starts, as ``running``; Ctrl-C saves it as
``interrupted`` (with what Locust measured until then, in a headless run); at the end it holds
the one variant Locust loaded. Its page is written either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bench import results
from bench.engine import loops
from bench.lab.plan import RunPlan
from bench.lab.session import new_document
from bench.locust.run import LocustOptions, run_locust
from bench.model.document import LocustLoad, RunDocument, Scaled, ScenarioAsRun
from bench.model.events import Events, RunEnded, no_events
from bench.model.scenario import Variant


def as_run(plan: RunPlan, variant: Variant, options: LocustOptions) -> ScenarioAsRun:
    """What was run, for the document: the scenario's work, Locust's load."""
    headless = options.headless
    load = LocustLoad(
        mode="headless" if headless else "web UI",
        users=options.users if headless else None,
        spawn_rate=options.spawn_rate if headless else None,
        run_time=options.run_time_s if headless else None,
        processes=options.processes,
        pace=options.pace_s,
    )
    return ScenarioAsRun(
        name=f"locust-{variant.name}",
        title=f"Locust against {variant.name} with the work of {plan.scenario.name}",
        work=plan.scenario.work,
        load=load,
        variants=[variant],
        scaled=Scaled(work_s=plan.work_s, client="locust"),
    )


def under_locust(
    plan: RunPlan,
    variant: Variant,
    folder: Path,
    options: LocustOptions,
    announce: Callable[[str], None],
    events: Events | None = None,
) -> RunDocument:
    """``locust_run`` on the engine's event loop, for a command."""
    return loops.run(locust_run(plan, variant, folder, options, announce, events))


async def locust_run(
    plan: RunPlan,
    variant: Variant,
    folder: Path,
    options: LocustOptions,
    announce: Callable[[str], None],
    events: Events | None = None,
) -> RunDocument:
    """Run ``variant`` under Locust, its document in ``folder``; ``announce`` prints Locust's address."""
    events = events or no_events()
    doc = new_document(folder, as_run(plan, variant, options), plan.time_scale)
    try:
        result, interrupted = await run_locust(plan, variant, folder / variant.name, options, announce)
    except (asyncio.CancelledError, KeyboardInterrupt):
        doc.status = "interrupted"
        results.save(doc, folder)
        events.emit(RunEnded(doc, folder))  # its page too, saying so
        raise
    doc.variants.append(result)
    doc.status = "interrupted" if interrupted else "complete"
    results.save(doc, folder)
    events.emit(RunEnded(doc, folder))
    if interrupted:  # what Locust measured until Ctrl-C is saved: now the command ends as interrupted
        raise KeyboardInterrupt
    return doc
