"""Report formats by name, and the one place that turns a ComplianceReport into text."""

from __future__ import annotations

from collections.abc import Callable

from fleet.reports.compliance import ComplianceReport

FORMATS = ("table", "json", "csv", "markdown", "html")


def render_table_text(r: ComplianceReport, *, color: bool = False) -> str:
    from fleet.reports.render_table import render_table
    return render_table(r, color=color)


def renderer(fmt: str) -> Callable[[ComplianceReport], str]:
    if fmt == "json":
        from fleet.reports.render_json import render_json
        return render_json
    if fmt == "csv":
        from fleet.reports.render_csv import render_csv
        return render_csv
    if fmt == "markdown":
        from fleet.reports.render_markdown import render_markdown
        return render_markdown
    if fmt == "html":
        from fleet.reports.render_html import render_html
        return render_html
    if fmt == "table":
        return render_table_text
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
