"""The command line's shared options and types: one definition per option, used by every command."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

from bench.model.scenario import CLIENT_KINDS

F = TypeVar("F", bound=Callable[..., Any])


class FiniteRange(click.FloatRange):
    """``click.FloatRange`` that also refuses NaN and the infinities (NaN passes every
    comparison a range makes, so FloatRange alone lets it through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def scenarios_option(f: F) -> F:
    return click.option(
        "--scenarios",
        "scenarios_file",
        type=click.Path(path_type=Path),
        default=None,
        help="A scenarios file other than the project's scenarios.yaml.",
    )(f)


def client_option(f: F) -> F:
    return click.option(
        "--client",
        type=click.Choice(CLIENT_KINDS),
        default="raw",
        show_default=True,
        help="The load's HTTP client: the raw asyncio client, or a shared httpx.AsyncClient "
        "(to see what a slow client does to the figures).",
    )(f)


def time_scale_option(f: F) -> F:
    return click.option(
        "--time-scale",
        type=FiniteRange(min=0.001, max=10.0),
        default=1.0,
        show_default=True,
        help="Multiply every duration (work, gaps, theory): 0.1 turns 10 s into 1 s.",
    )(f)


def results_option(f: F) -> F:
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("results"),
        show_default=True,
        help="Folder that holds the runs.",
    )(f)


# Shell completion (bench --help tells how to turn it on): names read from the scenarios
# file and the results folder as the user types. A completion must never fail loudly.


def _catalog_names(ctx: click.Context, which: str) -> list[tuple[str, str]]:
    from bench.lab.catalog import default_scenarios_path, load_catalog

    try:
        catalog = load_catalog(ctx.params.get("scenarios_file") or default_scenarios_path())
    except Exception:
        return []
    if which == "scenarios":
        return [(name, sc.title) for name, sc in catalog.scenarios.items()]
    return [(name, v.title) for name, v in catalog.variants.items()]


def complete_scenario(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(n, help=t) for n, t in _catalog_names(ctx, "scenarios") if n.startswith(incomplete)]


def complete_variant(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """A variant, or the next of a comma-separated list (--variants sync,asy<TAB>)."""
    done, _, last = incomplete.rpartition(",")
    prefix = f"{done}," if done else ""
    return [CompletionItem(prefix + n, help=t) for n, t in _catalog_names(ctx, "variants") if n.startswith(last)]


def complete_run(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    folder = Path(ctx.params.get("out_dir") or "results")
    try:
        runs = sorted(p.parent.name for p in folder.glob("*/run.json"))
    except OSError:
        return []
    return [CompletionItem(r) for r in reversed(runs) if r.startswith(incomplete)]
