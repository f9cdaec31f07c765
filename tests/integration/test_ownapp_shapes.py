"""Own apps of the shapes learners really write, each in its own folder outside the repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.factories import bench_here as bench
from tests.factories import bench_process, d_from_the_code, four_tabs_on, near_theory

WORK_S = 0.5

# FastAPI's documentation example for BackgroundTasks: the log opened with mode "w" (rewritten
# for every notification) and written without a newline. A GET route, as the lab sends today.
REWRITTEN_LOG = """import time

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()


def write_notification(email: str, message=""):
    time.sleep({d})
    with open("log.txt", mode="w") as email_file:
        content = f"notification for {{email}}: {{message}}"
        email_file.write(content)


@app.get("/send-notification/{{email}}")
async def send_notification(email: str, background_tasks: BackgroundTasks):
    background_tasks.add_task(write_notification, email, message="some notification")
    return {{"message": "Notification sent in the background"}}
"""


def test_a_log_rewritten_in_place_is_followed_by_its_content(tmp_path: Path) -> None:
    folder = tmp_path / "docs_example"
    folder.mkdir()
    (folder / "main.py").write_text(REWRITTEN_LOG.format(d=1.0))  # d is measured on the app's first, cold request
    before = sorted(p.name for p in folder.iterdir())
    check = bench("check", "main.py:app", "--json", cwd=folder)
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["diagnosis"]["path"] == "/send-notification/{token}"  # its one route, found
    out = bench_process(  # a bench of its own: in the test's process, a busy worker once read none of the rewrites
        "run",
        "four-tabs",
        "--json",
        "--out",
        str(tmp_path / "results"),
        "--app",
        "main.py:app",
        "--path",
        "/send-notification/{token}",
        "--done-file",
        "log.txt",
        # tabs 0.15 s apart: each rewrite of the log replaces the last one's line, and at 0.03 s
        # apart a busy machine's reader missed one (lost 1) once in CI
        "--time-scale",
        "0.5",
        cwd=folder,
    )
    assert out.returncode == 0, out.stderr
    (v,) = json.loads(out.stdout)["variants"]
    assert v["status"] == "ok" and v["summary"]["lost"] == 0 and v["summary"]["unknown"] == 0
    assert v["work_s"] == pytest.approx(1.0, rel=0.1)  # d from the marker of one request alone
    near_theory(v["summary"]["all_done_s"], v["expected"]["all_done_s"])  # d one request alone: 3.0 % long seen
    assert all(c["holds"] for c in v["claims"]) and len(v["claims"]) == 2
    assert sorted(p.name for p in folder.iterdir() if p.name != "__pycache__") == before  # nothing written here


# uvicorn's --factory shape, with a setting the app reads from its environment
FACTORY = """import os
import time

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()
    delay = float(os.environ["NOTIFY_DELAY"])

    @app.get("/push/{token}")
    async def push(token: str):
        time.sleep(delay)
        with open("notification.log", "a") as log:
            log.write(f"sent {token}\\n")
        return {"ok": True}

    return app
"""


def test_a_factory_with_its_settings_and_a_factory_named_as_an_app(tmp_path: Path) -> None:
    folder = tmp_path / "factory_app"
    folder.mkdir()
    (folder / "app.py").write_text(FACTORY)
    hint = bench("check", "app.py:create_app", cwd=folder)
    assert hint.returncode == 2 and "add --factory" in hint.stderr and len(hint.stderr.strip().splitlines()) == 1
    out = four_tabs_on(
        folder, str(tmp_path / "results"), "--app", "app.py:create_app", "--factory", "--env", f"NOTIFY_DELAY={WORK_S}"
    )
    assert out.returncode == 0, out.stderr
    (v,) = json.loads(out.stdout)["variants"]
    d_from_the_code(v, WORK_S)  # the sleep, its seconds read from --env
    if v["work_s"] is None:  # the theory's d is the code's (measured alone on a busy machine, 0.524 s was seen)
        near_theory(v["summary"]["all_done_s"], v["expected"]["all_done_s"])  # serialised: 4 d
    near_theory(v["summary"]["all_done_s"], 4 * WORK_S)
    assert sorted(p.name for p in folder.iterdir() if p.name != "__pycache__") == ["app.py"]  # nothing written there


def test_a_file_inside_a_package_is_imported_as_the_packages_module(tmp_path: Path) -> None:
    # 1 s of work: d is measured on the app's first request, some 10 ms slower than the next ones
    package = tmp_path / "project" / "pkg_app"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "work.py").write_text(
        "import time\n\n\ndef send(token: str) -> None:\n    time.sleep(1.0)\n"
        "    with open('notification.log', 'a') as log:\n        log.write(f'sent {token}\\n')\n"
    )
    (package / "main.py").write_text(
        "from fastapi import BackgroundTasks, FastAPI\n\nfrom .work import send\n\napp = FastAPI()\n\n\n"
        "@app.get('/push/{token}')\nasync def push(token: str, background_tasks: BackgroundTasks):\n"
        "    background_tasks.add_task(send, token)\n    return {'ok': True}\n"
    )
    check = bench("check", "pkg_app/main.py:app", "--json", cwd=package.parent)
    assert check.returncode == 0, check.stderr
    sleep = next(c for c in json.loads(check.stdout)["diagnosis"]["calls"] if c["call"] == "time.sleep")
    assert (sleep["file"], sleep["line"], sleep["blocks_loop"]) == ("work.py", 5, False)
    out = bench(
        "run",
        "four-tabs",
        "--time-scale",
        "0.1",
        "--json",
        "--out",
        "../results",  # relative to where bench runs, as its default (results/) is
        "--app",
        "pkg_app/main.py:app",
        cwd=package.parent,
    )
    assert out.returncode == 0, out.stderr
    (v,) = json.loads(out.stdout)["variants"]
    assert v["name"] == "pkg-app-main" and v["summary"]["lost"] == 0
    near_theory(v["summary"]["all_done_s"], v["expected"]["all_done_s"])  # d one request alone: a few ms of noise
    written = sorted(p.name for p in package.iterdir() if p.name != "__pycache__")
    assert written == ["__init__.py", "main.py", "work.py"]  # nothing written into the package


# FastAPI's documentation shape: a POST route, a pydantic body, the work in BackgroundTasks
POST_APP = """import time

