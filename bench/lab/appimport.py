"""Finding and importing a learner's app, as uvicorn would: ``PATH.py:ATTR`` (a file inside a
package imported as the package's module) or ``module:attr``, and ``--factory``.

Standard library only: it runs in the diagnosis child (``bench.lab.diagnose``), in the
learner's interpreter.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any


class BadApp(Exception):
    """The app cannot be diagnosed: the message says why, in the learner's words."""


def module_of(file: Path) -> tuple[Path, str]:
    """The folder to import ``file`` from, and its dotted module name: up through every folder
    that is a package (has ``__init__.py``), as pytest and uvicorn find a package's root, so
    that ``pkg_app/main.py`` is ``pkg_app.main`` and its relative imports work."""
    file = file.resolve()
    parts = [] if file.name == "__init__.py" else [file.stem]
    folder = file.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


def import_app(spec: str, factory: bool = False) -> tuple[Any, ModuleType, Path]:
    """``PATH.py:ATTR`` or ``module:attr`` (importable from the current folder); with ``factory``,
    ATTR is called to build the app, as ``uvicorn --factory`` does."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr.isidentifier():
        raise BadApp(f"{spec}: give the app as PATH.py:ATTR or module:attr, e.g. background_tasks.py:app")
    if target.endswith(".py"):
        path = Path(target).resolve()
        if not path.is_file():
            raise BadApp(f"{target}: no such file")
        folder, module_name = module_of(path)
    else:
        folder, module_name = Path.cwd(), target
    sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(module_name)
    except SystemExit as exc:
        raise BadApp(f"{target}: importing it exited (code {exc.code})") from None
    except BaseException as exc:  # the learner's code may raise anything on import
        raise BadApp(f"{target}: importing it failed:\n{tail(exc)}") from None
    if not hasattr(module, attr):
        raise BadApp(f"{target} has no attribute {attr!r}")
    app = getattr(module, attr)
    if factory:
        try:
            app = app()
        except BaseException as exc:  # the learner's factory may raise anything
            raise BadApp(f"{spec}: calling the factory failed:\n{tail(exc)}") from None
    elif inspect.isfunction(app) and not _required_parameters(app):
        raise BadApp(f"{spec} is a function that takes no argument, not an app: if it builds one, add --factory")
    if not callable(app):
        raise BadApp(f"{spec} is not an ASGI app (not callable)")
    if inspect.isbuiltin(app) or (isinstance(app, type) and app.__module__ == "builtins"):
        raise BadApp(f"{spec} is Python's built-in {getattr(app, '__name__', app)!s}, not an ASGI app")
    file = getattr(module, "__file__", None)
    where = Path(file).resolve().parent if file else folder
    return app, module, where


def _required_parameters(function: Any) -> list[str]:
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return ["?"]
    return [p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def tail(exc: BaseException, lines: int = 8) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    return "\n".join(text.splitlines()[-lines:])
