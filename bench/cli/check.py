"""``bench check APP``: the diagnosis of your own app without a server, and four tabs predicted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bench.cli import console
from bench.cli.app_options import app_settings, own_app_options
from bench.cli.options import (
    scenarios_option,
)
from bench.lab.ownapp import diagnosis_of, parse_app_option
from bench.model.ownapp import infer, predictions
from bench.report import terminal


@click.command("check")
@click.argument("app")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON and nothing else.")
@own_app_options(done_marker=False)
@scenarios_option
def command(app: str, as_json: bool, scenarios_file: Path | None, **own_app: Any) -> None:
    """Diagnose APP (PATH.py:ATTR) without a server: the blocking calls, and four tabs predicted."""
    _, own = parse_app_option(app, app_settings(own_app))
    diagnosis, own = diagnosis_of(own)
    if own.interpreter_said and not as_json:
        click.echo(own.interpreter_said, err=True)
    diagnosis = diagnosis.model_copy(update={"app": app})  # shown as typed
    strategy = infer(diagnosis)
    tabs = console.catalog(scenarios_file).scenario("four-tabs").load
    d = strategy.seconds_written
    rows = predictions(strategy, d or 1.0, tabs.clients or 4, tabs.gap, cpus=diagnosis.cpus or 1)
    if as_json:
        four_tabs = [{"fix": r.label, "all_responded_s": r.all_responded_s, "all_done_s": r.all_done_s} for r in rows]
        doc = {"diagnosis": diagnosis.model_dump(), "strategy": strategy.why, "d_written_s": d, "four_tabs": four_tabs}
        click.echo(json.dumps(doc, indent=2))
        return
    console.console().print(terminal.build_check(diagnosis, strategy, rows, tabs.clients or 4, tabs.gap))
