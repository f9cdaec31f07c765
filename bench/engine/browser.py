"""Real headless Chromium as the client: the tutorial's tabs, literally.

Playwright drives the system's Chromium (``executable_path``; Playwright's own browser
download is never used). Each client is a tab of one browser context, navigated at its
arrival time; its times come from the browser's own Navigation Timing
(``performance.timeOrigin`` is wall-clock milliseconds, so they line up with the ledger).

A browser is not a neutral client: Chromium holds back concurrent requests for an
identical URL behind its HTTP cache lock (even with ``Cache-Control: no-store``), and
opens at most 6 connections per host. ``same_url`` reproduces the tutorial's
``/push/1`` in every tab.

Inside ``shared_browser()`` (a run with the browser as its client) one Chromium serves every
burst: starting Playwright's driver and Chromium took some 2 s of each variant's turn. Its
bursts, one after another, reuse one context's tabs (opening four took 0.5 s of each turn):
each burst's URLs are its own (its variant's port, its own tokens), so no cached answer, cache
lock or connection (6 per host and port) is shared between variants. A burst that starts while
another holds the tabs gets a context of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from contextvars import ContextVar
from typing import Any

from bench.engine.http import PID_HEADER, worker_pid
from bench.engine.load import Request, Sample
from bench.engine.processes import LaunchError, owned_env
from bench.errors import BenchError
from bench.model.events import LoadObserver

# Flags that let Chromium run as root on a machine without network access: no
# sandbox, no GPU, none of the background traffic to Google's services.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
)
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "install it with `apt-get install chromium` (Debian, Ubuntu), or set BENCH_CHROMIUM to its path"

TIMING_JS = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  return {origin: performance.timeOrigin, start: n.startTime, responseStart: n.responseStart,
          responseEnd: n.responseEnd};
}"""


def find_chromium() -> str:
    given = os.environ.get("BENCH_CHROMIUM")
    if given:
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            raise BenchError(f"BENCH_CHROMIUM={given} is not an executable file")
        return given
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise BenchError(f"no Chromium found for --client browser; {INSTALL_HINT}")


async def _launch(stack: contextlib.AsyncExitStack) -> Any:
    """Playwright's driver and a Chromium, both closed with ``stack``; a browser that does not start
    is this variant's failure (``LaunchError``), not the run's."""
    executable = find_chromium()
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    playwright = await stack.enter_async_context(async_playwright())
    try:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_FLAGS),
            env={**owned_env()},
        )
    except PlaywrightError as exc:
        said = next((line.strip() for line in str(exc).splitlines() if line.strip()), "no reason given")
        raise LaunchError(f"Chromium ({executable}) did not start: {said}") from None
    stack.push_async_callback(browser.close)
    return browser


class _Shared:
    """The one Chromium of a ``shared_browser()`` block, started by its first burst, and its tabs."""

    def __init__(self) -> None:
        self.browser: Any = None
        self.stack = contextlib.AsyncExitStack()
        self.lock = asyncio.Lock()
        self.context: Any = None
        self.pages: list[Any] = []
        self.taken = False

    async def get(self) -> Any:
        async with self.lock:
            if self.browser is None or not self.browser.is_connected():
                await self.stack.aclose()  # a browser that died: its driver goes too, a new one starts
                self.stack = contextlib.AsyncExitStack()
                self.browser = await _launch(self.stack)
                self.context, self.pages = None, []
            return self.browser

    @contextlib.asynccontextmanager
    async def tabs(self, count: int) -> AsyncIterator[list[Any]]:
        """``count`` tabs of the block's context, opened as needed; of a new context while another burst has them."""
        browser = await self.get()
        if self.taken:
            async with _own_tabs(browser, count) as pages:
                yield pages
            return
        self.taken = True
        try:
            if self.context is None:
                self.context = await browser.new_context()
            while len(self.pages) < count:
                self.pages.append(await self.context.new_page())
            yield self.pages[:count]
        finally:
            self.taken = False


_SHARED: ContextVar[_Shared | None] = ContextVar("bench_shared_browser", default=None)


@contextlib.asynccontextmanager
async def shared_browser() -> AsyncIterator[None]:
    """Every burst in the block (its tasks too) uses one Chromium, closed when the block ends."""
    shared = _Shared()
    token = _SHARED.set(shared)
    try:
        yield
    finally:
        _SHARED.reset(token)
        await shared.stack.aclose()


async def browser_burst(
    host: str, port: int, requests: Sequence[Request], gap_s: float, timeout_s: float, observe: LoadObserver
) -> list[Sample]:
    """One tab per request, each navigated ``gap_s`` after the previous one (0: all at once), in a
    browser context of their own: in the block's shared Chromium, or in one started for them."""
    async with contextlib.AsyncExitStack() as stack:
        shared = _SHARED.get()
        if shared is not None:
            pages = await stack.enter_async_context(shared.tabs(len(requests)))
        else:
            pages = await stack.enter_async_context(_own_tabs(await _launch(stack), len(requests)))
        return await _tabs(pages, host, port, requests, gap_s, timeout_s, observe)


@contextlib.asynccontextmanager
async def _own_tabs(browser: Any, count: int) -> AsyncIterator[list[Any]]:
    """``count`` tabs of a context of their own, closed after."""
    context = await browser.new_context()
    try:
        yield [await context.new_page() for _ in range(count)]
    finally:
        await context.close()


async def _tabs(
    pages: list[Any],
    host: str,
    port: int,
    requests: Sequence[Request],
    gap_s: float,
    timeout_s: float,
    observe: LoadObserver,
) -> list[Sample]:
    """The tabs, one page each, and their times from the browser's Navigation Timing."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    start = time.perf_counter()

    async def tab(index: int, token: str, path: str) -> Sample:
        await asyncio.sleep(max(0.0, start + index * gap_s - time.perf_counter()))
        page = pages[index]
        began = time.time()
        observe("sent", index, began)
        try:
            response = await page.goto(f"http://{host}:{port}{path}", wait_until="load", timeout=timeout_s * 1000)
            timing: dict[str, Any] = await page.evaluate(TIMING_JS)
        except PlaywrightTimeout:
            observe("failed", index, time.time())
            return Sample.failed(index, token, began, "timeout")
        except PlaywrightError:
            observe("failed", index, time.time())
            return Sample.failed(index, token, began, "connect")
        origin = float(timing["origin"])

        def wall(ms: float) -> float:
            return (origin + ms) / 1000

        responded = wall(timing["responseEnd"])
        observe("responded", index, responded)
        pid = worker_pid(response.headers.get(PID_HEADER.decode())) if response else None
        return Sample(
            client=index,
            token=token,
            sent=wall(timing["start"]),
            first_byte=wall(timing["responseStart"]),
            responded=responded,
            status=response.status if response else None,
            pid=pid,
            error=None,
        )

    return list(await asyncio.gather(*(tab(i, t, p) for i, (t, p) in enumerate(requests))))
