"""Runs under what a hostile or unlucky machine does: a run document that is not one, inputs
that are wrong, a harness stopped or hung up on, a tour or a Locust run cut short, a full disk.

Each case was a traceback, a hang or a wrong answer once; each is now one or two lines and
exit 2 before anything starts, or the stated behaviour, with what was measured kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.engine.owners import marked_processes
from tests.factories import bench_here, reaped, wait_for
from tests.factories import bench_process as bench

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--time-scale", "0.05"]


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_error(done: subprocess.CompletedProcess[str], said: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout[-400:], done.stderr)
    assert said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2, done.stderr


def started_by(pid: int) -> list[str]:
    return [m.command for m in marked_processes() if m.owner.startswith(f"{pid}:")]


# 7. Run documents that are not ours, under --out.


@pytest.mark.integration
def test_broken_run_documents_under_out_neither_stop_a_run_nor_crash_show(tmp_path: Path) -> None:
    for name, content in [("a-list", b"[]"), ("deep", b"[" * 50_000 + b"]" * 50_000), ("latin", b'{"x": "\xff"}')]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_bytes(content)
    done = bench_here("run", "four-tabs", "--variants", "asyncio", *FAST, "--out", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("a-list", "deep", "latin"):
        for command in (["show", name], ["export", name], ["compare", name, name]):
            one_error(bench_here(*command, "--out", str(tmp_path), cwd=tmp_path), "not a run document")


# 10 and 13. Inputs: one or two lines, exit 2, before anything starts.

LISTING = """\
import time
from fastapi import BackgroundTasks, FastAPI

print('{"app": "glued to the diagnosis", "bad": "printed at import"}')
app = FastAPI()
not_an_app = print


def work(token: str) -> None:
    time.sleep(0.05)
    with open("done.log", "a") as f:
        f.write(f"done {token}\\n")


@app.get("/push/{token}")
async def push(token: str, tasks: BackgroundTasks):
    tasks.add_task(work, token)
    return {"token": token}
