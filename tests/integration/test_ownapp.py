"""A learner's own app: diagnosed (file and line of the blocking call), run, measured.

The fixtures have the shape of the tutorial's listings (a blocking ``async def``, a
``BackgroundTasks`` task, a ``def`` endpoint), with short sleeps, their own module names
and a route that is not the lab's, in a temporary folder outside the repository. The
harness must never write into that folder.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.model.ownapp import Diagnosis, FoundCall, blocking_sentences, infer, predictions
from tests.factories import bench_here as bench
from tests.factories import d_from_the_code, four_tabs_on

WORK_S = 0.5

HELPER = """import time

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()


def send_push_notification(device_token: str):
    time.sleep({d})
    with open("notification.log", mode="a") as notification_log:
        notification_log.write(f"Successfully sent push notification to {{device_token}}\\n")

"""
# step 1: the work called inside async def; step 3: handed to BackgroundTasks (line 9 is the sleep in both)
BLOCKING = (
    HELPER
    + """
@app.get("/notify/{{device_token}}")
async def notify(device_token: str):
    send_push_notification(device_token)
    return {{"message": "Notification sent"}}
"""
)
BACKGROUND = (
    HELPER
    + """
@app.get("/notify/{{device_token}}")
async def notify(device_token: str, background_tasks: BackgroundTasks):
    background_tasks.add_task(send_push_notification, device_token)
    return {{"message": "Notification sent"}}
"""
)

THREADED = """import time

from fastapi import FastAPI

app = FastAPI()


@app.get("/notify/{{device_token}}")
def notify(device_token: str):
    time.sleep({d})
    with open("notification.log", mode="a") as log:
        log.write(f"done {{device_token}}\\n")
    return {{"message": "Notification sent"}}
"""


@pytest.fixture
def listings(tmp_path: Path) -> Path:
    folder = tmp_path / "learner"
    folder.mkdir()
    for name, text in (("blocking_app", BLOCKING), ("bg_app", BACKGROUND), ("def_app", THREADED)):
        (folder / f"{name}.py").write_text(text.format(d=WORK_S))
    (folder / "broken_app.py").write_text("import fastapi\napp = fastapi.FastAPI(\n")
    (folder / "crashing_app.py").write_text(
        "from fastapi import FastAPI\napp = FastAPI()\n\n\n@app.get('/notify/{t}')\nasync def notify(t: str):\n"
        "    raise RuntimeError('boom')\n"
    )
    (folder / "not_asgi.py").write_text("app = 'a string'\n")
    return folder


def snapshot(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.name != "__pycache__"}


def run_four_tabs(cwd: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``bench run four-tabs`` at time scale 0.1 on own apps whose route is /notify/{token}."""
    return four_tabs_on(cwd, out, "--path", "/notify/{token}", *args)


# the pure part: the diagnosis decides the strategy and so the theory
def call(blocks: bool, after: bool = False, name: str = "time.sleep", seconds: float | None = 10.0) -> FoundCall:
    kind = "awaits" if name == "asyncio.sleep" else ("sleep" if name == "time.sleep" else "blocking")
    return FoundCall(
        call=name,
        file="a.py",
        line=9,
        via=["helper"],
        blocks_loop=blocks,
        seconds=seconds,
        after_answer=after,
        kind=kind,
        held_s=seconds if blocks else None,
    )


@pytest.mark.parametrize(
    ("calls", "slots", "answers"),
    [
        ([call(True)], 1, "after-work"),
        ([call(False, after=True)], "threads", "at-once"),
        ([call(False)], "threads", "after-work"),
        ([call(False, name="asyncio.sleep")], "unbounded", "after-work"),
        ([call(False, after=True, name="asyncio.sleep")], "unbounded", "at-once"),
        ([call(True, name="io.TextIOWrapper.write", seconds=None)], 1, "after-work"),
        ([], "unbounded", "after-work"),
    ],
)
def test_the_strategy_follows_from_where_the_work_ran(calls: list[FoundCall], slots: object, answers: str) -> None:
    strategy = infer(Diagnosis(app="a.py:app", path="/x", calls=calls))
    assert (strategy.work_slots, strategy.answers) == (slots, answers)


