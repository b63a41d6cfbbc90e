"""Before/after: `fleet report -o html --compare previous.json` shows what changed, in real Chromium."""

from __future__ import annotations

import json

from .conftest import AT, EXAMPLE, run_fleet
from .test_html_browser import browser  # noqa: F401 - the shared Chromium fixture


def test_report_compared_with_a_previous_one(browser, tmp_path, lifecycle_env):  # noqa: F811
    before = json.loads(run_fleet("report", *EXAMPLE, "--at", AT, "--no-forecast", "-o", "json",
                                  env=lifecycle_env).stdout)
    crm = next(c for c in before["clusters"] if c["id"] == "aks/westeurope/crm-eu-1")
    crm["status"], crm["controlPlane"] = "compliant", "1.32.5"            # as if it had been upgraded since
    before["summary"]["byStatus"]["end-of-standard-support"] -= 1
    before["summary"]["byStatus"]["compliant"] += 1
    before["clusters"] = [c for c in before["clusters"] if c["id"] != "gke/asia-east1/sandbox"]
    prev = tmp_path / "before.json"
    prev.write_text(json.dumps(before))
    html = tmp_path / "now.html"
    r = run_fleet("report", *EXAMPLE, "--at", AT, "--no-forecast", "-o", "html", "--out-file", str(html),
                  "--compare", str(prev), env=lifecycle_env)
    assert r.returncode == 0, r.stderr
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.goto(html.as_uri())
    page.wait_for_selector("body[data-ready='1']")
    counts = page.eval_on_selector_all("#compare-counts tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert ["end-of-standard-support", "3", "4", "+1"] in counts and ["compliant", "1", "0", "-1"] in counts
    changed = page.eval_on_selector_all("#compare-changed tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert ["aks/westeurope/crm-eu-1", "compliant", "end-of-standard-support", "1.32.5", "1.31.7"] in changed
    assert ["gke/asia-east1/sandbox", "(new)", "end-of-standard-support", "", "1.32.2-gke.1297002"] in changed
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    ctx.close()
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = run_fleet("report", *EXAMPLE, "--at", AT, "--no-forecast", "-o", "html", "--compare", str(bad),
                  env=lifecycle_env)
    assert r.returncode == 2 and "not a ComplianceReport" in r.stderr


def test_timeline_shows_freezes(browser, tmp_path, lifecycle_env):  # noqa: F811
    html = tmp_path / "dec.html"
    r = run_fleet("report", *EXAMPLE, "--at", "2026-12-10T00:00:00Z", "-o", "html", "--out-file", str(html),
                  env=lifecycle_env)
    assert r.returncode == 0, r.stderr
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.goto(html.as_uri())
    page.wait_for_selector("body[data-ready='1']")
    freezes = page.eval_on_selector_all("svg.timeline-chart rect.freeze",
                                        "els => els.map(e => [e.getBoundingClientRect().width, e.textContent])")
    assert freezes and freezes[0][0] > 5, freezes            # production's year-end freeze, inside the chart
    assert "production: year-end-freeze (no-upgrades) 2026-12-14 23:00" in freezes[0][1]
    ctx.close()
