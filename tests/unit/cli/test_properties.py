"""Whatever a user types, ``bench`` answers with exit code 0, 1 or 2, never a traceback.

Property-based (hypothesis): arbitrary scenarios files, URLs and numbers on the command
line. None of them starts a server: the files go to ``bench list``, the URLs and numbers
to ``bench load`` at a loopback port where nothing listens, or to ``bench run`` with a
variant that does not exist (which is refused after the options are checked).
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import results
from bench.cli.app_options import request_of
from bench.errors import BenchError
from bench.lab.catalog import default_scenarios_path
from bench.lab.ownapp import AppSettings, parse_app_option
from tests.factories import bench_here, run_document

SCRATCH = str(Path(tempfile.gettempdir()) / "bench-property-tests")  # where a load that ran is saved

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(*args: str) -> tuple[int, str]:
    """``bench ARGS`` in this process: the exit code and what it wrote on stderr."""
    done = bench_here(*args)
    return done.returncode, done.stderr


def assert_clean(code: int, err: str, allowed: tuple[int, ...] = (0, 1, 2)) -> None:
    assert code in allowed, err
    assert "Traceback" not in err, err
    if code == 2:
        assert 1 <= len(err.strip().splitlines()) <= 2, err


REAL = yaml.safe_load(default_scenarios_path().read_text())
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: the pure-Python one took most of the test's time
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(node: object, at: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    if isinstance(node, dict):
        return [at] + [p for k, v in node.items() for p in _paths(v, (*at, k))]
    if isinstance(node, list):
        return [at] + [p for i, v in enumerate(node) for p in _paths(v, (*at, i))]
    return [at]


PATHS = [p for p in _paths(REAL) if p]


@st.composite
def mutated_catalogs(draw: st.DrawFn) -> str:
    """The project's own scenarios file with a few fields replaced by arbitrary values."""
    doc = copy.deepcopy(REAL)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]  # type: ignore[index]
            node[path[-1]] = draw(values)  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            continue
    return yaml.dump(doc, Dumper=DUMPER, allow_unicode=True)


@FAST
@given(text=st.one_of(st.text(max_size=200), mutated_catalogs()))
def test_any_scenarios_file_is_read_or_refused_in_one_line(tmp_path_factory: object, text: str) -> None:
    folder = Path(tmp_path_factory.mktemp("yaml"))
    path = folder / "s.yaml"
    path.write_text(text, encoding="utf-8")
    code, err = run("list", "--scenarios", str(path))
    assert_clean(code, err, (0, 2))


@FAST
@given(
    url=st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda host, port, path: f"http://{host}:{port}{path}",
            st.sampled_from(["127.0.0.1", "localhost", "[::1]", "127.0.0.2", "example.com", "10.1.2.3"]),
            st.integers(min_value=-5, max_value=70000),
            st.text(max_size=20),
        ),
    )
)
def test_any_url_is_loaded_or_refused(url: str) -> None:
    code, err = run("load", url, "-n", "1", "-c", "1", "--timeout", "0.5", "--out", SCRATCH)
    assert_clean(code, err)


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**9), max_value=10**12).map(str),
    st.sampled_from(["nan", "inf", "-inf", "NaN", "1e309", "-0", "0", "", "1_000", "0x10", "abc"]),
)


@FAST
@given(connections=numbers, duration=numbers, rate=numbers, timeout=numbers)
def test_any_numbers_for_load_are_used_or_refused(connections: str, duration: str, rate: str, timeout: str) -> None:
    code, err = run(
        "load",
        "http://127.0.0.1:1/",
        "-c",
        connections,
        "-d",
        duration,
        "--rate",
        rate,
        "--timeout",
        timeout,
        "--out",
        SCRATCH,
    )
    assert_clean(code, err, (1, 2))  # 1: nothing listens on port 1; 2: a number refused
    if code == 1:
        assert math.isfinite(float(duration)) and math.isfinite(float(rate)) and math.isfinite(float(timeout))


def _accepted_scale(text: str) -> bool:
    """What ``--time-scale`` takes: a finite number from 0.001 to 10 (click's float parsing)."""
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and 0.001 <= value <= 10.0


@FAST
@given(scale=st.one_of(numbers, st.floats(min_value=0.001, max_value=10.0).map(repr)))
def test_any_time_scale_is_used_or_refused(scale: str, tmp_path_factory: object) -> None:
    out = Path(tmp_path_factory.mktemp("out"))
    code, err = run("run", "four-tabs", "--time-scale", scale, "--variants", "nope", "--out", str(out))
    assert_clean(code, err, (2,))
    if _accepted_scale(scale):  # used: the run went on to pick its variants, and refused the unknown one
        assert "unknown variant 'nope'" in err, err
    else:  # refused: the error names the option
        assert "--time-scale" in err, err


# Run documents: a saved one with fields replaced, or any bytes at all, is shown or refused.

SAVED = json.loads(results.to_json(run_document()))
DOC_PATHS = [p for p in _paths(SAVED) if p]


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    doc = json.loads(json.dumps(SAVED))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(DOC_PATHS))
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = draw(values)
        except (KeyError, IndexError, TypeError):
            continue
    return json.dumps(doc, allow_nan=True).encode()


@FAST
@given(content=st.one_of(st.binary(max_size=300), mutated_documents()))
def test_any_run_document_is_shown_or_refused_in_one_line(tmp_path_factory: object, content: bytes) -> None:
    folder = Path(tmp_path_factory.mktemp("doc"))  # type: ignore[attr-defined]
    (folder / "run.json").write_bytes(content)
    for command in ("show", "export"):
        code, err = run(command, str(folder))
        assert_clean(code, err, (0, 2))


@FAST
@given(content=st.binary(max_size=400))
def test_any_bytes_as_a_scenarios_file_are_read_or_refused_in_one_line(
    tmp_path_factory: object, content: bytes
) -> None:
    path = Path(tmp_path_factory.mktemp("bytes")) / "s.yaml"  # type: ignore[attr-defined]
    path.write_bytes(content)
    code, err = run("list", "--scenarios", str(path))
    assert_clean(code, err, (0, 2))


# The request options: any path, header, body or done pattern is taken or refused in one line.

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


@FAST
@given(path=texts, header=texts, body=texts, pattern=texts, method=st.sampled_from(["GET", "POST", "get", "", "X Y"]))
def test_any_request_options_for_an_own_app_are_taken_or_refused(
    path: str, header: str, body: str, pattern: str, method: str
) -> None:
    try:
        request = request_of(method, (header,), body, None, None)
        parse_app_option("main.py:app", AppSettings(path=path, request=request, done_pattern=pattern))
    except BenchError as exc:  # anything else escaping is a traceback for the user
        assert 1 <= len(str(exc).strip().splitlines()) <= 2, str(exc)


@FAST
@given(path=texts, header=texts, body=texts)
def test_any_request_options_for_bench_load_are_sent_or_refused(path: str, header: str, body: str) -> None:
    code, err = run(
        "load",
        f"http://127.0.0.1:1/{path}",
        "-H",
        header,
        "--body",
        body,
        "-n",
        "1",
        "--timeout",
        "0.5",
        "--out",
        SCRATCH,
    )
    assert_clean(code, err, (1, 2))  # 1: nothing listens on port 1
