"""Renderers on a small in-memory report (a forecast-shaped object stands in for the simulation)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

from fleet.reports.compliance import compute_report
from fleet.reports.formats import FORMATS, renderer
from fleet.reports.render_csv import COLUMNS
from fleet.reports.render_html import svg_timeline
from fleet.reports.render_json import TOP_LEVEL_KEYS
from fleet.reports.render_table import render_table

from .helpers import AT, CF, FakeForecast, lifecycle, plan_of, planned

MOVING = dict(status="needs-upgrade", target="1.34.2", steps=[("1.33.4", "1.34.2", None)])


def _report(**kw):
    cps = [planned("1.33.4", cid="eks/a|b", pools={"p1": "1.33.1", "p2": "1.32.9"}, **MOVING),
           planned("1.34.2", cid='eks/"quoted", <b>x</b>', wave="canary"),
           planned("1.36.0", cid="eks/unknown", status="unmanaged", policy=None)]
    t = AT + timedelta(days=12)
    fc = FakeForecast({"eks/a|b": CF(t, "default", 1)}, fleet_done=t,
                      waves={"default": (AT + timedelta(days=1), t), "canary": (AT, None), "never": (None, None)})
    return compute_report(plan_of(*cps), lifecycle(), AT, forecast=fc, **kw)


def test_every_format_states_the_as_of_date():
    r = _report()
    for fmt in FORMATS:
        assert "2026-08-01" in renderer(fmt)(r), fmt


def test_json_shape():
    d = json.loads(renderer("json")(_report()))
    assert tuple(d) == TOP_LEVEL_KEYS
    assert d["forecast"]["waves"][-1] == {"name": "never", "start": None, "end": None}
    a = next(c for c in d["clusters"] if c["id"] == "eks/a|b")
    assert a["nodePools"] == {"count": 2, "oldest": "1.32.9", "newest": "1.33.1"}
    assert a["forecastCompletion"] == "2026-09-01T12:00:00Z" and a["atRisk"] is True
    unknown = next(c for c in d["clusters"] if c["id"] == "eks/unknown")
    assert unknown["support"] == {"known": False, "calendar": "eks", "minor": "1.36", "released": None,
                                  "endOfStandardSupport": None, "endOfExtendedSupport": None,
                                  "daysToEndOfStandardSupport": None, "daysToEndOfExtendedSupport": None}


def test_csv_quotes_awkward_values():
    text = renderer("csv")(_report())
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 4
    ids = [r[0] for r in rows[1:]]
    assert 'eks/"quoted", <b>x</b>' in ids and "eks/a|b" in ids


def test_markdown_escapes_pipes():
    from markdown_it import MarkdownIt
    text = renderer("markdown")(_report())
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    cells = [t.content for t in tokens if t.type == "inline"]
    assert "eks/a|b" in cells  # the escaped pipe did not split the cell


def test_html_escapes_and_embeds_safely():
    html = renderer("html")(_report())
    assert "<b>x</b>" not in html  # neither in markup nor in the JSON block
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    block = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html, re.S).group(1)
    data = json.loads(block)
    ids = [r[0] for r in data["rows"]]
    assert 'eks/"quoted", <b>x</b>' in ids
    status = data["columns"].index("status")
    assert sorted(data["dicts"]["status"][r[status]] for r in data["rows"]) == ["behind-minor", "compliant", "unmanaged"]


def test_timeline_draws_started_waves_only():
    svg = svg_timeline(_report())
    assert svg.count('class="wave"') == 2                 # "never" did not start
    assert "not finished within the horizon" in svg       # "canary" runs to the edge
    assert "fleet done 2026-09-01" in svg


def test_no_forecast():
    r = compute_report(plan_of(planned()), lifecycle(), AT)
    html = renderer("html")(r)
    assert "No forecast in this report" in html
    assert "forecast: not computed" in renderer("table")(r)
    assert json.loads(renderer("json")(r))["forecast"] is None


def test_table_cuts_long_cells_but_never_ids():
    cp = planned("1.34.2", cid="x" * 80, reasons=["y" * 80])
    text = renderer("table")(compute_report(plan_of(cp), lifecycle(), datetime(2026, 8, 20, tzinfo=UTC)))
    assert "x" * 80 in text                               # an id is whole, on one line
    wide = render_table(compute_report(plan_of(cp), lifecycle(), datetime(2026, 8, 20, tzinfo=UTC)), wide=True)
    assert "y" * 41 + "…" in wide and "y" * 43 not in wide  # other long cells are cut


def test_no_forecast_claims_no_forecast():
    cp = planned("1.33.4", status="needs-upgrade", target="1.34.2", steps=[])
    r = compute_report(plan_of(cp), lifecycle(), AT)
    table, html, md = renderer("table")(r), renderer("html")(r), renderer("markdown")(r)
    for text in (table, html, md):
        assert "forecast to finish" not in text and "no forecast computed" in text
    assert "forecast (UTC)" not in table and "days late" not in html
    assert json.loads(renderer("json")(r))["summary"]["forecastComputed"] is False
