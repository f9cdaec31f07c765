"""Shared fixtures. The key one: after every test, no server the harness started is left.

The suite runs on parallel workers (pytest-xdist), so each test checks only what it
started: every process the harness starts inherits the test's tag (``BENCH_TEST_TAG``), and
the leftover check counts the processes that carry it. Tests that time CPU-bound work
(marked ``cpu_timing``) or a race of a few ms (marked ``alone``) run alone: they take an
exclusive lock that every other test takes shared, so no other test's servers compete for
the cores while they measure.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED_TMP = Path(tempfile.gettempdir())  # the machine's: the locks the workers share live here
os.environ.setdefault("BENCH_TEST_SHARED_TMP", str(SHARED_TMP))
if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker its own TMPDIR, so its own registry (bench-lab/)
    # short: Chromium's profile (in TMPDIR) holds a Unix socket, whose path may not pass 107 bytes
    _worker_tmp = SHARED_TMP / f"bench-tests-{os.environ.get('PYTEST_XDIST_TESTRUNUID', 'run')[:12]}"
    _worker_tmp = _worker_tmp / os.environ["PYTEST_XDIST_WORKER"]
    _worker_tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(_worker_tmp)
    tempfile.tempdir = None  # read TMPDIR again

from bench.engine.owners import marked_processes, owner_alive, owner_mark  # noqa: E402  (after TMPDIR)
from tests.factories import ROOT, machine  # noqa: E402

TAG = "BENCH_TEST_TAG"

INTEGRATION = Path(__file__).resolve().parent / "integration"


def pytest_configure(config: pytest.Config) -> None:
    """Once, before the workers start: the harness's own modules compiled to bytecode.

    Where ``PYTHONDONTWRITEBYTECODE`` is set (this machine sets it), no interpreter writes
    ``__pycache__``, so each of the suite's few hundred ``bench`` processes and preloaded starters
    compiled the harness again: about 0.15 s of CPU each, a tenth of the suite's CPU time. The
    caches are read whatever the variable says; ``compileall`` writes them all the same."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        import compileall

        for package in ("bench", "servers"):
            compileall.compile_dir(ROOT / package, quiet=2)
        if getattr(config.option, "numprocesses", None):  # workers to come: each would rewrite the tests
            import threading

            threading.Thread(target=_rewrite_ahead, args=(config,), daemon=True).start()


def _rewrite_ahead(config: pytest.Config) -> None:
    """The test modules with their asserts rewritten, cached as pytest caches them, while the
    workers start. Where ``PYTHONDONTWRITEBYTECODE`` is set pytest writes no such cache, though it
    reads one: every worker rewrote every test module (2 s of CPU each, half its collection). A
    module a worker reaches first, it rewrites itself, as before; the cache is pytest's own
    (checked against the source's hash). Its functions are pytest's internals: if they change,
    nothing is cached and nothing else changes."""
    try:
        from _pytest.assertion.rewrite import (
            PYC_TAIL,
            _read_pyc,
            _rewrite_test,
            _write_pyc,
            assertstate_key,
            get_cache_dir,
        )

        state = config.stash[assertstate_key]
        for source in sorted(Path(__file__).parent.rglob("*.py")):
            if not (source.name.startswith("test_") or source.name == "conftest.py"):
                continue
            cache = get_cache_dir(source)
            pyc = cache / (source.name[:-3] + PYC_TAIL)
            if _read_pyc(source, pyc) is None:
                cache.mkdir(exist_ok=True)
                source_hash, code = _rewrite_test(source, config)
                _write_pyc(state, code, source_hash, pyc)
    except Exception:  # pytest's internals moved: the workers rewrite, as before
        return


# The files whose tests take longest (a pip install, a browser, repeated runs): started first, the
# workers end together instead of one finishing them alone while the others idle.
LONGEST_FIRST = ("test_learner_env.py", "test_browser.py", "test_gates.py", "test_celery.py", "test_locust.py")


