"""The HTML report: built from a document, and rendered in real headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.report.html import write
from tests.factories import run_document


def _chromium() -> str | None:
    try:
        from bench.engine.browser import find_chromium

        return find_chromium()
    except BenchError:
        return None


@pytest.mark.integration
def test_it_renders_in_headless_chromium_with_every_timeline(tmp_path: Path) -> None:
    executable = _chromium()
    if executable is None:
        if os.environ.get("BENCH_REQUIRE_BROWSER"):
            pytest.fail("BENCH_REQUIRE_BROWSER is set but no Chromium is installed")
        pytest.skip("no Chromium installed (apt-get install chromium)")
    import asyncio

    from playwright.async_api import async_playwright

    from bench.engine.browser import CHROMIUM_FLAGS
    from bench.engine.processes import owned_env

    path = write(run_document(), tmp_path)

    async def look() -> tuple[list[str], list[str], int, bytes]:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=executable, args=list(CHROMIUM_FLAGS), env=owned_env())
            try:
                page = await browser.new_page()
                requested: list[str] = []
                page.on("request", lambda r: requested.append(r.url))
                await page.goto(path.as_uri())
                names = await page.eval_on_selector_all("svg.timeline", "els => els.map(e => e.dataset.variant)")
                bars = await page.eval_on_selector_all("svg.timeline rect", "els => els.length")
                shot = await page.screenshot(full_page=True)
                return names, requested, bars, shot
            finally:
                await browser.close()

    names, requested, bars, shot = asyncio.run(look())
    assert names == ["sync", "multi-worker", "background"]
    assert bars >= 12  # a bar per request at least
    assert requested == [path.as_uri()]  # nothing fetched from anywhere else
    assert len(shot) > 10_000
