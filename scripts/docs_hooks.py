"""MkDocs hooks for the documentation site (``mkdocs.yml`` names this file).

``<!-- json-schema: NAME -->`` in a page becomes the JSON schema of the model
``bench.model.document.NAME``, generated at build time so that the reference cannot
drift from the code.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bench.model import document

MARKER = re.compile(r"^<!-- json-schema: (?P<name>\w+) -->$", re.M)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    def schema(m: re.Match[str]) -> str:
        model = getattr(document, m["name"])
        text = json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False)
        return f"```json\n{text}\n```"

    return MARKER.sub(schema, markdown)