"""


@pytest.fixture
def listing(tmp_path: Path) -> Path:
    folder = tmp_path / "learner"
    folder.mkdir()
    (folder / "main.py").write_text(LISTING)
    return folder


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--path", "push/{token}"], "--path push/{token}: a path starts with /"),
        (["--path", ""], "a path starts with /"),
        (["--path", "/push/x"], "--path /push/x: the path '/push/x' has no {token}"),
        (["--done-pattern", "x"], "--done-pattern x: the done pattern must contain {token}"),
        (["--done-file", "/"], "--done-file /: a folder"),
        (["--done-file", "logs/"], "the done file must name a file the app writes"),
    ],
)
def test_own_app_options_that_cannot_work_are_refused_before_anything_starts(
    listing: Path, args: list[str], said: str
) -> None:
    done = bench_here("run", "four-tabs", "--app", "main.py:app", *args, "--out", str(listing / "out"), cwd=listing)
    one_error(done, said)
    assert not (listing / "out").exists() or not any((listing / "out").glob("*/run.json"))


@pytest.mark.integration
def test_what_the_app_prints_at_import_never_mixes_with_the_diagnosis(listing: Path) -> None:
    done = bench("check", "main.py:app", cwd=listing)
    assert done.returncode == 0, done.stderr
    assert "GET /push/{token}" in done.stdout
    one_error(bench("check", "main.py:not_an_app", cwd=listing), "is Python's built-in print, not an ASGI app")


@pytest.mark.integration
def test_a_unicode_path_is_sent_and_its_work_seen(listing: Path) -> None:
    args = ["--path", "/push/ünï{token}", "--done-file", "done.log", "--json", "--time-scale", "0.1"]
    done = bench_here("run", "four-tabs", "--app", "main.py:app", *args, "--out", str(listing / "out"), cwd=listing)
    assert done.returncode == 0, done.stderr
    (variant,) = json.loads(done.stdout)["variants"]
    assert variant["summary"]["ok"] == 4 and variant["summary"]["lost"] == 0, variant["summary"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--variants", ""], "--variants names none"),
        (["--variants", " , "], "--variants names none"),
        (["--broker", ""], "--broker : expected redis://HOST:PORT/N"),
    ],
)
def test_empty_choices_are_refused_not_taken_for_a_default(tmp_path: Path, args: list[str], said: str) -> None:
    one_error(bench_here("run", "four-tabs", *args, "--out", str(tmp_path), cwd=tmp_path), said)


@pytest.mark.integration
def test_a_chromium_that_does_not_start_fails_the_browser_variants_only(tmp_path: Path) -> None:
    env = {"BENCH_CHROMIUM": "/bin/false"}
    args = ["run", "four-tabs", "--client", "browser", "--variants", "asyncio,sync", *FAST, "--json"]
    done = bench_here(*args, "--out", str(tmp_path), cwd=tmp_path, env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "complete"
    assert sorted((v["name"], v["status"]) for v in doc["variants"]) == [("asyncio", "failed"), ("sync", "failed")]
    assert all("Chromium (/bin/false) did not start" in v["error"] for v in doc["variants"])


# 11. Markup in a title is text; an escape sequence in one is refused.


@pytest.mark.integration
def test_markup_in_a_title_is_text_in_the_run_and_in_show(tmp_path: Path) -> None:
    text = (ROOT / "scenarios.yaml").read_text()
    title = '"async def calling the blocking work inline (tutorial step 1)"'
    (tmp_path / "markup.yaml").write_text(text.replace(title, '"[/bold] [red]x[/red]"', 1))
    (tmp_path / "escape.yaml").write_text(text.replace(title, '"\\e[31mred\\e]0;pwn\\a"', 1))
    run = bench_here(
        "run", "four-tabs", "--scenarios", "markup.yaml", "--variants", "sync", *FAST, "--out", "out", cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert "[/bold] [red]x[/red]" in run.stdout
    shown = bench_here("show", "--out", "out", cwd=tmp_path)
    assert shown.returncode == 0 and "[/bold] [red]x[/red]" in shown.stdout, shown.stderr
    refused = bench_here("run", "four-tabs", "--scenarios", "escape.yaml", *FAST, "--out", "out", cwd=tmp_path)
    one_error(refused, "escape.yaml:18: variants.sync.title: control character '\\x1b'")


# 12. The harness stopped (SIGSTOP, a laptop lid) in the middle of a measurement.


@pytest.mark.integration
def test_a_harness_stopped_mid_measurement_marks_the_variant_disturbed(tmp_path: Path) -> None:
    proc = start(
        "run", "four-tabs", "--variants", "sync", "--time-scale", "0.15", "--json", "--out", "out", cwd=tmp_path
    )
    with reaped(proc):

        def serving() -> bool:  # not only started: on a busy machine its imports may take seconds
            return any("Uvicorn running" in log.read_text() for log in (tmp_path / "out").glob("*/sync/server.log"))

        wait_for(serving, 60, "no server served")
        time.sleep(0.6)  # the load is on: d = 1.5 s, four tabs 0.045 s apart, one after another (6 s)
        proc.send_signal(signal.SIGSTOP)
        time.sleep(2.0)
        proc.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    (variant,) = json.loads(out)["variants"]
    assert variant["status"] == "failed" and "stood still for 2." in variant["error"], variant["error"]
    assert variant["claims"] == [] and len(variant["requests"]) == 4  # kept, shown, not judged


# 13. A closed terminal, Ctrl-\: the run ends as interrupted, saved, nothing left.


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT])
def test_sighup_and_sigquit_end_a_run_as_ctrl_c_does(tmp_path: Path, sig: signal.Signals) -> None:
    proc = start("run", "four-tabs", "--variants", "sync", "--time-scale", "0.3", "--out", "out", cwd=tmp_path)
    with reaped(proc):
        wait_for(lambda: any("uvicorn" in c for c in started_by(proc.pid)), 60, "no server started")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        pid = proc.pid
    assert proc.returncode == 130, err
    (run_json,) = (tmp_path / "out").glob("*/run.json")
    assert json.loads(run_json.read_text())["status"] == "interrupted"
    assert not started_by(pid)


# 6. A tour or a Locust run cut short keeps its pages; a killed tour's lessons are marked.


@pytest.mark.integration
def test_an_interrupted_tour_writes_its_course_page(tmp_path: Path) -> None:
    # cpu-bound runs alone after four-tabs (to-thread would race it, and both would have begun)
    proc = start("tour", "--time-scale", "0.1", "--lessons", "four-tabs,cpu-bound", "--out", "out", cwd=tmp_path)
    with reaped(proc):
        wait_for(lambda: any("uvicorn" in c for c in started_by(proc.pid)), 60, "no lesson started")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "course page:" in err, err
    (page,) = (tmp_path / "out").glob("*/course.html")
    text = page.read_text()
    assert "four-tabs" in text and "not reached: the tour was interrupted" in text


@pytest.mark.integration
def test_a_killed_tours_lesson_is_marked_abandoned_by_the_next_bench(tmp_path: Path) -> None:
    proc = start("tour", "--time-scale", "0.1", "--lessons", "four-tabs", "--out", "out", cwd=tmp_path)
    with reaped(proc):
        wait_for(lambda: any("uvicorn" in c for c in started_by(proc.pid)), 60, "no lesson started")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        wait_for(lambda: not started_by(proc.pid), 10, "the lifeline did not stop the tour's servers")
    (lesson,) = (tmp_path / "out").glob("*/four-tabs/run.json")
    assert json.loads(lesson.read_text())["status"] == "running"
    later = bench("run", "four-tabs", "--variants", "nope", "--out", "out", cwd=tmp_path)
    assert "marked abandoned" in later.stderr, later.stderr
    assert json.loads(lesson.read_text())["status"] == "abandoned"
    assert "abandoned" in (lesson.parent / "report.html").read_text()


@pytest.mark.integration
def test_an_interrupted_headless_locust_run_keeps_what_locust_measured(tmp_path: Path) -> None:
    args = ["locust", "asyncio", "--headless", "-u", "4", "-r", "4", "-t", "30", "--pace", "0.1", *FAST]
    proc = start(*args, "--out", "out", cwd=tmp_path)
    with reaped(proc):
        wait_for(lambda: any("locust" in c for c in started_by(proc.pid)), 60, "Locust never started")
        time.sleep(2.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (run_json,) = (tmp_path / "out").glob("*/run.json")
    doc = json.loads(run_json.read_text())
    assert doc["status"] == "interrupted"
    (variant,) = doc["variants"]
    assert variant["locust"]["stats"] and variant["summary"]["requests"] > 0
    assert (run_json.parent / "report.html").is_file()


# 9. A full disk (a small tmpfs, mounted here: root only).


@contextlib.contextmanager
def full_disk() -> Iterator[Path]:
    if os.getuid() != 0:
        pytest.skip("mounting a small full filesystem needs root")
    place = Path(tempfile.mkdtemp(prefix="bench-full-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(place)], capture_output=True)
    if mounted.returncode != 0:
        place.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        (place / "out").mkdir()
        with (place / "filler").open("wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 4096)

        yield place / "out"
    finally:
        subprocess.run(["umount", "-l", str(place)], check=False)
        place.rmdir()


@pytest.mark.integration
def test_a_full_disk_fails_the_variants_it_must_and_says_so_after_the_figures(tmp_path: Path) -> None:
    with full_disk() as out:
        run = bench_here("run", "four-tabs", "--variants", "asyncio,sync", *FAST, "--out", str(out), cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    # the two race: whichever opens its log first takes the last of the space
    said = " ".join(run.stdout.split())  # the console wraps a long path's line anywhere
    assert "cannot write its log" in said and "No space left on device" in said
    assert "not saved: could not save" in run.stdout


@pytest.mark.integration
def test_bench_load_on_a_full_disk_prints_its_figures_then_says_what_was_not_saved(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    with reaped(server):  # type: ignore[arg-type]
        assert server.stdout is not None
        port = server.stdout.readline().split("port ")[1].split()[0]
        with full_disk() as out:
            url = f"http://127.0.0.1:{port}/"
            load = bench_here("load", url, "-n", "50", "-c", "2", "--out", str(out), cwd=tmp_path)
        server.kill()
        server.wait()
        server.stdout.close()
    assert load.returncode == 1 and "Traceback" not in load.stderr, load.stderr
    assert "requests" in load.stdout.lower() and "not saved: could not save" in load.stdout
    assert "the figures printed are all there is" in load.stderr


@pytest.mark.integration
def test_export_to_a_read_only_place_is_one_line(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("mounting a read-only filesystem needs root")
    done = bench_here("run", "four-tabs", "--variants", "asyncio", *FAST, "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    place = tmp_path / "ro"
    place.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=16k", "tmpfs", str(place)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        for where in (place / "x.md", tmp_path / "missing" / "x.md", Path("/dev/full")):
            (run,) = (tmp_path / "out").glob("*/run.json")
            exported = bench_here("export", str(run.parent), "--format", "markdown", "-o", str(where), cwd=tmp_path)
            one_error(exported, f"cannot write {where}: ")
    finally:
        subprocess.run(["umount", "-l", str(place)], check=False)
