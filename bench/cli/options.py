"""The command line's shared options and types: one definition per option, used by every command."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

from bench.errors import BenchError, quoted
from bench.model.request import RequestSpec
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


ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env_pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not ENV_NAME.match(key):
            raise click.BadParameter(f"{quoted(text)}: give KEY=VALUE, KEY letters, digits and _", ctx, param)
        pairs.append((key, value))
    return tuple(pairs)


def app_shape_options(f: F) -> F:
    """How your own app is built and configured: a factory, its settings."""
    f = click.option(
        "--env",
        "env",
        multiple=True,
        metavar="KEY=VALUE",
        callback=_env_pairs,
        help="Own apps: a setting the app reads from its environment (repeatable).",
    )(f)
    f = click.option(
        "--python",
        "python",
        default=None,
        metavar="PATH",
        help="Own apps: the Python (your project's) that runs the app and its diagnosis "
        "[default: a .venv/ or venv/ beside the app, else the active VIRTUAL_ENV, else the harness's].",
    )(f)
    return click.option(
        "--factory",
        is_flag=True,
        help="Own apps: ATTR is a function that builds the app, as uvicorn --factory has it.",
    )(f)


REQUEST_OPTIONS = (
    click.option(
        "-m",
        "--method",
        default="GET",
        show_default=True,
        help="The request's method (GET, POST, PUT, PATCH, DELETE, OPTIONS).",
    ),
    click.option(
        "-H", "--header", "headers", multiple=True, metavar="'NAME: VALUE'", help="A header to send (repeatable)."
    ),
    click.option("--body", default=None, help="The request's body, as typed."),
    click.option(
        "--body-file",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        default=None,
        help="The request's body, the bytes of this file.",
    ),
    click.option(
        "--content-type", default=None, help="The body's Content-Type [default: application/json for {…} or […]]."
    ),
)


def request_options(f: F) -> F:
    """What each request sends besides its path, as curl, hey and oha users type it."""
    for option in reversed(REQUEST_OPTIONS):
        f = option(f)
    return f


def request_of(
    method: str, headers: tuple[str, ...], body: str | None, body_file: Path | None, content_type: str | None
) -> RequestSpec:
    """The request options as one validated ``RequestSpec`` (bad values: one line, exit 2)."""
    if body is not None and body_file is not None:
        raise BenchError("--body and --body-file: give one of the two")
    payload = body.encode() if body is not None else body_file.read_bytes() if body_file is not None else None
    return RequestSpec.of(method, headers, payload, content_type)


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
