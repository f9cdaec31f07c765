"""``bench serve [VARIANT]``: one variant, or your own app, on a port you pick, until Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import click

from bench import results
from bench.cli import console
from bench.cli.options import (
    app_shape_options,
    complete_scenario,
    complete_variant,
    results_option,
    scenarios_option,
    time_scale_option,
)
from bench.errors import BenchError
from bench.lab.ownapp import AppSettings, own_variants, resolve_all
from bench.lab.plan import RunPlan
from bench.lab.serving import serve
from bench.lab.session import new_run_id
from bench.model.request import RequestSpec


@click.command("serve")
@click.argument("variant", required=False, shell_complete=complete_variant)
@click.option("--app", "app", default=None, metavar="[NAME=]PATH.py:ATTR", help="Your own app instead of a variant.")
@app_shape_options
@click.option("--path", "route", default=None, help="Own apps: the route the printed examples use, {token} filled.")
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
    factory: bool,
    env: tuple[tuple[str, str], ...],
    python: str | None,
    route: str | None,
    port: int,
    scenario_name: str,
    time_scale: float,
    out_dir: Path,
    scenarios_file: Path | None,
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
        (chosen,) = own_variants((app,), AppSettings(route, None, RequestSpec(), None, "{token}", factory, env, python))
    elif variant in catalog.variants:
        chosen = catalog.variants[variant]
    else:
        raise BenchError(f"unknown variant {variant!r}; known: {', '.join(catalog.variants)}")
    folder = results.prepare_folder(out_dir / new_run_id(f"serve-{chosen.name}"))
    (chosen,) = resolve_all((chosen,), folder)  # an own app is diagnosed first: one that does not import is bad input
    out = console.console()
    serve(plan, chosen, folder / chosen.name, port, lambda line: out.print(line, soft_wrap=True))
    out.print("stopped: the server and everything it started")
