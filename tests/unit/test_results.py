from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.model.document import RunDocument
from bench.results import RUN_FILE, find_run, load, save
from tests.factories import run_document


def test_round_trip(tmp_path: Path) -> None:
    doc = run_document()
    path = save(doc, tmp_path / doc.run_id)
    assert path.name == RUN_FILE
    assert load(path) == doc
    assert load(path.parent) == doc
    assert [p.name for p in path.parent.iterdir()] == [RUN_FILE]  # no temp file left behind


def test_the_contract_later_checks_rely_on(tmp_path: Path) -> None:
    raw = json.loads(save(run_document(), tmp_path / "r").read_text())
    assert {"scenario", "time_scale", "environment", "variants"} <= set(raw)
    variant = raw["variants"][0]
    assert {"name", "summary", "expected", "claims", "requests"} <= set(variant)
    assert {
        "all_responded_s",
        "all_done_s",
        "response_p50_s",
        "response_p99_s",
        "response_max_s",
        "parallelism",
        "lost",
        "errors",
    } <= set(variant["summary"])
    assert "all_done_s" in variant["expected"]
    assert {"id", "holds", "measured"} <= set(variant["claims"][0])
    assert {"client", "sent_s", "responded_s", "done_s", "status", "pid"} <= set(variant["requests"][0])


def test_saving_again_replaces_the_whole_file(tmp_path: Path) -> None:
    doc = run_document()
    save(doc, tmp_path)
    doc.variants = doc.variants[:1]
    doc.status = "interrupted"
    save(doc, tmp_path)
    again = load(tmp_path)
    assert again.status == "interrupted" and len(again.variants) == 1


def test_find_run_by_id_path_or_newest(tmp_path: Path) -> None:
    for run_id in ("20260101-000000-a", "20260102-000000-b"):
        save(run_document(run_id), tmp_path / run_id)
    assert find_run(None, tmp_path).parent.name == "20260102-000000-b"
    assert find_run("20260101-000000-a", tmp_path).name == "20260101-000000-a"
    assert find_run(str(tmp_path / "20260101-000000-a" / RUN_FILE), tmp_path).name == RUN_FILE
    with pytest.raises(BenchError, match=r"no run 'nope'.*20260102-000000-b"):
        find_run("nope", tmp_path)


def test_no_runs_yet(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no runs in"):
        find_run(None, tmp_path / "empty")


@pytest.mark.parametrize("content", ["{not json", '{"run_id": 3}', "[]"])
def test_a_broken_run_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    (tmp_path / RUN_FILE).write_text(content)
    with pytest.raises(BenchError, match=RUN_FILE):
        load(tmp_path)


def test_a_document_of_another_schema_version_is_one_line(tmp_path: Path) -> None:
    path = save(run_document(), tmp_path)
    raw = json.loads(path.read_text())
    raw["schema_version"] = 1
    path.write_text(json.dumps(raw))
    with pytest.raises(BenchError, match=r"schema version 1, and this bench reads versions 2, 3") as info:
        load(tmp_path)
    assert "\n" not in str(info.value)


def test_a_version_2_document_still_reads(tmp_path: Path) -> None:
    # version 2 kept each repetition as its own variant, with a "repetition" field: read as is
    path = save(run_document(), tmp_path)
    raw = json.loads(path.read_text())
    raw["schema_version"] = 2
    raw.pop("kind")
    for k, v in enumerate(raw["variants"]):
        v["repetition"] = k
    path.write_text(json.dumps(raw))
    doc = load(tmp_path)
    assert isinstance(doc, RunDocument) and doc.schema_version == 3 and len(doc.variants) == 3
