"""The options that say how to run your own app and what its requests send, shared by every
command that runs one (run, check, serve, locust; load takes the request options)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bench import contract
from bench.errors import BenchError, quoted
from bench.lab.ownapp import AppSettings
from bench.model.request import RequestSpec

F = TypeVar("F", bound=Callable[..., Any])


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


def own_app_options(done_marker: bool = True) -> Callable[[F], F]:
    """Every option that says how to run your own app, for each command that runs one: where the
    requests go and what they send, its done marker (``done_marker``), how it is built and
    under which Python. The command takes them as ``**own_app`` and hands them to ``app_settings``."""

    def decorate(f: F) -> F:
        f = app_shape_options(f)
        if done_marker:
            f = click.option(
                "--done-pattern",
                default="{token}",
                show_default=True,
                help="Own apps: a line of --done-file that marks the work of {token} done.",
            )(f)
            f = click.option(
                "--done-file",
                default=contract.HUMAN_LOG_FILE,
                show_default=True,
                help="Own apps: the file the app writes when a unit of work is done ('': none, done times unknown).",
            )(f)
        f = request_options(f)
        f = click.option(
            "--route", "pick", default=None, metavar="'METHOD /path'", help="Own apps: which route, if several."
        )(f)
        return click.option(
            "--path",
            "route",
            default=None,
            help="Own apps: the path requests go to, {token} filled [default: the app's route].",
        )(f)

    return decorate


def app_settings(own_app: dict[str, Any]) -> AppSettings:
    """The options of ``own_app_options`` as the lab takes them (bad values: one line, exit 2)."""
    request = request_of(
        own_app["method"], own_app["headers"], own_app["body"], own_app["body_file"], own_app["content_type"]
    )
    return AppSettings(
        path=own_app["route"],
        route=own_app["pick"],
        request=request,
        done_file=own_app.get("done_file") or None,
        done_pattern=own_app.get("done_pattern", "{token}"),
        factory=own_app["factory"],
        env=own_app["env"],
        python=own_app["python"],
    )
