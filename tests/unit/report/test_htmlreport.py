"""The HTML report: built from a document, and rendered in real headless Chromium."""

from __future__ import annotations

from bench.report.html import render
from tests.factories import run_document


def test_the_report_has_every_part_and_no_outside_reference() -> None:
    html = render(run_document())
    for part in ("<h1>four-tabs", "Claims: 1 of 2 hold", "They raced.", "Timelines", "Capacity and theory"):
        assert part in html
    assert html.count('<svg class="timeline"') == 3
    own = html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a namespace name, never fetched
    assert "http://" not in own and "https://" not in own
    assert "<script" not in html


def test_text_is_escaped() -> None:
    doc = run_document()
    doc.variants[0].title = "<script>alert(1)</script>"
    page = render(doc)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the title is there, as text
