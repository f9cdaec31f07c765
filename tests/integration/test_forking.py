"""Lab servers forked from the preloaded starter: served, owned and stopped like any other.

Each test checks what a learner or the harness relies on: the server answers, ``ps`` and
``bench status`` name it by its own command line, the harness's registry lists it, its exit
code is known, and when the harness dies, the starter and its servers go too.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bench.engine.forking import Forked
from bench.engine.owners import marked_processes, owner_mark, stat_fields
from bench.engine.processes import stop
from bench.lab.launcher import ServerSpec, serve
from tests.factories import ROOT, reaped, wait_for


def lab_spec(tmp_path: Path, **changes: object) -> ServerSpec:
    env = {"BENCH_WORK_SECONDS": "0.05", "BENCH_WORK_KIND": "sleep", "BENCH_LEDGER_DIR": str(tmp_path)}
    spec = ServerSpec(app="servers.sync:app", log_path=tmp_path / "server.log", env=env, app_dir=ROOT)
    return replace(spec, **changes)  # type: ignore[arg-type]


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def alive(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


@pytest.mark.integration
def test_a_lab_server_is_forked_named_listed_and_its_exit_code_known(tmp_path: Path) -> None:
    async def exercise() -> tuple[object, str, bool, int, int | None]:
        async with serve(lab_spec(tmp_path)) as server:
            async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as client:
                answer = await client.get("/push/forked")
            mine = {m.pid for m in marked_processes() if m.owner == owner_mark()}
            process = server.process
            named = cmdline(process.pid)
        return process, named, process.pid in mine, answer.status_code, process.returncode

    process, named, listed, status, code = asyncio.run(exercise())
    assert isinstance(process, Forked), "a lab server in the harness's own Python is forked"
    assert status == 200
    assert "-m uvicorn servers.sync:app" in named, named  # ps shows the server, not the starter
    assert listed, "the harness's registry lists the forked server"
    assert code is not None and process.poll() == code, "its exit code is known once it stopped"
    assert not alive(process.pid)
    log = (tmp_path / "server.log").read_text()
    assert log.startswith(f"$ {sys.executable} -m uvicorn servers.sync:app") and "Application startup complete" in log


@pytest.mark.integration
def test_a_python_variable_that_changes_start_up_gets_a_cold_start(tmp_path: Path) -> None:
    spec = lab_spec(tmp_path, env={"PYTHONHASHSEED": "7"})

    async def exercise() -> object:
        async with serve(spec) as server:
            return server.process

    process = asyncio.run(exercise())
    assert isinstance(process, subprocess.Popen), "another hash seed than the starter's: started cold"


@pytest.mark.integration
def test_uvicorn_workers_start_from_a_forked_supervisor(tmp_path: Path) -> None:
    async def exercise() -> tuple[set[str], list[str]]:
        async with serve(lab_spec(tmp_path, app="servers.sync:app", workers=2)) as server:
            workers = [cmdline(p) for p in _children(server.process.pid)]
            pids: set[str] = set()
            async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as client:
                for _ in range(40):
                    pids.add((await client.get("/health")).headers["x-worker-pid"])
                    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as fresh:
                        pids.add((await fresh.get("/health")).headers["x-worker-pid"])
                    if len(pids) == 2:
                        break
            return pids, workers

    pids, workers = asyncio.run(exercise())
    assert len(pids) == 2, "both workers answer"
    # forked from the supervisor (FastAPI already in memory), not spawned as fresh interpreters
    assert len(workers) == 2 and not any("spawn_main" in w for w in workers), workers


HARNESS = """
import asyncio, sys, time
from pathlib import Path
from bench.lab.launcher import ServerSpec, serve
async def main():
    spec = ServerSpec(app="servers.sync:app", log_path=Path(sys.argv[1]), app_dir=Path(sys.argv[2]))
    async with serve(spec) as server:
        print(server.process.pid, flush=True)
        await asyncio.sleep(60)
