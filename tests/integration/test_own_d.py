"""d of a learner's app taken from its code when the diagnosis shows that is all of its work,
measured alone otherwise: listings written the way a learner writes them, in a folder of their own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.factories import four_tabs_on

ONE_SLEEP = """import asyncio

from fastapi import FastAPI

app = FastAPI()


@app.get("/notify/{device_token}")
async def notify(device_token: str):
    await asyncio.sleep(1.0)
    with open("notification.log", mode="a") as log:
        log.write(f"Successfully sent push notification to {device_token}\\n")
    return {"message": "Notification sent"}
"""
TWO_SLEEPS = ONE_SLEEP.replace("    await asyncio.sleep(1.0)\n", "    await asyncio.sleep(0.5)\n" * 2)


@pytest.fixture
def learner(tmp_path: Path) -> Path:
    folder = tmp_path / "learner"
    folder.mkdir()
    (folder / "one_sleep.py").write_text(ONE_SLEEP)
    (folder / "two_sleeps.py").write_text(TWO_SLEEPS)
    return folder


def variants(out: Any) -> list[dict[str, Any]]:
    assert out.returncode == 0, out.stderr
    found: list[dict[str, Any]] = json.loads(out.stdout)["variants"]
    return found


@pytest.mark.integration
def test_one_sleep_is_d_as_written_and_two_are_measured_alone(learner: Path, tmp_path: Path) -> None:
    apps = ["--app", "one=one_sleep.py:app", "--app", "two=two_sleeps.py:app"]
    out = four_tabs_on(learner, tmp_path / "r", "--path", "/notify/{token}", *apps)
    one, two = variants(out)
    assert one["work_s"] is None and any("d = 1 s as the code writes it" in n for n in one["notes"]), one["notes"]
    expected = one["expected"]["all_done_s"]
    assert expected == pytest.approx(1.0 + 3 * 0.03, abs=0.001)  # the written d, the last tab 0.09 s late
    assert one["summary"]["all_done_s"] == pytest.approx(expected, rel=0.025) and one["summary"]["lost"] == 0
    assert all(c["holds"] for c in one["claims"]), one["claims"]
    assert two["work_s"] == pytest.approx(1.0, rel=0.1)  # two sleeps of 0.5 s: the longest is not d
    assert not any("as the code writes it" in n for n in two["notes"])
    (run,) = (tmp_path / "r").iterdir()
    assert len((run / "one" / "notification.log").read_text().splitlines()) == 4  # the tabs, no request alone
    assert len((run / "two" / "notification.log").read_text().splitlines()) == 5  # one alone, then the tabs


@pytest.mark.integration
def test_a_done_marker_that_never_shows_is_unknown_not_lost_without_a_request_alone(
    learner: Path, tmp_path: Path
) -> None:
    app = ["--app", "one_sleep.py:app", "--done-pattern", "never {token}"]
    out = four_tabs_on(learner, tmp_path / "r", "--path", "/notify/{token}", *app)
    (one,) = variants(out)
    assert one["work_s"] is None and one["summary"]["lost"] == 0 and one["summary"]["unknown"] == 4
    assert any("showed the work of none of the 4 requests" in n for n in one["notes"]), one["notes"]
    assert one["summary"]["all_responded_s"] == pytest.approx(1.09, rel=0.025)
