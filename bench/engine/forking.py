"""Lab servers forked from a preloaded starter (``bench.engine.zygote``) instead of started cold.

``start_server`` is ``spawn`` for ``python -m uvicorn ...`` commands: when the command is
this interpreter's uvicorn and nothing in the environment changes how Python starts
(``PYTHON*`` variables, but for the folders ``PYTHONPATH`` adds, which the child puts on its
path unless one holds a module named as one the starter imported), the server is forked
from the starter, which imported FastAPI and uvicorn once; otherwise, and whenever the
starter is not there, it is spawned as before. ``start_module`` does the same for a module
run once (the diagnosis), when this process has started the starter already.

A forked server is the harness's like any other: its own session, the owner mark in its
environment, listed in the registry (so the lifeline and ``leftovers`` find it), stopped by
its group. Its exit code comes from the starter, which is its parent.

The starter is started once per harness process, the first time a server is asked for
(or ahead of that, by ``warm``), and lives as long as the harness: it exits when the harness's
end of its socket closes. Like the lifeline's watchdog it carries no owner mark of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from bench.engine.owners import OWNER_ENV, register, stat_fields
from bench.engine.processes import LaunchError, Owned, child_env, owned_env, spawn, start_log
from bench.engine.zygote import FD_SLOT, MAX_MESSAGE

COLD_ENV = "BENCH_COLD_START"  # 1: every server starts as a fresh interpreter (as before the starter)
READY_TIMEOUT_S = 30.0
GONE = -9  # the exit code of a forked server whose end nobody saw (the starter went first)


class _Starter:
    """The harness's end of the starter: requests out, pids and exit codes in (a reader thread)."""

    def __init__(self) -> None:
        self.owner_pid: int | None = None
        self._sock: socket.socket | None = None
        self._reset()

    def _reset(self) -> None:
        self._changed = threading.Condition()
        self._ready = False
        self._gone = False
        self._replies: dict[int, dict[str, object]] = {}
        self._exits: dict[int, int] = {}
        self._next = 0
        self._python_env: dict[str, str] = {}
        self._modules: frozenset[str] = frozenset()  # the starter's, top-level: no PYTHONPATH folder may shadow one
        self._path: tuple[str, ...] = ()  # the folders the starter's own PYTHONPATH put on its path

    def ensure(self) -> None:
        """Start the starter unless this process has one (a forked harness starts its own)."""
        if self.owner_pid == os.getpid():
            return
        owned_env()  # the lifeline first: it must be up before anything is forked
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: v for k, v in os.environ.items() if k != OWNER_ENV}
        self._reset()  # a fresh state: what a parent harness had is not ours
        self.owner_pid, self._sock, self._python_env = os.getpid(), ours, _python_vars(env)
        self._path = tuple(f for f in env.get("PYTHONPATH", "").split(os.pathsep) if f)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.engine.zygote", str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # the terminal's Ctrl-C is the harness's to handle
                cwd="/",  # ``-m bench...`` must find the harness's package, not a learner's folder
                pass_fds=(theirs.fileno(),),
            )
        except OSError:
            self._gone = True
            return
        finally:
            theirs.close()
        threading.Thread(target=self._read, args=(ours, process), name="bench-starter", daemon=True).start()

    def _read(self, sock: socket.socket, process: subprocess.Popen[bytes]) -> None:
        while True:
            try:
                data = sock.recv(MAX_MESSAGE)
            except OSError:
                data = b""
            with self._changed:
                if not data:
                    self._gone = True
                    self._changed.notify_all()
                    break
                message = json.loads(data)
                if "ready" in message:
                    self._ready = True
                    self._modules = frozenset(message.get("modules", ()))
                elif "exit" in message:
                    self._exits[int(message["exit"])] = int(message["code"])
                else:
                    self._replies[int(message["id"])] = message
                self._changed.notify_all()
        process.wait()  # reaped: the starter is this process's child

    async def ready(self) -> bool:
        """Wait (without blocking the loop) until the starter has preloaded; False: it is not there."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not (self._ready or self._gone) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        return self._ready and not self._gone

    def ready_now(self) -> bool:
        """``ready`` for a caller off the event loop: blocks until the starter has preloaded."""
        with self._changed:
            self._changed.wait_for(lambda: self._ready or self._gone, timeout=READY_TIMEOUT_S)
        return self._ready and not self._gone

    def mine(self) -> bool:
        """Whether this process has started the starter (it may still be preloading)."""
        return self.owner_pid == os.getpid() and not self._gone

    def can_serve(self, env: Mapping[str, str]) -> bool:
        """Whether a fresh interpreter with ``env`` would start as a fork of the starter does: the
        same ``PYTHON*`` variables, and the folders ``PYTHONPATH`` adds hold no module the starter
        imported (a learner's ``fastapi.py`` beside the app must be imported, as uvicorn would)."""
        return _python_vars(env) == self._python_env and not any(
            _shadows(Path(folder), self._modules) for folder in _added_path(env, self._path)
        )

    def fork(
        self,
        argv: list[str],
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        fd: int | None,
        title: str,
        module: str,
    ) -> int:
        """Ask for a child running ``python -m module argv``; its pid. The reply comes within milliseconds (a fork)."""
        assert self._sock is not None
        with self._changed:
            self._next += 1
            request_id = self._next
        request = {
            "id": request_id,
            "argv": argv,
            "env": dict(env),
            "cwd": str(cwd),
            "log": str(log_path),
            "title": title,
            "module": module,
            "path": _added_path(env, self._path),
        }
        try:
            socket.send_fds(self._sock, [json.dumps(request).encode()], [] if fd is None else [fd])
        except OSError as exc:
            raise LaunchError(f"the preloaded starter did not take the request: {exc.strerror or exc}") from None
        with self._changed:
            self._changed.wait_for(lambda: request_id in self._replies or self._gone, timeout=READY_TIMEOUT_S)
            reply = self._replies.pop(request_id, None)
        if reply is None or "pid" not in reply:
            why = reply.get("error") if reply else "it is gone"
            raise LaunchError(f"the preloaded starter could not start the server: {why}")
        pid = reply["pid"]
        assert isinstance(pid, int)
        return pid

    def exit_code(self, pid: int, started: str | None) -> int | None:
        with self._changed:
            if pid in self._exits:
                return self._exits[pid]
            if not self._gone:
                return None
        fields = stat_fields(pid)  # the starter went first: only the process itself can say
        alive = fields is not None and len(fields) > 19 and fields[19] == started and fields[0] not in ("Z", "X")
        return None if alive else GONE

    def wait_change(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)


def _python_vars(env: Mapping[str, str]) -> dict[str, str]:
    """What decides how an interpreter starts (its hash seed, flags); unbuffered output is set in the
    child, the folders ``PYTHONPATH`` adds are put on its ``sys.path``."""
    return {k: v for k, v in env.items() if k.startswith("PYTHON") and k not in ("PYTHONUNBUFFERED", "PYTHONPATH")}


def _added_path(env: Mapping[str, str], starters: tuple[str, ...]) -> list[str]:
    """The folders ``env``'s ``PYTHONPATH`` puts on a fresh interpreter's path that the starter's lacks."""
    return [f for f in env.get("PYTHONPATH", "").split(os.pathsep) if f and f not in starters]


def _shadows(folder: Path, modules: frozenset[str]) -> bool:
    """Whether ``folder`` holds a module or package named as one of ``modules``."""
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    return any(name.partition(".")[0] in modules for name in names if name.endswith((".py", ".so")) or "." not in name)


def _this_interpreter(python: str) -> bool:
    """``python`` is this process's interpreter, in its environment (a venv's ``python`` and ``python3``)."""
    if python == sys.executable:
        return True
    mine, theirs = Path(sys.executable), Path(python)
    return theirs.parent.absolute() == mine.parent.absolute() and theirs.resolve() == mine.resolve()


def _module(cmd: list[str]) -> str | None:
    """``python -m MODULE ...`` of this interpreter, when forking is not turned off: MODULE."""
    if len(cmd) > 2 and cmd[1] == "-m" and os.environ.get(COLD_ENV) != "1" and _this_interpreter(cmd[0]):
        return cmd[2]
    return None


_STARTER = _Starter()


class Forked:
    """A server the starter forked: the calls of ``Popen`` the harness makes."""

    def __init__(self, pid: int, args: list[str]) -> None:
        self.pid = pid
        self.args = args
        fields = stat_fields(pid)
        self._started = fields[19] if fields is not None and len(fields) > 19 else None
        self._code: int | None = None

    @property
    def returncode(self) -> int | None:
        return self._code

    def poll(self) -> int | None:
        if self._code is None:
            self._code = _STARTER.exit_code(self.pid, self._started)
        return self._code

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            _STARTER.wait_change(left)
        return code


def warm() -> None:
    """Start the starter now, so that it has preloaded by the time the first server is asked for."""
    _STARTER.ensure()


async def start_server(cmd: list[str], log_path: Path, env: Mapping[str, str], cwd: Path | None, fd: int) -> Owned:
    """``spawn(cmd, ...)`` with the listening socket ``fd`` passed, forked when it can be."""
    uvicorn = _module(cmd) == "uvicorn"
    full_env = child_env(env)
    if uvicorn:
        _STARTER.ensure()
    if not (uvicorn and _STARTER.can_serve(full_env) and await _STARTER.ready()):
        return spawn(cmd, log_path, env, cwd=cwd, pass_fds=(fd,))
    argv = [FD_SLOT if a == str(fd) and cmd[i - 1] == "--fd" else a for i, a in enumerate(cmd) if i > 2]
    return _forked(cmd, argv, full_env, cwd or Path.cwd(), log_path, fd)


def start_module(cmd: list[str], log_path: Path, env: Mapping[str, str], cwd: Path) -> Owned:
    """``spawn(cmd, ...)`` for ``python -m MODULE ...`` run once (the diagnosis of a learner's
    app), forked when this process has started the starter (a run does, ahead of its servers)
    and the child would start as the starter did; otherwise spawned. From a thread, not the loop."""
    full_env = child_env(env)
    if _module(cmd) is None or not _STARTER.mine() or not (_STARTER.ready_now() and _STARTER.can_serve(full_env)):
        return spawn(cmd, log_path, env, cwd=cwd)
    return _forked(cmd, cmd[3:], full_env, cwd, log_path, None)


def _forked(
    cmd: list[str], argv: list[str], env: Mapping[str, str], cwd: Path, log_path: Path, fd: int | None
) -> Forked:
    """``cmd`` (``python -m MODULE argv``) forked from the starter: logged, registered, as ``spawn`` does."""
    start_log(log_path, cmd).close()  # the child appends to it, as a spawned process does
    pid = _STARTER.fork(argv, env, cwd.absolute(), log_path.absolute(), fd, " ".join(cmd), cmd[2])
    register(pid)
    return Forked(pid, cmd)