asyncio.run(main())
"""


@pytest.mark.integration
def test_the_starter_and_its_servers_go_when_the_harness_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "harness.py"
    script.write_text(textwrap.dedent(HARNESS))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "server.log"), str(ROOT)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    with reaped(proc):
        assert proc.stdout is not None
        with proc.stdout:
            server = int(proc.stdout.readline())
        starters = [p for p in _children(proc.pid) if "bench.engine.zygote" in cmdline(p)]
        assert len(starters) == 1 and alive(server)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        gone = "the starter or its server outlived the harness"
        wait_for(lambda: not alive(server) and not alive(starters[0]), 5, gone)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        fields = stat_fields(entry.name) if entry.name.isdigit() else None
        if fields is not None and len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry.name))
    return found


@pytest.mark.integration
def test_a_server_that_fails_to_import_says_why_in_its_log(tmp_path: Path) -> None:
    async def exercise() -> str:
        try:
            async with serve(lab_spec(tmp_path, app="servers.no_such_module:app", ready_timeout_s=10)):
                return "started"
        except Exception as exc:  # the launch error, whatever its class
            return str(exc)

    began = time.monotonic()
    said = asyncio.run(exercise())
    assert "exited with code" in said and "servers.no_such_module" in said, said
    assert time.monotonic() - began < 8


PROBE = """
import json, os, sys
with open(os.environ["PROBE_OUT"], "w") as out:
    json.dump({"ppid": os.getppid(), "argv": sys.argv[1:], "path": sys.path[:2], "cwd": os.getcwd(),
               "main": __name__}, out)
sys.exit(3)
"""


@pytest.mark.integration
@pytest.mark.parametrize("shadowed", [False, True], ids=["forked", "a-folder-shadows-fastapi"])
def test_a_module_run_once_is_forked_unless_its_path_shadows_the_starters_modules(
    tmp_path: Path, shadowed: bool
) -> None:
    from bench.engine import forking

    folder = tmp_path / "on_path"
    folder.mkdir()
    (folder / "probe_mod.py").write_text(PROBE)
    if shadowed:  # a learner's fastapi.py: a fresh interpreter imports it, a fork of the starter would not
        (folder / "fastapi.py").write_text("")
    work = tmp_path / "work"
    work.mkdir()
    forking.warm()
    env = {"PYTHONPATH": str(folder), "PROBE_OUT": str(tmp_path / "probe.json")}
    cmd = [str(Path(sys.executable).parent / "python"), "-m", "probe_mod", "a", "--b"]  # the venv's other name
    child = forking.start_module(cmd, tmp_path / "probe.log", env, work)
    try:
        code = child.wait(timeout=30)
    finally:
        stop(child, grace_s=1.0)
    seen = json.loads((tmp_path / "probe.json").read_text())
    assert code == 3, (tmp_path / "probe.log").read_text()
    assert isinstance(child, Forked) != shadowed
    assert (seen["ppid"] == os.getpid()) == shadowed  # forked: the starter is its parent
    assert seen["argv"] == ["a", "--b"] and seen["main"] == "__main__" and seen["cwd"] == str(work)
    assert seen["path"] == [str(work), str(folder)]  # as python -m has it: its folder first, PYTHONPATH next


@pytest.mark.integration
def test_a_child_forked_as_the_harness_dies_goes_with_the_starter(tmp_path: Path) -> None:
    """The harness asks for a server and dies before the reply: the starter forks it, finds the
    harness gone and stops it, though the child may not have made its own process group yet
    (killpg alone left it running: 30 times in 30, before the starter also killed it by its pid)."""
    from bench.engine.zygote import MAX_MESSAGE

    (tmp_path / "lingers.py").write_text("import time\ntime.sleep(60)\n")
    title = f"bench-test-child-{os.getpid()}-{time.monotonic_ns()}"  # this test's only
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    starter = subprocess.Popen(
        [sys.executable, "-m", "bench.engine.zygote", str(theirs.fileno())],
        pass_fds=(theirs.fileno(),), cwd="/", start_new_session=True,
    )  # fmt: skip
    theirs.close()
    with reaped(starter):  # type: ignore[arg-type]
        assert json.loads(ours.recv(MAX_MESSAGE))["ready"]
        request = {"id": 1, "argv": [], "env": {}, "cwd": str(tmp_path), "log": str(tmp_path / "child.log"),
                   "title": title, "module": "lingers", "path": [str(tmp_path)]}  # fmt: skip
        socket.send_fds(ours, [json.dumps(request).encode()], [])
        ours.close()  # the harness is gone
        starter.wait(30)
    time.sleep(0.3)  # a child the starter missed would be running by now
    left = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and title in _cmdline_of(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "a server forked as the harness died outlived the starter"


def _cmdline_of(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""