from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel

app = FastAPI()


class Notification(BaseModel):
    email: str
    message: str = "some notification"
    priority: int


def write_notification(user_id: str, message: str):
    time.sleep({d})
    with open("log.txt", mode="a") as log:
        log.write(f"notification for {{user_id}}: {{message}}\\n")


@app.post("/send-notification/{{user_id}}")
async def send_notification(user_id: str, note: Notification, background_tasks: BackgroundTasks):
    background_tasks.add_task(write_notification, user_id, note.message)
    return {{"message": "Notification sent in the background"}}
"""


def test_a_post_route_with_a_pydantic_body_is_found_and_sent_a_valid_body(tmp_path: Path) -> None:
    folder = tmp_path / "post_app"
    folder.mkdir()
    (folder / "main.py").write_text(POST_APP.format(d=1.0))
    check = bench("check", "main.py:app", "--json", cwd=folder)
    assert check.returncode == 0, check.stderr
    diagnosis = json.loads(check.stdout)["diagnosis"]
    assert (diagnosis["method"], diagnosis["path"], diagnosis["status"]) == ("POST", "/send-notification/{token}", 200)
    assert json.loads(diagnosis["body"]) == {"email": "", "priority": 0}  # the required fields, smallest values
    out = four_tabs_on(folder, str(tmp_path / "r"), "--app", "main.py:app", "--done-file", "log.txt")
    assert out.returncode == 0, out.stderr
    (v,) = json.loads(out.stdout)["variants"]
    assert v["status"] == "ok" and v["summary"]["ok"] == 4 and v["summary"]["lost"] == 0
    near_theory(v["summary"]["all_done_s"], v["expected"]["all_done_s"])
    assert v["summary"]["response_max_s"] < 0.25 * 1.0  # BackgroundTasks: answered at once, not after d = 1 s
    assert sorted(p.name for p in folder.iterdir() if p.name != "__pycache__") == ["main.py"]


def test_routes_are_listed_when_several_and_a_method_is_named_when_only_it_differs(tmp_path: Path) -> None:
    folder = tmp_path / "two_routes"
    folder.mkdir()
    (folder / "main.py").write_text(
        POST_APP.format(d=0.1) + '\n\n@app.get("/status")\nasync def status():\n    return {"ok": True}\n'
    )
    several = bench("check", "main.py:app", "--json", cwd=folder)  # no route named: every route, one table
    assert several.returncode == 0, several.stderr
    listed = {(r["diagnosis"]["method"], r["diagnosis"]["path"]) for r in json.loads(several.stdout)["routes"]}
    assert listed == {("POST", "/send-notification/{token}"), ("GET", "/status")}
    assert all(r["held_s"] < 0.01 for r in json.loads(several.stdout)["routes"])  # BackgroundTasks: the loop is free
    run_several = bench("run", "four-tabs", "--app", "main.py:app", "--out", str(tmp_path / "r"), cwd=folder)
    assert run_several.returncode == 2 and "choose one with --route" in run_several.stderr
    chosen = bench("check", "main.py:app", "--route", "POST /send-notification/{user_id}", "--json", cwd=folder)
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout)["diagnosis"]["method"] == "POST"
    wrong_method = bench("check", "main.py:app", "--path", "/send-notification/{token}", cwd=folder)
    assert wrong_method.returncode == 2 and "give --method POST" in wrong_method.stderr
    given = bench(
        "check", "main.py:app", "--path", "/send-notification/{token}", "-m", "POST",
        "--body", '{"email": "a@b.c", "priority": 2}', "--json", cwd=folder,
    )  # fmt: skip
    assert given.returncode == 0, given.stderr
    assert json.loads(json.loads(given.stdout)["diagnosis"]["body"])["priority"] == 2
