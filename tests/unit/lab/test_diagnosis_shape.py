"""The diagnosis crosses a process boundary as JSON: what the child writes is what the model reads."""

from __future__ import annotations

from pathlib import Path

from bench.lab.witness import Call
from bench.model.ownapp_calls import FoundCall


def test_a_found_call_is_written_with_the_models_fields_and_read_back(tmp_path: Path) -> None:
    call = Call("time.sleep", str(tmp_path / "app.py"), 15, ["send"], True, "sleep", seconds=10.0, function="send")
    written = call.found(tmp_path)
    assert set(written) == set(FoundCall.model_fields)  # nothing more, nothing less: the model forbids extras
    read = FoundCall.model_validate(written)
    assert (read.call, read.file, read.line, read.seconds) == ("time.sleep", "app.py", 15, 10.0)
