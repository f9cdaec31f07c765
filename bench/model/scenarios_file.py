"""Reading a scenarios file: YAML text into a validated ``Catalog``, every problem said as
``file:line: field: what is wrong``.

Pure: the text comes in (``bench.lab.catalog`` reads the file); the line of every field is
kept from the YAML node tree so that a pydantic error can name where it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml
from pydantic import ValidationError

from bench.errors import BenchError
from bench.model.scenario import SAME_URL_SUFFIX, Catalog, Frozen, Scenario, Variant

MAX_DEPTH = 50  # levels of nesting: a real scenarios file has five
MAX_NODES = 20_000  # values once aliases are expanded: a real one has a few hundred ("billion laughs")
# libyaml's composer when PyYAML was built with it: 5 ms for the project's file against 100 ms in pure
# Python, paid by every command that reads the catalog. Its nodes carry the same marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_catalog(text: str, source: str) -> Catalog:
    if "\0" in text:
        raise BenchError(f"{source}: not a scenarios file (it holds binary data)")
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except RecursionError:  # pure Python's composer
        raise _too_deep(source) from None
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):  # libyaml's limit, 1,000 levels
            raise _too_deep(source) from None
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BenchError(f"{where}: not valid YAML: {problem}") from None
    if root is None:
        raise BenchError(f"{source}: the file is empty; it needs 'variants:' and 'scenarios:'")
    lines: dict[tuple[str | int, ...], int] = {}
    data = _to_python(root, (), lines, source, [0])
    return _validate(data, lines, source)


def _too_deep(source: str) -> BenchError:
    return BenchError(f"{source}: nested too deeply to be a scenarios file (at most {MAX_DEPTH} levels)")


def _to_python(
    node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int], source: str, seen: list[int]
) -> Any:
    """Build plain data from the YAML node tree, remembering the line of every field; within
    ``MAX_DEPTH`` levels and ``MAX_NODES`` values (``seen`` counts them: an alias is expanded
    each time it is used, and nested aliases grow exponentially)."""
    seen[0] += 1
    if seen[0] > MAX_NODES:
        raise BenchError(
            f"{source}: more than {MAX_NODES:,} values once its aliases are expanded: not a scenarios file"
        )
    if len(path) > MAX_DEPTH:
        raise BenchError(f"{source}:{node.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise BenchError(f"{source}:{key_node.start_mark.line + 1}: '<<' merge keys are not supported")
            if not isinstance(key_node, yaml.ScalarNode):
                raise BenchError(f"{source}:{key_node.start_mark.line + 1}: a key must be a plain name")
            key = str(key_node.value)
            here = (*path, key)
            if key in out:
                raise BenchError(f"{source}:{key_node.start_mark.line + 1}: {_dotted(here)}: duplicate key")
            lines[here] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, here, lines, source, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines, source, seen) for i, item in enumerate(node.value)]
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except Exception:
        tag = str(node.tag).rpartition(":")[2] or str(node.tag)
        raise BenchError(
            f"{source}:{node.start_mark.line + 1}: {str(node.value)[:40]!r} is not a valid {tag}"
        ) from None


def _dotted(path: Iterable[str | int]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")


def _error(source: str, lines: dict[tuple[str | int, ...], int], path: tuple[str | int, ...], msg: str) -> BenchError:
    # The deepest prefix of the path that has a line in the file (pydantic adds parts
    # such as the union member's type that the file does not have).
    probe = path
    while probe and probe not in lines:
        probe = probe[:-1]
    line = lines.get(probe, 1)
    field = _dotted(p for p in path if not (isinstance(p, str) and re.match(r"^(int|str|float|literal\[)", p)))
    return BenchError(f"{source}:{line}: {field or '(top level)'}: {msg}")


def _validate(data: Any, lines: dict[tuple[str | int, ...], int], source: str) -> Catalog:
    if not isinstance(data, dict):
        raise _error(source, lines, (), "the file must be a mapping with 'variants:' and 'scenarios:'")
    unknown_top = sorted(set(data) - {"variants", "scenarios"})
    if unknown_top:
        raise _error(source, lines, (unknown_top[0],), "unknown section (expected 'variants' and 'scenarios')")
    sections: dict[str, dict[str, Any]] = {}
    for section in ("variants", "scenarios"):
        value = data.get(section)
        if not isinstance(value, dict) or not value:
            raise _error(source, lines, (section,), f"'{section}' must be a non-empty mapping of name to entry")
        sections[section] = value

    variants = {
        name: _model(
            Variant,
            {"name": name, **_mapping(entry, source, lines, ("variants", name))},
            source,
            lines,
            ("variants", name),
        )
        for name, entry in sections["variants"].items()
    }
    scenarios = {
        name: _model(
            Scenario,
            {"name": name, **_mapping(entry, source, lines, ("scenarios", name))},
            source,
            lines,
            ("scenarios", name),
        )
        for name, entry in sections["scenarios"].items()
    }
    for name, scenario in scenarios.items():
        for i, variant in enumerate(scenario.variants):
            if variant not in variants:
                raise _error(
                    source,
                    lines,
                    ("scenarios", name, "variants", i),
                    f"unknown variant {variant!r}; known: {', '.join(variants)}",
                )
        seen: set[str] = set()
        runs = set(scenario.variants) if scenario.load.urls != "same" else set()
        if scenario.load.urls != "distinct":
            runs |= {v + SAME_URL_SUFFIX for v in scenario.variants}
        for i, claim in enumerate(scenario.claims):
            if claim.variant not in runs:  # repeated runs of "name" are one result, checked as "name"
                raise _error(
                    source,
                    lines,
                    ("scenarios", name, "claims", i, "variant"),
                    f"claim {claim.id} names {claim.variant!r}, which this scenario does not run",
                )
            if claim.id in seen:
                raise _error(source, lines, ("scenarios", name, "claims", i, "id"), f"duplicate claim id {claim.id!r}")
            seen.add(claim.id)
    return Catalog(source=source, variants=variants, scenarios=scenarios)


def _mapping(
    entry: Any, source: str, lines: dict[tuple[str | int, ...], int], path: tuple[str | int, ...]
) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise _error(source, lines, path, "must be a mapping of fields")
    if "name" in entry:
        raise _error(source, lines, (*path, "name"), "the name is the entry's key; remove this field")
    return entry


def _model(
    cls: type[Frozen],
    data: dict[str, Any],
    source: str,
    lines: dict[tuple[str | int, ...], int],
    path: tuple[str | int, ...],
) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        msg = first["msg"]
        if first["type"] == "extra_forbidden":
            msg = "unknown field"
        elif first["type"] == "missing":
            msg = "required field is missing"
        elif "input" in first and first["type"] not in ("value_error",):
            msg = f"{msg} (got {first['input']!r})"
        msg = msg.removeprefix("Value error, ")
        raise _error(source, lines, (*path, *loc), msg) from None
