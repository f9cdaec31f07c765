"""Who started a process: the owner mark, each user's private registry, and stopping what a
dead harness left, with every identity checked (``bench.engine.processes`` starts them).

A process is the lab's when it is this user's and either carries the owner mark
``BENCH_LAB_OWNER=<pid>:<start time>`` in its environment, or is listed (pid and start time)
in a registry file of this user's, or sits in the session of a process so listed (every
process the harness starts leads a session of its own). The registry lives in
``$TMPDIR/bench-lab-<uid>/``, 0700, trusted only while it is this user's own real folder.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError

OWNER_ENV = "BENCH_LAB_OWNER"
REGISTRY_NAME = "bench-lab-{uid}"  # in TMPDIR, one per user: a file per harness, the processes it started


def stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, ppid, ...), or None."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[-1].split()
    except OSError:
        return None


def proc_stats() -> Iterator[tuple[int, list[str]]]:
    """Every process /proc lists now, with its ``stat_fields`` (one that ends meanwhile is left out)."""
    for pid in _pids():
        fields = stat_fields(pid)
        if fields is not None and len(fields) > 19:
            yield int(pid), fields


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22): with the
    pid, it names one process for good, even after the pid is reused."""
    fields = stat_fields(pid)
    return fields[19] if fields else None


def children_of(pid: int, living: bool = False) -> list[int]:
    """Direct children of ``pid``, from /proc (Linux); ``living``: not those that have exited
    and wait for their parent to reap them (zombies)."""
    parent = str(pid)
    return [p for p, fields in proc_stats() if fields[1] == parent and not (living and fields[0] in ("Z", "X"))]


def owner_mark(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_ticks(pid) or 0}"


def owner_alive(mark: str) -> bool:
    """Whether the harness that wrote ``mark`` still runs (same pid, same start time)."""
    pid_text, _, ticks = mark.partition(":")
    if not pid_text.isdigit():
        return False
    return _start_ticks(int(pid_text)) == ticks


@dataclass(frozen=True)
class Marked:
    pid: int
    owner: str
    command: str
    ticks: str | None = None  # its start time when found: checked again right before a signal


def registry() -> Path:
    """This user's registry folder: made 0700 here, and trusted only while it is a real folder
    (never a link) owned by this user that nobody else can write. One that is not is refused
    in one line, never used: what another user plants there must not choose what we stop."""
    folder = Path(tempfile.gettempdir()) / REGISTRY_NAME.format(uid=os.getuid())
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    try:
        info = os.lstat(folder)
    except OSError as exc:
        raise BenchError(f"the lab's registry {folder} cannot be made: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        what = "a link" if stat.S_ISLNK(info.st_mode) else "not a folder" if not stat.S_ISDIR(info.st_mode) else None
        raise BenchError(
            f"the lab's registry {folder} is {what or f'owned by uid {info.st_uid}, not you'}: "
            "remove it, or point TMPDIR at a folder of your own"
        )
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)  # ours, but others could read or write it: not any more
    return folder


def registry_file(owner: str) -> Path:
    """Where a harness lists the processes it started (pid and start time, one a line)."""
    return registry() / f"{owner.replace(':', '-')}.pids"


def register(pid: int) -> None:
    """List ``pid`` (a process this harness started) in this harness's registry file."""
    path = registry_file(owner_mark())
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)  # a link in its place is refused (ELOOP), never followed
    except OSError:
        path.unlink(missing_ok=True)  # the link itself goes, not what it points to; then ours, new
        fd = os.open(path, flags | os.O_EXCL, 0o600)
    if os.fstat(fd).st_uid != os.getuid():
        os.close(fd)
        raise BenchError(f"{path} is not yours: remove it")
    try:
        os.write(fd, f"{pid} {_start_ticks(pid) or 0}\n".encode("ascii"))
    finally:
        os.close(fd)


def _read_own(file: Path) -> str | None:
    """A registry file's text, if it is a regular file of this user's (opened without following links)."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_size > 1 << 20:
            return None
        return os.read(fd, info.st_size).decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


def _uid_of(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def registered_owners() -> set[str]:
    """The harnesses of this user's registry that left a file of their own there."""
    folder = registry()
    return {f.stem.replace("-", ":") for f in folder.glob("*.pids") if _read_own(f) is not None}


