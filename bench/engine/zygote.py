"""The preloaded starter: ``python -m bench.engine.zygote FD``, forking uvicorn servers.

A lab server spends some 0.5 s of CPU before it serves anything, importing FastAPI,
pydantic, Starlette and uvicorn. Nine of them at once on two cores are seconds of waiting. This
process imports them once, then forks a server for every request it gets on its socket
(``FD``, one end of a socketpair whose other end only the harness holds, see
``bench.engine.forking``): the child starts with those modules in memory and its own
session, environment, folder, log and listening socket, and runs uvicorn's command line as
``python -m uvicorn`` would. A child costs a fork and its own app's import. A request may
name another module of this interpreter instead (the diagnosis of a learner's app), run as
``python -m`` runs it, with the folders its ``PYTHONPATH`` adds.

It reports each child's pid and, once reaped, its exit code. When the harness is gone (its
end of the socket closes, however it ended) it stops what it forked and exits: like the
lifeline's watchdog, it holds nothing once the harness that started it has ended.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import select
import signal
import socket
import sys
import traceback

PRELOAD = (
    "fastapi",
    "fastapi.routing",
    "pydantic.v1",  # FastAPI imports it at an app's first route (to tell v1 models apart): 35 ms a server
    "starlette.routing",
    "anyio.to_thread",
    "anyio._backends._asyncio",  # anyio imports it at its first use: by a server's first request
    "uvicorn.main",
    "uvicorn.config",
    "uvicorn.server",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
    "uvicorn.loops.uvloop",
    "uvicorn.supervisors",
)
FD_SLOT = "{fd}"  # in a request's command line: the number the listening socket has in the child
MAX_MESSAGE = 1 << 20


def _preload() -> list[str]:
    """Import what every lab server imports; a module that fails is left to the child (it
    then fails there, in its own log, as it would have)."""
    failed = []
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:  # (anything a broken install raises: the child will say)
            failed.append(name)
    return failed


def _send(control: socket.socket, message: dict[str, object]) -> None:
    with contextlib.suppress(OSError):
        control.send(json.dumps(message).encode())


def _reap(control: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        children.discard(pid)
        _send(control, {"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def _child(request: dict[str, object], fds: list[int], control: socket.socket, wake: tuple[int, int]) -> int:
    """In the forked child: become the server the request describes, and run it."""
    os.setsid()
    # What ps, /proc and bench status show: the server's command. Before the environment is
    # changed: setproctitle finds the command line's memory from where the environment starts.
    with contextlib.suppress(ImportError):
        import setproctitle

        setproctitle.setproctitle(str(request.get("title") or "uvicorn"))
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL if sig != signal.SIGPIPE else signal.SIG_IGN)
    control.close()
    for fd in wake:
        os.close(fd)
    log = os.open(str(request["log"]), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    # Unbuffered, as PYTHONUNBUFFERED makes a fresh interpreter's: the log shows each line as written.
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True, line_buffering=True)
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), write_through=True, line_buffering=True, errors="backslashreplace"
    )
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    cwd = str(request["cwd"])
    os.chdir(cwd)
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    argv = [str(a).replace(FD_SLOT, str(fds[0])) if fds else str(a) for a in request["argv"]]  # type: ignore[attr-defined]
    module = str(request.get("module") or "uvicorn")
    sys.argv = [module, *argv]
    sys.path[0] = cwd  # as ``python -m`` puts the folder it starts in first,
    added = [str(p) for p in request.get("path") or [] if str(p) not in sys.path]  # type: ignore[attr-defined]
    sys.path[1:1] = added  # and PYTHONPATH's folders next (the harness saw none shadows a preloaded module)
    import __main__

    __main__.__spec__ = None  # a fresh main: multiprocessing's spawn re-runs none (uvicorn's workers)
    for attr in ("__file__", "__loader__"):
        with contextlib.suppress(AttributeError):
            delattr(__main__, attr)
    if module != "uvicorn":  # another module of this interpreter (the diagnosis), as ``python -m`` runs it
        import runpy

        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            code = exc.code
            return code if isinstance(code, int) else (0 if code is None else 1)
        return 0
    from uvicorn.main import main as uvicorn_main

    with contextlib.suppress(ImportError, AttributeError):  # --workers N: forked too, FastAPI in memory
        import multiprocessing

        import uvicorn._subprocess

        uvicorn._subprocess.spawn = multiprocessing.get_context("fork")  # type: ignore[assignment]

    try:
        uvicorn_main.main(args=argv, prog_name="uvicorn")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def serve(control: socket.socket) -> int:
    """The starter's loop: requests in, children forked, exits reported. Returns in the
    parent when the harness is gone; in a child, with the server's exit code."""
    wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake[1])
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the select below
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is the harness's to handle
    children: set[int] = set()
    failed = _preload()
    gc.collect()
    gc.freeze()  # what was preloaded is never scanned again, here or in a child: no copy-on-write for it either
    modules = sorted({name.partition(".")[0] for name in sys.modules})  # what a folder on PYTHONPATH must not shadow
    _send(control, {"ready": True, "failed": failed, "modules": modules})
    try:
        while True:
            readable, _, _ = select.select([control.fileno(), wake[0]], [], [])
            if wake[0] in readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake[0], 4096)
            _reap(control, children)
            if control.fileno() not in readable:
                continue
            try:
                data, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 4)
            except OSError:
                data, fds = b"", []
            if not data:
                return 0  # the harness is gone
            request = json.loads(data)
            try:
                pid = os.fork()
            except OSError as exc:
                _send(control, {"id": request["id"], "error": f"fork failed: {exc.strerror or exc}"})
                for fd in fds:
                    os.close(fd)
                continue
            if pid == 0:
                try:
                    return _child(request, fds, control, wake)
                except BaseException:  # (the child's own start failed: its log says why)
                    traceback.print_exc()
                    return 1
            children.add(pid)
            for fd in fds:
                os.close(fd)
            _send(control, {"id": request["id"], "pid": pid})
    finally:
        if os.getpid() == _PARENT:
            for pid in children:  # the harness ended with servers still up: they go with it
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)  # with what it started (uvicorn's workers)
                # and the child itself: forked just before the harness died, it may not have made its
                # group yet (setsid), and killpg found none. Seen: a server left running for 11 minutes
                # after a tour was SIGKILLed, never registered (the harness died before the reply).
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)


_PARENT = os.getpid()

if __name__ == "__main__":
    sys.exit(serve(socket.socket(fileno=int(sys.argv[1]))))
