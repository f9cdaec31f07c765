"""A valid body for a route that takes one, from the app's own OpenAPI schema (pure).

The app's examples come first (the request body's, then the schema's), then each field's
default; what is left is the smallest value the schema allows: the minimum of a number,
a string of its minimum length (or of its format: an e-mail address, a UUID, a date), the
first of an enum, an array of its minimum items, an object of its required properties
only. ``$ref`` is resolved in the OpenAPI document's ``components``.

Why not a library: hypothesis-jsonschema 0.23.1, the newest there is, fails on every object
schema with today's Hypothesis (``'many' object has no attribute 'more'``), and polyfactory
builds instances from the pydantic classes, which live in the learner's process, not here.
This covers what FastAPI writes into an OpenAPI document for a pydantic body.
"""

from __future__ import annotations

import json
from typing import Any

FORMATS = {
    "email": "learner@example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "00:00:00",
    "uri": "http://127.0.0.1/",
    "ipv4": "127.0.0.1",
}
DEPTH = 20  # a recursive model stops here, with its required fields only


class NoBody(Exception):
    """The schema allows no value this builder can make: the learner gives ``--body``."""


def body_for(needs: dict[str, Any]) -> str:
    """The JSON text of a valid body (``needs``: the route's schema, its components, its examples)."""
    examples = needs.get("examples") or []
    if examples:
        return json.dumps(examples[0])
    return json.dumps(instance(needs["schema"], needs.get("components", {})))


def instance(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """The simplest value ``schema`` allows."""
    if depth > DEPTH:
        raise NoBody("the schema nests deeper than a body can be built")
    if "$ref" in schema:
        return instance(_resolve(schema["$ref"], components), components, depth + 1)
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:  # the first choice that is not null
            choices = [c for c in schema[key] if c.get("type") != "null"] or schema[key]
            return instance(choices[0], components, depth + 1)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = instance(part, components, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: instance(properties.get(name, {}), components, depth + 1) for name in schema.get("required", [])}
    if kind == "array":
        item = instance(schema.get("items", {}), components, depth + 1)
        return [item] * int(schema.get("minItems", 0))
    if kind in ("integer", "number"):
        return _number(schema, kind)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if kind == "string":
        if schema.get("format") in FORMATS:
            return FORMATS[schema["format"]]
        if "pattern" in schema:
            raise NoBody(f"a string of the pattern {schema['pattern']!r}")
        return "x" * int(schema.get("minLength", 0))
    raise NoBody(f"a value of type {kind!r}")


def _number(schema: dict[str, Any], kind: str) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    value: int | float = 0 if low is None else low
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        value = schema["exclusiveMinimum"] + (1 if kind == "integer" else 0.5)
    high = schema.get("maximum")
    if high is not None and value > high:
        raise NoBody(f"a number from {low} to {high}")
    return int(value) if kind == "integer" else value


def _resolve(ref: str, components: dict[str, Any]) -> dict[str, Any]:
    prefix = "#/components/"
    if not ref.startswith(prefix):
        raise NoBody(f"a reference outside the document ({ref})")
    node: Any = components
    for part in ref[len(prefix) :].split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        raise NoBody(f"an unknown reference ({ref})")
    return node
