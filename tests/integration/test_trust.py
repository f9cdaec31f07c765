"""A shared machine: what another local user plants, holds or reaches must not steer the lab.

The other user is real: uid 65534 (``nobody``), reached with ``setpriv``, running the
system's Python (the lab's virtual environment may sit in a folder only its owner enters)
with this checkout on its path. Where that is not possible (not root, no ``setpriv``, or
that user cannot read this checkout), the tests that need it are skipped with that reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.engine import owners, processes
from bench.engine.owners import marked_processes, owner_mark
from bench.engine.processes import HOST
from bench.lab.broker import redis_binary, redis_broker
from bench.lab.launcher import ServerSpec, serve
from tests.factories import bench_process, reaped

NOBODY = 65534
ROOT_DIR = Path(__file__).resolve().parents[2]


OTHER_PYTHON = "/usr/bin/python3"
AS_OTHER = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
OTHER_ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT_DIR), "HOME": "/tmp"}


def _other_user_reason() -> str | None:
    if os.getuid() != 0:
        return "needs root, to act as a second user (uid 65534)"
    if shutil.which("setpriv") is None or not os.access(OTHER_PYTHON, os.X_OK):
        return f"needs setpriv (util-linux) and {OTHER_PYTHON} to act as a second user"
    probe = subprocess.run(
        [*AS_OTHER, OTHER_PYTHON, "-c", "import bench.engine.processes"], capture_output=True, cwd="/", env=OTHER_ENV
    )
    return None if probe.returncode == 0 else f"uid 65534 cannot read this checkout ({ROOT_DIR})"


REASON = _other_user_reason()
other_user = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def as_other(*cmd: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``cmd`` run as uid 65534."""
    return subprocess.Popen([*AS_OTHER, *cmd], stdin=subprocess.DEVNULL, cwd="/", env={**OTHER_ENV, **(env or {})})


def as_other_done(*cmd: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*AS_OTHER, *cmd], capture_output=True, cwd="/", timeout=60, env={**OTHER_ENV, **(env or {})})


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A TMPDIR like /tmp (sticky, everyone writes), of this test's own."""
    folder = Path(tempfile.mkdtemp(prefix="bench-shared-", dir="/tmp"))
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_in(tmp: Path, *args: str, out: Path) -> subprocess.CompletedProcess[str]:
    """``bench ARGS`` with ``tmp`` as its TMPDIR (where the registry folder is)."""
    return bench_process(*args, "--out", str(out), cwd=out, timeout=120, env={"TMPDIR": str(tmp)})


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# 1. The registry.


@pytest.mark.integration
@other_user
def test_a_registry_another_user_made_is_refused_and_stops_nothing(shared_tmp: Path, tmp_path: Path) -> None:
    victim = subprocess.Popen(["sleep", "60"])
    with reaped(victim):  # type: ignore[arg-type]
        ticks = Path(f"/proc/{victim.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        planted = shared_tmp / f"bench-lab-{os.getuid()}"
        assert as_other_done("mkdir", "-m", "0777", str(planted)).returncode == 0
        plant = f"echo '{victim.pid} {ticks}' > {planted}/999999-1.pids"
        assert as_other_done("sh", "-c", plant).returncode == 0
        done = bench_in(shared_tmp, "run", "four-tabs", "--variants", "asyncio", "--time-scale", "0.05", out=tmp_path)
        assert done.returncode == 2, done.stderr
        assert f"owned by uid {NOBODY}, not you" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) <= 2
        assert alive(victim.pid), "bench stopped a process another user named"


@pytest.mark.integration
def test_a_file_or_a_link_where_the_registry_goes_is_one_line_not_a_traceback(shared_tmp: Path, tmp_path: Path) -> None:
    place = shared_tmp / f"bench-lab-{os.getuid()}"
    for make, said in [(lambda: place.write_text("x"), "not a folder"), (lambda: place.symlink_to("/etc"), "a link")]:
        make()
        done = bench_in(shared_tmp, "run", "four-tabs", "--variants", "asyncio", "--time-scale", "0.05", out=tmp_path)
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
        place.unlink()


