"""``bench check APP``: the diagnosis of your own app without a server, four tabs predicted, and a gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bench.cli import console, status
from bench.cli.app_options import app_settings, own_app_options
from bench.cli.options import scenarios_option
from bench.lab.ownapp import diagnosis_of, every_route, parse_app_option
from bench.model.ownapp import Diagnosis, held_per_request, infer, predictions
from bench.report import check as report

GATE_DEFAULT_S = 0.1


@click.command("check")
@click.argument("app")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON and nothing else.")
@click.option(
    "--fail-on-blocking",
    "gate_s",
    type=click.FloatRange(min=0),
    is_flag=False,
    flag_value=GATE_DEFAULT_S,
    default=None,
    metavar="[SECONDS]",
    help=f"Exit 3 when a route holds the event loop longer than SECONDS per request [flag alone: {GATE_DEFAULT_S:g}].",
)
@own_app_options(done_marker=False)
@scenarios_option
def command(app: str, as_json: bool, gate_s: float | None, scenarios_file: Path | None, **own_app: Any) -> None:
    """Diagnose APP (PATH.py:ATTR) without a server: what holds the event loop, and four tabs predicted.

    With no --path or --route, every route of the app is diagnosed, into one table."""
    settings = app_settings(own_app)
    _, own = parse_app_option(app, settings)
    tabs = console.catalog(scenarios_file).scenario("four-tabs").load
    clients = tabs.clients or 4
    if settings.path is None and settings.route is None:
        found, own = every_route(own)
        if len(found) == 1 and found[0].bad is None:
            diagnoses = found
        else:
            _say_interpreter(own.interpreter_said, as_json)
            _every(app, found, clients, tabs.gap, as_json)
            _gate(found, gate_s)
            return
    else:
        one, own = diagnosis_of(own)
        diagnoses = [one]
    _say_interpreter(own.interpreter_said, as_json)
    diagnosis = diagnoses[0].model_copy(update={"app": app})  # shown as typed
    strategy = infer(diagnosis)
    d = strategy.seconds_written
    rows = predictions(strategy, d or 1.0, clients, tabs.gap, cpus=diagnosis.cpus or 1)
    if as_json:
        four_tabs = [{"fix": r.label, "all_responded_s": r.all_responded_s, "all_done_s": r.all_done_s} for r in rows]
        doc = {"diagnosis": diagnosis.model_dump(), "strategy": strategy.why, "d_written_s": d, "four_tabs": four_tabs}
        click.echo(json.dumps(doc, indent=2))
    else:
        console.console().print(report.build_check(diagnosis, strategy, rows, clients, tabs.gap))
    _gate([diagnosis], gate_s)


def _say_interpreter(said: str | None, as_json: bool) -> None:
    if said and not as_json:
        click.echo(said, err=True)


def _every(app: str, found: list[Diagnosis], clients: int, gap_s: float, as_json: bool) -> None:
    rows = []
    for d in found:
        strategy = infer(d) if d.bad is None else None
        tabs = None
        if strategy is not None:
            tabs = predictions(strategy, strategy.seconds_written or 1.0, clients, gap_s, cpus=d.cpus or 1)[0]
        rows.append((d, strategy, tabs))
    if as_json:
        out = [
            {
                "diagnosis": d.model_dump(),
                "strategy": s.why if s else None,
                "held_s": held_per_request(d),
                "four_tabs_all_done_s": t.all_done_s if t else None,
            }
            for d, s, t in rows
        ]
        click.echo(json.dumps({"app": app, "routes": out}, indent=2))
        return
    console.console().print(report.build_check_every(app, rows, clients, gap_s))


def _gate(found: list[Diagnosis], gate_s: float | None) -> None:
    if gate_s is None:
        return
    over = [(d, held_per_request(d)) for d in found if d.bad is None and held_per_request(d) > gate_s]
    if over:
        which = "; ".join(f"{d.method} {d.path} holds it {held:.3f} s" for d, held in over)
        raise status.Ended(
            status.GATE, f"--fail-on-blocking: {len(over)} route(s) hold the event loop over {gate_s:g} s: {which}"
        )
