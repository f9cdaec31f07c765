"""The README and the docs keep their promises: no placeholder, captures that the script can
refresh, a front door that fits, and a site that builds strictly."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.factories import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = {
    p.relative_to(ROOT): p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
}


def test_no_placeholder_is_left() -> None:
    assert not re.search(r"^\{[A-Za-z_]+\}$", README, re.M)
    assert "not captured yet" not in README and "captured by scripts/refresh_readme.py" not in README


def test_every_capture_is_well_formed_and_names_its_command() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "refresh_readme.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    captures = list(re.finditer(r"^<!-- capture: (.+?) -->\n```text\n\$ (.+)\n", README, re.M))
    assert len(captures) == README.count("<!-- capture: ") > 0  # every marked block is a capture, and one at least
    for page, text in PAGES.items():
        blocks = list(re.finditer(r"^<!-- capture: (.+?) -->\n```text\n\$ (.+)\n", text, re.M))
        assert len(blocks) == text.count("<!-- capture: "), page
        for m in blocks:
            assert m[1] == m[2], page  # the block shows the command that produced it


def test_the_captured_run_shows_the_current_report() -> None:
    block = README.split("<!-- capture: bench run four-tabs --time-scale 0.1 -->", 1)[1].split("<!-- end capture -->")[
        0
    ]
    for title in ("Response time (s)", "Work (s)", "served by", "Probes during the load", "The claims, checked"):
        assert title in block


def test_tables_are_not_split_by_blank_lines() -> None:
    lines = README.splitlines()
    for i in range(1, len(lines) - 1):
        if not lines[i].strip():
            assert not (lines[i - 1].startswith("| ") and lines[i + 1].startswith("| `")), f"line {i + 1}"


def test_the_front_door_fits() -> None:
    assert len(README.splitlines()) <= 250  # the rest belongs in docs/
    for link in re.findall(r"\]\((docs/[^)#]+)", README):
        assert (ROOT / link).is_file(), link


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    beside = Path(sys.executable).parent / "mkdocs"  # the venv's, even when it is not activated
    mkdocs = str(beside) if beside.exists() else "mkdocs"
    done = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    commands = (tmp_path / "site" / "reference" / "commands" / "index.html").read_text(encoding="utf-8")
    assert "bench run" in commands and "--time-scale" in commands  # generated from the commands' --help
    schema = (tmp_path / "site" / "reference" / "run-document" / "index.html").read_text(encoding="utf-8")
    assert "schema_version" in schema and "VariantResult" in schema  # generated from the model
