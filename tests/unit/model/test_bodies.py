from __future__ import annotations

import json

import pytest

from bench.model.bodies import NoBody, body_for, instance

COMPONENTS = {
    "schemas": {
        "Item": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 2},
                "price": {"type": "number", "exclusiveMinimum": 0},
                "count": {"type": "integer", "minimum": 1, "default": 3},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "owner": {"$ref": "#/components/schemas/Owner"},
                "note": {"anyOf": [{"type": "null"}, {"type": "string"}]},
            },
            "required": ["name", "price", "tags", "owner", "count"],
        },
        "Owner": {
            "type": "object",
            "properties": {"email": {"type": "string", "format": "email"}},
            "required": ["email"],
        },
    }
}


def test_the_smallest_valid_instance_of_a_fastapi_body() -> None:
    value = instance({"$ref": "#/components/schemas/Item"}, COMPONENTS)
    assert value == {"name": "xx", "price": 0.5, "tags": [""], "owner": {"email": "learner@example.com"}, "count": 3}


def test_examples_come_first() -> None:
    needs = {"schema": {"$ref": "#/components/schemas/Item"}, "components": COMPONENTS, "examples": [{"name": "a"}]}
    assert json.loads(body_for(needs)) == {"name": "a"}
    assert instance({"type": "integer", "example": 7}, {}) == 7
    assert instance({"enum": ["b", "c"]}, {}) == "b"


@pytest.mark.parametrize(
    "schema",
    [{"type": "string", "pattern": "^[A-Z]{3}$"}, {"$ref": "#/components/schemas/Missing"}, {"$ref": "http://x/y"}],
)
def test_what_cannot_be_built_says_so(schema: dict[str, object]) -> None:
    with pytest.raises(NoBody):
        instance(schema, COMPONENTS)
