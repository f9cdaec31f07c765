"""``bench serve [VARIANT]``: one variant, or your own app, on a port you pick, until Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bench import results
from bench.cli import console
from bench.cli.app_options import app_settings, own_app_options
from bench.cli.options import (
    complete_scenario,
    complete_variant,
    results_option,
    scenarios_option,
    time_scale_option,
)
from bench.errors import BenchError
from bench.lab.ownapp import own_variants, resolve_all
from bench.lab.plan import RunPlan
from bench.lab.serving import serve
from bench.lab.session import new_run_id


@click.command("serve")
@click.argument("variant", required=False, shell_complete=complete_variant)
@click.option("--app", "app", default=None, metavar="[NAME=]PATH.py:ATTR", help="Your own app instead of a variant.")
@own_app_options(done_marker=False)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="The port on 127.0.0.1.")
@click.option(
    "--scenario",
    "scenario_name",
    shell_complete=complete_scenario,
    default="four-tabs",
    show_default=True,
    help="The scenario whose work (kind and duration) the variant does.",
)
@time_scale_option
@results_option
@scenarios_option
def command(
    variant: str | None,
    app: str | None,
    port: int,
    scenario_name: str,
    time_scale: float,
    out_dir: Path,
    scenarios_file: Path | None,
    **own_app: Any,
) -> None:
    """Serve VARIANT (or --app) on 127.0.0.1:PORT in the foreground, for tabs, curl, bench load or Locust.

    Its notification.log, ledger and server log go into a folder under --out. Ctrl-C stops it
    and everything it started (a Celery worker, a Redis)."""
    if (variant is None) == (app is None):
        raise BenchError("give a VARIANT of the lab or --app PATH.py:ATTR (one of the two)")
    console.clean_up(out_dir)
    catalog = console.catalog(scenarios_file)
    plan = RunPlan.of(catalog.scenario(scenario_name), time_scale, console.catalog_dir(catalog))
    if app is not None:
        (chosen,) = own_variants((app,), app_settings(own_app))
    elif variant in catalog.variants:
        chosen = catalog.variants[variant]
    else:
        raise BenchError(f"unknown variant {variant!r}; known: {', '.join(catalog.variants)}")
    folder = results.prepare_folder(out_dir / new_run_id(f"serve-{chosen.name}"))
    (chosen,) = resolve_all((chosen,), folder)  # an own app is diagnosed first: one that does not import is bad input
    out = console.console()
    serve(plan, chosen, folder / chosen.name, port, lambda line: out.print(line, soft_wrap=True))
    out.print("stopped: the server and everything it started")