@pytest.mark.integration
@other_user
def test_the_first_user_of_a_machine_does_not_lock_out_the_next(shared_tmp: Path, tmp_path: Path) -> None:
    register = "from bench.engine import owners as o; import os; o.register(os.getpid()); print(o.registry())"
    first = as_other_done(OTHER_PYTHON, "-c", register, env={"TMPDIR": str(shared_tmp)})
    assert first.returncode == 0, first.stderr.decode()[-800:]
    assert (shared_tmp / f"bench-lab-{NOBODY}").stat().st_uid == NOBODY
    second = bench_in(shared_tmp, "run", "four-tabs", "--variants", "asyncio", "--time-scale", "0.05", out=tmp_path)
    assert second.returncode == 0, second.stderr[-800:]
    mine = shared_tmp / f"bench-lab-{os.getuid()}"
    assert mine.stat().st_mode & 0o777 == 0o700 and mine.stat().st_uid == os.getuid()


@pytest.mark.integration
@other_user
def test_a_registry_line_naming_another_users_process_is_never_taken_for_ours() -> None:
    theirs = as_other("sleep", "60")
    try:
        time.sleep(0.1)
        ticks = Path(f"/proc/{theirs.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        record = owners.registry() / "1-1.pids"  # a dead harness's file, naming their process
        record.write_text(f"{theirs.pid} {ticks}\n")
        try:
            assert theirs.pid not in {m.pid for m in marked_processes()}
            assert owners.leftovers() == {"1:1": []}
            owners.kill_marked("1:1", grace_s=0.1, timeout_s=0.3)
            assert alive(theirs.pid)
        finally:
            record.unlink(missing_ok=True)
    finally:
        theirs.kill()
        theirs.wait()


def test_a_link_planted_as_our_registry_file_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o600)
    path = owners.registry_file(owner_mark())
    path.unlink(missing_ok=True)
    path.symlink_to(victim)
    try:
        owners.register(os.getpid())
        assert victim.read_text() == "precious\n"
        assert not path.is_symlink() and path.read_text().startswith(f"{os.getpid()} ")
    finally:
        path.unlink(missing_ok=True)


# 2. The broker.


@pytest.mark.integration
@other_user
def test_the_labs_redis_answers_nobody_without_its_password(tmp_path: Path) -> None:
    try:
        redis_binary()
    except Exception as exc:
        pytest.skip(f"no redis-server: {exc}")
    tmp_path.chmod(0o755)

    async def probe() -> tuple[bytes, str, str]:
        async with redis_broker(tmp_path) as broker:
            port = broker.url.rsplit(":", 1)[1].split("/")[0]
            script = (
                f"import socket; s = socket.create_connection(('127.0.0.1', {port}));"
                "s.sendall(b'CONFIG SET dir /tmp\\r\\n'); print(s.recv(200))"
            )
            said = as_other_done(OTHER_PYTHON, "-c", script).stdout
            redis = next(m for m in marked_processes() if "redis-server" in m.command and m.owner == owner_mark())
            return said, Path(f"/proc/{redis.pid}/cmdline").read_text(), broker.url

    said, cmdline, url = asyncio.run(probe())
    password = url.split("@")[0].rsplit(":", 1)[1]
    assert b"NOAUTH" in said, said
    assert password and password not in cmdline
    assert (tmp_path / "redis.conf").stat().st_mode & 0o777 == 0o600


# 3. The ports.


def _http_server_as_other(port_file: Path) -> subprocess.Popen[bytes]:
    script = (
        "import http.server, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'not yours')\n"
        "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
        f"open({str(port_file)!r}, 'w').write(str(s.server_address[1]))\n"
        "s.serve_forever()\n"
    )
    return as_other(OTHER_PYTHON, "-c", script)


