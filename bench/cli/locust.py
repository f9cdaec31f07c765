"""``bench locust VARIANT``: Locust against a lab variant, in its web UI or headless, with the ledger's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bench import results
from bench.cli import console, status
from bench.cli.app_options import app_settings, own_app_options
from bench.cli.options import (
    FiniteRange,
    complete_scenario,
    complete_variant,
    results_option,
    scenarios_option,
    time_scale_option,
)
from bench.errors import BenchError
from bench.lab.ownapp import own_variants, resolve_all
from bench.lab.plan import RunPlan
from bench.lab.session import new_run_id
from bench.locust.run import DEFAULT_UI_PORT, LocustOptions, check_port_free
from bench.locust.session import under_locust
from bench.report import terminal


@click.command("locust")
@click.argument("variant", required=False, shell_complete=complete_variant)
@click.option("--app", "app", default=None, metavar="[NAME=]PATH.py:ATTR", help="Your own app instead of a variant.")
@own_app_options()
@click.option(
    "--scenario",
    "scenario_name",
    shell_complete=complete_scenario,
    default="four-tabs",
    show_default=True,
    help="The scenario whose work (kind and duration) the variant does.",
)
@time_scale_option
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_UI_PORT,
    show_default=True,
    help="The web UI's port on 127.0.0.1.",
)
@click.option("--headless", is_flag=True, help="No web UI: run --users for --run-time and report.")
@click.option("-u", "--users", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option(
    "-r",
    "--spawn-rate",
    type=FiniteRange(0.1, 10_000),
    default=10.0,
    show_default=True,
    help="Users started per second.",
)
@click.option(
    "-t",
    "--run-time",
    type=FiniteRange(1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds of load (headless).",
)
@click.option(
    "--pace",
    type=FiniteRange(0, 3600),
    default=1.0,
    show_default=True,
    help="Seconds between one user's requests (Locust's constant_pacing); 0: no wait at all.",
)
@click.option(
    "--processes",
    "--workers",
    "processes",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="Local Locust worker processes under a master (Locust's distributed mode); 0: one Locust process. "
    "(--workers is kept as an alias; it does not mean uvicorn workers here.)",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run document on stdout and nothing else.")
@results_option
@scenarios_option
def command(
    variant: str | None,
    app: str | None,
    scenario_name: str,
    time_scale: float,
    port: int,
    headless: bool,
    users: int,
    spawn_rate: float,
    run_time: float,
    pace: float,
    processes: int,
    as_json: bool,
    out_dir: Path,
    scenarios_file: Path | None,
    **own_app: Any,
) -> None:
    """Load VARIANT (or --app) with Locust: its web UI (default) or headless, and report the work Locust cannot see."""
    if (variant is None) == (app is None):
        raise BenchError("give a VARIANT of the lab or --app PATH.py:ATTR (one of the two)")
    console.clean_up(out_dir)
    catalog = console.catalog(scenarios_file)
    sc = catalog.scenario(scenario_name)
    if app is not None:
        (chosen,) = own_variants((app,), app_settings(own_app))
    elif variant in catalog.variants:
        chosen = catalog.variants[variant]
    else:
        raise BenchError(f"unknown variant {variant!r}; known: {', '.join(catalog.variants)}")
    if not headless:
        check_port_free(port)
    plan = RunPlan.of(sc, time_scale, console.catalog_dir(catalog))
    options = LocustOptions(headless, users, spawn_rate, run_time, processes, port, pace)
    folder = results.prepare_folder(out_dir / new_run_id(f"locust-{chosen.name}"))
    (chosen,) = resolve_all((chosen,), folder)  # an own app is diagnosed first: one that does not import is bad input
    out = console.console()
    announce_on = console.err_console() if as_json else out
    try:
        doc = under_locust(plan, chosen, folder, options, announce_on.print, console.events_with_pages())
    except KeyboardInterrupt:
        raise status.Ended(
            status.INTERRUPTED, f"interrupted: Locust and the server stopped; run kept in {folder / results.RUN_FILE}"
        ) from None
    result = doc.variants[0]
    if as_json:
        console.echo_document(results.to_json(doc))
    elif result.summary is not None and result.summary.requests == 0:
        how = "the load was never started in the web UI" if not headless else "Locust sent nothing"
        out.print(f"no request was made: {how}; the run is kept in {folder / results.RUN_FILE}")
    else:
        out.print(terminal.build_run(doc))
        out.print(f"\n{console.saved_line(folder)}")
    console.check_saved(folder)
    if result.status == "failed":
        raise status.Ended(status.FAILED)