def test_predictions_for_four_tabs_and_the_fixes() -> None:
    blocking = infer(Diagnosis(app="a.py:app", path="/x", calls=[call(True)]))
    rows = {r.label: r for r in predictions(blocking, 10.0, 4, 0.3)}
    assert rows["your app as it is"].all_done_s == pytest.approx(40.0)
    assert all(r.all_done_s == pytest.approx(10.9) for label, r in rows.items() if label != "your app as it is")
    assert rows["BackgroundTasks.add_task (answers at once, work in a thread)"].all_responded_s == pytest.approx(0.9)
    (sentence,) = blocking_sentences("async def notify (a.py:15)", [call(True)])
    assert sentence == (
        "async def notify (a.py:15) holds the event loop for 10.00 s per request (blocking call): "
        "time.sleep at line 9 of a.py, via helper",
        True,
    )


# bench check: in process, no server, quick even when the listing sleeps long
@pytest.mark.parametrize(
    ("module", "blocks", "strategy"),
    [
        ("blocking_app", True, "blocks the event loop"),  # the strategy's words
        ("bg_app", False, "BackgroundTasks"),
        ("def_app", False, "def endpoint"),
    ],
)
def test_check_names_the_line_that_blocks(listings: Path, module: str, blocks: bool, strategy: str) -> None:
    path = listings / f"{module}.py"
    path.write_text(path.read_text().replace(f"time.sleep({WORK_S})", "time.sleep(15)"))  # must not take 15 s
    before = snapshot(listings)
    out = bench("check", f"{path}:app", "--path", "/notify/{token}", "--json", cwd=listings.parent)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    sleeps = [c for c in doc["diagnosis"]["calls"] if c["call"] == "time.sleep"]
    assert len(sleeps) == 1 and sleeps[0]["file"] == f"{module}.py" and sleeps[0]["seconds"] == 15
    assert sleeps[0]["line"] == (9 if module != "def_app" else 10)
    assert sleeps[0]["blocks_loop"] is blocks
    if blocks:
        assert sleeps[0]["via"] == ["send_push_notification"]
    assert strategy in doc["strategy"]
    four = {row["fix"]: row for row in doc["four_tabs"]}
    assert four["your app as it is"]["all_done_s"] == pytest.approx(60.0 if blocks else 15.9)
    assert snapshot(listings) == before  # nothing written into the learner's folder


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("missing.py:app", "missing.py: no such file"),
        ("blocking_app.py:nope", "has no attribute 'nope'"),
        ("not_asgi.py:app", "not an ASGI app"),
        ("broken_app.py:app", "SyntaxError"),
        ("blocking_app.py:app --path /push/{token}", "no route of the app matches /push/diagnosis; its routes:"),
    ],
)
def test_bad_apps_are_refused_clearly(listings: Path, spec: str, words: str) -> None:
    app, *rest = spec.split(" ")
    out = bench("check", str(listings / app.split(":")[0]) + ":" + app.split(":")[1], *rest, cwd=listings.parent)
    assert out.returncode == 2, out.stdout
    assert words in out.stderr and "Traceback (most recent call last)" not in out.stderr.splitlines()[0]


