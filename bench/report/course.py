"""The tour's course page: one offline HTML page, each lesson with its question, the
prediction, the measurement, the verdict and its paragraph, and a link to its report."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from bench import contract
from bench.model.document import RunDocument
from bench.model.tour import Lesson, verdict
from bench.report.html import page_start, write_page

CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222 }
section { border-top: 1px solid #ddd; padding: .5rem 0 1rem }
.q { font-size: 1.1rem; font-weight: 600 } .meta { color: #666 } .ok { color: #1a7f37 } .no { color: #c62828 }
dt { font-weight: 600 } dd { margin: 0 0 .4rem 1rem }
"""


def render(title: str, stops: Sequence[tuple[Lesson, RunDocument | None, str | None]], time_scale: float) -> str:
    out = [
        page_start(title, CSS) + f"<h1>{escape(title)}</h1>",
        f"<p class='meta'>The lessons in teaching order, measured on this machine at time scale "
        f"{time_scale:g} (every duration times {time_scale:g}). Each links to its full report.</p>",
    ]
    for number, (lesson, doc, skipped) in enumerate(stops, 1):
        out.append(f"<section id='{escape(lesson.scenario)}'><h2>{number}. {escape(lesson.scenario)}</h2>")
        out.append(f"<p class='q'>{escape(lesson.question)}</p>")
        if doc is None:
            out.append(f"<p class='no'>{escape(skipped or 'not run')}</p></section>")
            continue
        v = verdict(doc)
        mark = "ok" if v.held == v.claims else "no"
        out.append(
            "<dl>"
            f"<dt>Prediction</dt><dd>{escape(v.prediction)}</dd>"
            f"<dt>Measurement</dt><dd>{escape(v.measurement)}</dd>"
            f"<dt>Verdict</dt><dd class='{mark}'>{v.held} of {v.claims} of the lab's claims hold"
            + (f"; not: {escape(', '.join(v.not_held))} (see the report's findings)" if v.not_held else "")
            + "</dd>"
            + "".join(f"<dt>Finding</dt><dd class='no'>the tutorial's claim {escape(f)}</dd>" for f in v.findings)
            + "</dl>"
        )
        out.append(f"<p>{escape(lesson.paragraph)}</p>")
        out.append(
            f"<p><a href='{escape(lesson.scenario)}/{contract.REPORT_PAGE}'>the full report of this lesson</a></p>"
            "</section>"
        )
    out.append("</body></html>\n")
    return "\n".join(out)


def write(html: str, folder: Path) -> Path:
    return write_page(html, folder / "course.html")
