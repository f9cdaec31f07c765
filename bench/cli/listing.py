"""``bench list``: the scenarios and the variants, one line each."""

from __future__ import annotations

from pathlib import Path

import click

from bench.cli import console
from bench.cli.options import scenarios_option
from bench.model.document import Scaled
from bench.report.words import describe_load


@click.command("list")
@scenarios_option
def command(scenarios_file: Path | None) -> None:
    """The scenarios and the variants, one line each."""
    catalog = console.catalog(scenarios_file)
    width = max(map(len, [*catalog.scenarios, *catalog.variants])) + 2
    click.echo("scenarios")
    for name, sc in catalog.scenarios.items():
        load = sc.load
        at_scale = Scaled(
            work_s=sc.work.seconds,
            gap_s=load.gap,
            duration_s=load.duration,
            rate=load.rate,
            client=load.client or "raw",
        )
        how = describe_load(load, at_scale)
        click.echo(
            f"  {name:<{width}}{sc.title} ({how}; {sc.work.seconds:g} s of {sc.work.kind} work each; "
            f"variants: {', '.join(sc.variants)})"
        )
    click.echo("variants")
    for name, v in catalog.variants.items():
        workers = f" --workers {v.workers}" if v.workers > 1 else ""
        click.echo(f"  {name:<{width}}{v.title} ({v.app}{workers})")