def _shares_a_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture of its own module that lives longer than a test (a run
    made once for all the module's tests): each worker that gets one of them would make it again."""
    info = getattr(item, "_fixtureinfo", None)
    module = getattr(getattr(item, "module", None), "__name__", None)
    return info is not None and any(
        d.scope != "function" and getattr(d.func, "__module__", None) == module
        for defs in info.name2fixturedefs.values()
        for d in defs
    )


def _order(item: pytest.Item) -> tuple[bool, bool, bool]:
    """The longest first, the rest of the integration tests, the unit tests (short: they fill the
    workers' ends), and the cpu_timing tests last, on a machine the others have left quiet."""
    name = Path(str(item.path)).name
    return _timed(item), INTEGRATION not in Path(str(item.path)).parents, name not in LONGEST_FIRST


def pytest_itemcollected(item: pytest.Item) -> None:
    """Every test under tests/integration/ starts real servers: marked so, by its folder. The
    ``cpu_timing`` tests form one group for one worker (``--dist loadgroup``): they hold the
    machine alone from the first to the last, once the others have run, rather than stopping every
    worker once for each of them. (First, they failed: a d from the code needs a request's rest
    under 10 ms, and the other workers' first tests, drained, left it busier than that.) A module's
    tests that share a run made once for them are a group too. Marked as each test is collected,
    before any ``pytest_collection_modifyitems`` reads the groups (xdist's, and the one below)."""
    if INTEGRATION in Path(str(item.path)).parents:
        item.add_marker(pytest.mark.integration)
    if _timed(item):
        item.add_marker(pytest.mark.xdist_group("cpu_timing"))
    elif _shares_a_fixture(item):  # one worker makes it once (the browser's run took 13 s, made thrice)
        item.add_marker(pytest.mark.xdist_group(Path(str(item.path)).stem))


@pytest.hookimpl(trylast=True)  # after xdist's own
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests in the order ``_order`` gives (xdist hands them out in it), each group in its
    test's id. xdist 3.8 writes the group into ``_nodeid``, which pytest 9.2's ids no longer read
    (pytest-dev/pytest-xdist#1386): grouped tests went to any worker, the browser's run was made
    on four of them. Done here on the id pytest 9.2 keeps, until xdist does it."""
    if getattr(config.option, "loadgroup", False):  # set in xdist's workers only
        from _pytest.nodes import coerce_node_id

        for item in items:
            marks = item.iter_markers("xdist_group")
            names = sorted({str(m.args[0] if m.args else m.kwargs.get("name")) for m in marks})
            suffix = "@" + "_".join(names)
            if names and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
                item._id = coerce_node_id(item.nodeid + suffix)
    items.sort(key=_order)  # stable: within each rank, the files' own order


def leftover_processes(tag: str | None = None) -> list[str]:
    """Processes started by the harness whose owner is this test process or is gone, and
    (``tag``) that this test started: another worker's are not this test's to judge."""
    mine = owner_mark()
    return [
        f"{m.pid}: {m.command}"
        for m in marked_processes()
        if not _zombie(m.pid)
        and (m.owner == mine or not owner_alive(m.owner))
        and (tag is None or m.owner == mine or _tagged(m.pid, tag))
    ]


def _tagged(pid: int, tag: str) -> bool:
    try:
        return f"{TAG}={tag}".encode() in (Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
    except OSError:
        return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture(autouse=True)
def nothing_left_running(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Each test its own tag and its own TMPDIR, so its own registry (``bench-lab-<uid>/``): what a
    harness killed in an earlier test left there is not this test's ``bench`` to find and report."""
    tmp_path_factory.getbasetemp()  # pytest's folders under the session's TMPDIR, not this test's (removed after it)
    tag = uuid.uuid4().hex
    monkeypatch.setenv(TAG, tag)  # inherited by every process the test's harness starts
    own_tmp = Path(tempfile.gettempdir()) / f"t-{tag[:8]}"
    own_tmp.mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(own_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    yield
    if request.node.get_closest_marker("integration"):
        left = leftover_processes(tag)
        assert not left, f"processes left running after the test: {left}"
    if not os.environ.get("BENCH_KEEP_TEST_TMP"):
        import shutil

        shutil.rmtree(own_tmp, ignore_errors=True)


def _timed(item: pytest.Item | None) -> bool:
    """A test that holds the machine alone: it times CPU work (``cpu_timing``) or a race (``alone``)."""
    return item is not None and any(item.get_closest_marker(m) is not None for m in ("cpu_timing", "alone"))


class _Alone:
    """This worker's hold of the whole machine, over its run of held tests (``_timed``)."""

    def __init__(self) -> None:
        self._held: contextlib.ExitStack | None = None

    def take(self) -> None:
        if self._held is None:
            self._held = contextlib.ExitStack()
            self._held.enter_context(machine(exclusive=True))

    def give_back(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None


_ALONE = _Alone()


@pytest.fixture(scope="module")
def machine_alone() -> None:
    """For a module's run made once for its ``alone`` tests: the machine held alone from before
    the run (module fixtures are made before a test's own) to the last of the timed tests."""
    _ALONE.take()


@pytest.fixture(autouse=True)
def cpu_to_itself(request: pytest.FixtureRequest) -> Iterator[None]:
    """Under xdist: a ``cpu_timing`` test waits until no other test runs, and holds them off
    while it measures; every other test holds the machine shared (a unit test too: the
    property tests keep a core busy for seconds). The ``cpu_timing`` tests all go to one worker,
    one after another (``pytest_collection_modifyitems``), which keeps the machine from the first
    to the last of them: the others drain once, not once a test."""
    if not _timed(request.node):
        with machine(exclusive=False):
            yield
        return
    _ALONE.take()
    if request.node.get_closest_marker("cpu_timing") is None:  # alone, and timed by the clock only
        yield
        return
    calm_by = time.monotonic() + CALM_WAIT_S  # what other tests left (a server stopping) settles first
    while (busy := others_busy()) is not None and time.monotonic() < calm_by:
        pass
    if busy is not None:  # said, never passed in silence
        pytest.skip(f"the machine is busy: {busy:.0%} of its CPU time went to other work while this test waited")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the last of a run of held tests (the next is another, or none): the machine shared again."""
    yield
    if _timed(item) and not _timed(nextitem):
        _ALONE.give_back()


BUSY_LIMIT = 0.3  # of all CPUs: more than this in use by others, and CPU timings mean nothing
CALM_WAIT_S = 15.0  # how long a cpu_timing test waits for a busy machine to calm down before it skips


class SpeedWatch:
    """This process's CPU speed (iterations a CPU second of a small Python loop), read every 0.1 s
    in a thread while a test runs. On this VM it is not constant: a loop that took 0.24 s one minute took
    0.44 s the next, and after some 0.7 s of load the speed may jump by half again (13.5 to 22
    million iterations a second, seen alone on the machine). A timing of the learner's own CPU work
    (a fixed number of iterations) only holds while the speed does."""

    LIMIT = 0.15  # max/min - 1 beyond which a CPU timing says nothing

    def __init__(self) -> None:
        import threading

        self.speeds: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import time

        while not self._stop.wait(0.1):
            start, total = time.thread_time(), 0  # CPU time: a sample preempted by servers still counts right
            for i in range(200_000):  # about 10 ms: a few per cent of one core
                total += i * i % 7
            took = time.thread_time() - start
            if took > 0:
                self.speeds.append(200_000 / took)

    def drift(self) -> float:
        return max(self.speeds) / min(self.speeds) - 1 if len(self.speeds) > 1 else 0.0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def require_steady(self, final: bool = True) -> None:
        """Skip, saying why, when the speed moved too much for a CPU timing to mean anything;
        ``final=False``: so far, the watch goes on (a test skips before the rest of its timing,
        which the drift already voids)."""
        if final:
            self.stop()
        if self.drift() > self.LIMIT:
            pytest.skip(
                f"this machine's CPU speed changed by {self.drift():.0%} during the test "
                f"({min(self.speeds) / 1e6:.1f} to {max(self.speeds) / 1e6:.1f} M iterations/s): no CPU timing holds"
            )


@pytest.fixture
def cpu_speed() -> Iterator[SpeedWatch]:
    watch = SpeedWatch()
    yield watch
    watch.stop()


def others_busy(window_s: float = 0.5) -> float | None:
    """How busy the CPUs were over ``window_s`` while this process slept, if over ``BUSY_LIMIT``
    (another user, a build, a browser): the share of CPU time that was not idle."""
    import time

    def idle_and_total() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return fields[3] + fields[4], sum(fields[:8])  # idle + iowait; user .. steal

    try:
        idle0, total0 = idle_and_total()
        time.sleep(window_s)
        idle1, total1 = idle_and_total()
    except (OSError, ValueError, IndexError):
        return None
    busy = 1 - (idle1 - idle0) / max(1, total1 - total0)
    return busy if busy > BUSY_LIMIT else None


@pytest.fixture
def scenarios_text() -> str:
    return (ROOT / "scenarios.yaml").read_text()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker's own TMPDIR goes with it (what its tests kept there is theirs only)."""
    if os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("BENCH_KEEP_TEST_TMP"):
        import shutil

        shutil.rmtree(os.environ["TMPDIR"], ignore_errors=True)