def marked_processes() -> Iterator[Marked]:
    """Every process of this user's that a harness started.

    Two sources: the owner mark in a process's environment (inherited by everything a
    started process starts in turn), and each harness's registry of the processes it
    started itself (pid and start time, both checked). A process of another user is never
    one: root reads every environment, and another user could plant a mark."""
    me = os.getuid()
    key = OWNER_ENV.encode() + b"="
    seen: set[int] = set()
    for name in _pids():
        environ = _environ_if_mine(name, me)
        if environ is None or key not in environ:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(key):
                seen.add(int(name))
                mark = item[len(key) :].decode(errors="replace")
                yield Marked(int(name), mark, _command(Path(f"/proc/{name}")), _start_ticks(int(name)))
                break
    sessions: dict[str, tuple[str, int]] = {}  # a started process's session: what the harness started
    for file in sorted(registry().glob("*.pids")):
        owner = file.stem.replace("-", ":")
        lines = (_read_own(file) or "").split()
        for pid_text, ticks in zip(lines[::2], lines[1::2], strict=False):
            if not (pid_text.isdigit() and ticks.isdigit()):
                continue
            now = _start_ticks(int(pid_text))
            if now is None or now == ticks:  # gone, or still the one started: its session is ours
                sessions[pid_text] = (owner, int(ticks))
            if int(pid_text) in seen or _uid_of(pid_text) != me:
                continue
            if now == ticks:
                seen.add(int(pid_text))
                yield Marked(int(pid_text), owner, _command(Path(f"/proc/{pid_text}")), ticks)
    # What a started process started with its mark wiped (``env -i``) is still in its session
    # (every process the harness starts leads one): found by session id, started after it.
    for pid, fields in proc_stats() if sessions else ():
        session = sessions.get(fields[3])
        if session is not None and pid not in seen and int(fields[19]) >= session[1] and _uid_of(pid) == me:
            seen.add(pid)
            yield Marked(pid, session[0], _command(Path(f"/proc/{pid}")), fields[19])


def _pids() -> list[str]:
    """The pids /proc lists now."""
    try:
        return [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _environ_if_mine(pid: str, me: int) -> bytes | None:
    """Process ``pid``'s environment if it is user ``me``'s (the owner of the file opened, so of
    that very process), else None. On a machine of a few hundred processes this is most of a
    scan: read without ``Path``, whose objects took three quarters of its time."""
    try:
        fd = os.open(f"/proc/{pid}/environ", os.O_RDONLY)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_uid != me:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _command(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def kill_marked(owner: str, grace_s: float = 1.5, timeout_s: float = 4.0) -> int:
    """Stop every process bearing ``owner``'s mark: SIGTERM, ``grace_s``, then SIGKILL,
    until none is left or ``timeout_s`` passed. Returns how many there were. A process is
    signalled only when it is still the one found (same start time, same user): a pid
    reused in between is left alone."""
    me = os.getpid()
    seen: set[int] = set()
    start = time.monotonic()
    sig = signal.SIGTERM
    while True:
        found = [m for m in marked_processes() if m.owner == owner and m.pid != me]
        if not found:
            return len(seen)
        seen.update(m.pid for m in found)
        if time.monotonic() - start > grace_s:
            sig = signal.SIGKILL
        for m in found:
            if _start_ticks(m.pid) == m.ticks and _uid_of(m.pid) == os.getuid():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(m.pid, sig)
        if time.monotonic() - start > timeout_s:
            return len(seen)
        time.sleep(0.05)


def forget(owner: str) -> None:
    """Drop a finished harness's registry (its processes are stopped)."""
    with contextlib.suppress(OSError, BenchError):
        registry_file(owner).unlink(missing_ok=True)


def leftovers() -> dict[str, list[Marked]]:
    """Processes marked by a harness that is no longer running, by owner mark: only harnesses
    of this registry (this user's, this TMPDIR's), and each dead harness of it, even with
    nothing left (its file is stale). Another's are not ours to stop: their own lifeline, or
    the next bench of their registry, does."""
    found: dict[str, list[Marked]] = {o: [] for o in registered_owners() if not owner_alive(o)}
    for m in marked_processes():
        if m.owner in found:
            found[m.owner].append(m)
    return found


def kill_session(sid: int) -> None:
    """SIGKILL what is left in session ``sid`` (a process the harness started leads it): what
    the learner's code started in a group of its own, or with the owner mark wiped."""
    me, session = os.getuid(), str(sid)
    for pid, fields in proc_stats():
        if fields[3] == session and _uid_of(pid) == me:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