@pytest.mark.integration
def test_the_tutorials_listings_under_four_tabs(listings: Path, tmp_path: Path) -> None:
    before = snapshot(listings)
    out = run_four_tabs(
        listings, tmp_path / "results", "--app", "blocking=blocking_app.py:app", "--app", "background=bg_app.py:app"
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    blocking, background = doc["variants"]
    assert [blocking["name"], background["name"]] == ["blocking", "background"]
    for v in (blocking, background):
        assert v["status"] == "ok" and v["summary"]["lost"] == 0 and v["summary"]["ok"] == 4
        assert all(c["holds"] for c in v["claims"]), v["claims"]
    d_from_the_code(blocking, WORK_S)  # one sleep, answered after it: d as the code writes it, not measured
    assert background["work_s"] == pytest.approx(WORK_S, rel=0.2)  # work after the answer: measured alone
    d = WORK_S
    done = sorted(r["done_s"] for r in blocking["requests"])
    assert [t / d for t in done] == pytest.approx([1, 2, 3, 4], rel=0.15)  # one after another
    sleep = next(c for c in blocking["diagnosis"] if c["call"] == "time.sleep")
    assert (sleep["file"], sleep["line"], sleep["blocks_loop"]) == ("blocking_app.py", 9, True)
    assert not any(c["blocks_loop"] for c in background["diagnosis"])
    assert background["summary"]["response_max_s"] < 0.2 * background["work_s"]  # answers at once
    for r in background["requests"]:
        assert r["done_s"] - r["sent_s"] == pytest.approx(background["work_s"], rel=0.2)
    assert snapshot(listings) == before  # notification.log went to the run's folders, not here
    (run_folder,) = (tmp_path / "results").iterdir()
    lines = (run_folder / "background" / "notification.log").read_text().splitlines()
    assert len(lines) == 6  # 4 tabs + the two requests alone that measure d (an app that answers at once)


@pytest.mark.integration
def test_no_done_marker_is_unknown_not_lost_and_workers_come_from_the_command_line(
    listings: Path, tmp_path: Path
) -> None:
    out = run_four_tabs(
        listings,
        tmp_path / "results",
        "--app",
        "def_app.py:app",
        "--app",
        "blocking_app.py:app",
        "--done-file",
        "",
        "--workers",
        "2",
    )
    assert out.returncode == 0, out.stderr
    threaded, blocking = json.loads(out.stdout)["variants"]
    assert threaded["name"] == "def-app" and threaded["capacity"]["workers"] == 2
    for v in (threaded, blocking):
        assert v["summary"]["lost"] == 0 and v["summary"]["unknown"] == 4  # answered, work not observable
    # the tutorial's step 2 on the learner's file: two workers serve the blocking app faster than one
    assert blocking["summary"]["all_responded_s"] < 3.6 * WORK_S


@pytest.mark.integration
def test_a_crashing_app_fails_its_variant_and_the_others_run(listings: Path, tmp_path: Path) -> None:
    out = run_four_tabs(listings, tmp_path / "results", "--app", "crashing_app.py:app", "--app", "bg_app.py:app")
    assert out.returncode == 1, out.stderr
    crashing, background = json.loads(out.stdout)["variants"]
    assert crashing["status"] == "failed" and "answered 500" in crashing["error"]
    assert background["status"] == "ok" and background["summary"]["lost"] == 0


@pytest.mark.integration
def test_a_scenarios_file_names_an_own_app_beside_it(listings: Path, tmp_path: Path) -> None:
    (listings / "mine.yaml").write_text(
        "variants:\n"
        "  mine:\n"
        "    title: my listing\n"
        "    app: bg_app.py:app\n"
        "    own: { path: '/notify/{token}' }\n"
        "scenarios:\n"
        "  tabs:\n"
        "    title: two tabs\n"
        "    work: { seconds: 1 }\n"
        "    load: { pattern: burst, clients: 2, gap: 0.1 }\n"
        "    variants: [mine]\n"
    )
    out = bench(
        "run", "tabs", "--scenarios", str(listings / "mine.yaml"), "--json", "--out", str(tmp_path / "r"), cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    (mine,) = json.loads(out.stdout)["variants"]
    assert (
        mine["status"] == "ok"
        and mine["summary"]["lost"] == 0
        and mine["strategy"].startswith("the work waits in anyio's")
    )
