"""The README keeps its promises: no placeholder, captures that the script can refresh."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.factories import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


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
    for m in captures:
        assert m[1] == m[2]  # the block shows the command that produced it


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
