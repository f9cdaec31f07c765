"""The one base of every pydantic model the lab writes and reads back: run documents, load
figures, the diagnosis of an own app.

Strict about names (``extra="forbid"``): a field the code does not know is a mistake to
say, not data to drop silently. Documents of older schemas are migrated before they are
validated (``bench.results``), not read loosely.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Foreign(Record):
    """Another tool's output read as it comes (Locust's JSON): the fields the lab uses are
    typed, the ones it does not know are left out, since that tool may add some."""

    model_config = ConfigDict(extra="ignore")