@pytest.mark.integration
@other_user
def test_a_port_someone_else_serves_is_never_measured(shared_tmp: Path, tmp_path: Path) -> None:
    port_file = shared_tmp / "port"
    foreign = _http_server_as_other(port_file)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() or not port_file.read_text():
            assert time.monotonic() < deadline, "the other user's server did not start"
            time.sleep(0.05)
        port = int(port_file.read_text())
        cmd = [sys.executable, "-m", "bench", "serve", "sync", "--port", str(port), "--out", str(tmp_path)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 2 and "already in use" in done.stderr, done.stderr
    finally:
        foreign.kill()
        foreign.wait()


@pytest.mark.integration
def test_the_server_listens_on_the_socket_the_harness_bound(tmp_path: Path) -> None:
    spec = ServerSpec(app="servers.asyncio_sleep:app", app_dir=ROOT_DIR, log_path=tmp_path / "server.log")

    async def check() -> tuple[list[str], set[str], set[str]]:
        async with serve(spec) as server:
            # NUL-separated when started cold; one line when forked (its title, set by setproctitle)
            command = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
            inodes = _listening_inodes(server.port)
            theirs = {os.readlink(f) for f in Path(f"/proc/{server.process.pid}/fd").iterdir()}
            return [c.decode() for c in command], inodes, theirs

    command, inodes, theirs = asyncio.run(check())
    assert "--fd" in command and "--port" not in command
    assert inodes and inodes <= theirs, "the listener on the port is not the server's own socket"


def _listening_inodes(port: int) -> set[str]:
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # LISTEN
            found.add(f"socket:[{fields[9]}]")
    return found


# 4 and 5. Processes the learner's code starts.

STARTS_A_CHILD = """\
import os, subprocess, sys, time

from fastapi import FastAPI

if os.environ.get("WHEN") in sys.argv[0]:
    child = subprocess.Popen(os.environ["CHILD"].split())
    with open(os.environ["PID_FILE"], "w") as f:
        f.write(str(child.pid))
    time.sleep(float(os.environ.get("HOLD", "0")))

app = FastAPI()


@app.get("/push/{token}")
async def push(token: str):
    return {"token": token}
"""


def _learner_app(tmp_path: Path) -> Path:
    folder = tmp_path / "learner"
    folder.mkdir()
    (folder / "main.py").write_text(STARTS_A_CHILD)
    return folder


def _pid_from(path: Path, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} was never written"
        time.sleep(0.02)
    return int(path.read_text())


@pytest.mark.integration
def test_what_the_learners_code_starts_at_import_ends_with_bench_check(tmp_path: Path) -> None:
    folder = _learner_app(tmp_path)
    env = {**os.environ, "WHEN": "diagnose", "CHILD": "sleep 95", "PID_FILE": str(tmp_path / "pid")}
    cmd = [sys.executable, "-m", "bench", "check", "main.py:app"]
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    child = _pid_from(tmp_path / "pid", 1)
    assert wait_gone(child, 3), "the process the app started during the diagnosis outlived bench check"


@pytest.mark.integration
def test_sigkill_of_bench_during_the_diagnosis_leaves_nothing_of_the_learners(tmp_path: Path) -> None:
    folder = _learner_app(tmp_path)
    env = {**os.environ, "WHEN": "diagnose", "CHILD": "sleep 95", "PID_FILE": str(tmp_path / "pid"), "HOLD": "60"}
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench", "check", "main.py:app"], cwd=folder, env=env, stdout=subprocess.DEVNULL
    )
    with reaped(bench):  # type: ignore[arg-type]
        child = _pid_from(tmp_path / "pid", 30)
        diagnosis = [m.pid for m in marked_processes() if m.owner.startswith(f"{bench.pid}:")]
        assert diagnosis, "the diagnosis child does not carry bench's mark"
        bench.send_signal(signal.SIGKILL)
        bench.wait(10)
        assert wait_gone(child, 6) and all(wait_gone(p, 1) for p in diagnosis)


@pytest.mark.integration
def test_sigkill_of_bench_stops_a_child_the_app_started_without_the_mark(tmp_path: Path) -> None:
    folder = _learner_app(tmp_path)
    env = {**os.environ, "WHEN": "uvicorn", "CHILD": "env -i sleep 95", "PID_FILE": str(tmp_path / "pid")}
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "four-tabs", "--app", "main.py:app", "--time-scale", "0.5"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with reaped(bench):  # type: ignore[arg-type]
        child = _pid_from(tmp_path / "pid", 60)
        deadline = time.monotonic() + 10  # until env has exec'd sleep, /proc shows env's environment
        while not Path(f"/proc/{child}/cmdline").read_bytes().startswith(b"sleep\0"):
            assert time.monotonic() < deadline, "env -i never ran sleep"
            time.sleep(0.01)
        assert b"BENCH_LAB_OWNER" not in Path(f"/proc/{child}/environ").read_bytes()
        bench.send_signal(signal.SIGKILL)
        bench.wait(10)
        assert wait_gone(child, 6), "a process without the owner mark, in a server's session, outlived bench"
        deadline = time.monotonic() + 6
        while [m for m in marked_processes() if m.owner.startswith(f"{bench.pid}:")]:
            assert time.monotonic() < deadline, "the server outlived bench"
            time.sleep(0.05)


def test_no_stray_socket_module_state() -> None:
    # bound_socket leaves nothing listening: the port is bound, and only the server listens
    sock = processes.bound_socket()
    try:
        port = sock.getsockname()[1]
        with pytest.raises(OSError), socket.create_connection((HOST, port), timeout=0.5):
            pass
    finally:
        sock.close()
