"""The HTML report in real headless Chromium (Debian's ``chromium``, driven by Playwright with
``executable_path``): loads without console errors, charts render, filtering and sorting work.

Needs ``apt-get install -y chromium`` and the ``playwright`` package (the dev extra). Never ``playwright install``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is required for the HTML report tests: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, example_html):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    pg.on("request", lambda r: problems.append(f"request: {r.url}") if not r.url.startswith(("file:", "data:")) else None)
    pg.goto(example_html.as_uri())
    pg.wait_for_selector("body[data-ready='1']")
    pg.problems = problems  # type: ignore[attr-defined]
    yield pg
    ctx.close()


def _ids(pg) -> list[str]:
    return pg.eval_on_selector_all("#clusters tbody tr", "rows => rows.map(r => r.cells[0].textContent)")


def test_loads_clean_and_charts_render(page, tmp_path):
    assert page.problems == []
    assert page.text_content("#as-of") == "2026-08-20"
    sizes = page.eval_on_selector_all(
        "svg", "els => els.map(e => { const b = e.getBoundingClientRect(); return [e.getAttribute('class'), b.width, b.height]; })")
    kinds = [k for k, w, h in sizes if w > 100 and h > 100]
    assert kinds.count("versions") == 6 and kinds.count("timeline-chart") == 1, sizes
    bars = page.eval_on_selector_all("svg.versions rect.bar", "els => els.map(e => e.getBoundingClientRect().height)")
    waves = page.eval_on_selector_all("svg.timeline-chart rect.wave", "els => els.map(e => e.getBoundingClientRect().width)")
    # a lane per policy and wave: the example's waves of the same name in different policies are separate lanes
    assert len(bars) == 10 and min(bars) > 10 and len(waves) == 6 and min(waves) > 1
    assert page.locator("#risks tbody tr").count() == 10
    assert len(_ids(page)) == 10 and "10 of 10" in page.text_content("#count")
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_filtering(page):
    page.fill("#q", "eu-1")
    assert sorted(_ids(page)) == ["aks/westeurope/crm-eu-1", "capi/mgmt-eu/edge-eu-1", "eks/eu-west-1/payments-eu-1",
                                  "gke/europe-west1/shop-eu-1", "oke/eu-frankfurt-1/erp-eu-1"]
    page.select_option("#f-provider", "gke")
    assert _ids(page) == ["gke/europe-west1/shop-eu-1"]
    page.fill("#q", "")
    page.select_option("#f-provider", "")
    page.select_option("#f-status", "end-of-standard-support")
    assert len(_ids(page)) == 4 and "4 of 4 matching" in page.text_content("#count")
    page.select_option("#f-status", "")
    page.click(".tile[data-status='end-of-extended-support']")  # a summary tile filters too
    assert len(_ids(page)) == 6
    page.fill("#q", "no-such-cluster")
    assert _ids(page) == [] and "0 of 0 matching" in page.text_content("#count")
    assert page.problems == []


def test_sorting(page):
    page.click("#clusters th[data-col='controlPlane']")
    cps = page.eval_on_selector_all("#clusters tbody tr", "rows => rows.map(r => r.cells[3].textContent)")
    assert cps[:3] == ["1.29", "v1.29.14", "1.29.15"]  # by version number, not by spelling
    assert [c.lstrip("v")[:4] for c in cps] == ["1.29"] * 3 + ["1.30"] * 3 + ["1.31"] * 3 + ["1.32"]
    assert page.get_attribute("#clusters th[data-col='controlPlane']", "aria-sort") == "ascending"
    page.click("#clusters th[data-col='controlPlane']")
    cps = page.eval_on_selector_all("#clusters tbody tr", "rows => rows.map(r => r.cells[3].textContent)")
    assert cps[0].startswith("1.32")
    page.click("#clusters th[data-col='daysStd']")
    days = page.eval_on_selector_all("#clusters tbody tr", "rows => rows.map(r => Number(r.cells[9].textContent))")
    assert days == sorted(days) and days[0] == -538
    assert page.problems == []


def test_upgrade_state_tiles_show_blocked_and_tables_fit_at_1400px(browser, tmp_path):
    """edge-lab: blocked by a missing image AND past end of extended support — counted under both; rows are
    one line each, every table fits or scrolls inside its own container, the page never scrolls sideways."""
    from fleet.reports.compliance import compute_report
    from fleet.reports.render_html import render_html

    from .helpers import AT, lifecycle, plan_of, planned
    long_id = "capi/mgmt-eu-central-production-cluster-registry/" + "edge-lab-with-a-very-long-name-" * 3
    cps = [planned("v1.30.4", provider="oke", cid="edge-lab", status="blocked",
                   reasons=["node pool a: image ocid1.image.oc1..missing was not found " * 4]),
           planned("1.34.2", cid=long_id, reasons=["a very long reason " * 20]),
           *[planned("1.33.4", cid=f"eks/c{i}") for i in range(30)]]
    html = tmp_path / "r.html"
    html.write_text(render_html(compute_report(plan_of(*cps), lifecycle(), AT,
                                               newest_offered={c.id: "1.35.2" for c in cps})), encoding="utf-8")
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(html.as_uri())
    pg.wait_for_selector("body[data-ready='1']")
    assert pg.text_content(".tile.big[data-upgrade='blocked'] .n") == "1"
    assert pg.text_content("#upgrade-tiles .tile[data-upgrade='blocked'] .n") == "1"
    assert pg.text_content("#status-tiles .tile[data-status='end-of-extended-support'] .n") == "1"
    pg.click(".tile.big[data-upgrade='blocked']")
    assert _ids(pg) == ["edge-lab"]
    cells = pg.eval_on_selector_all("#clusters tbody tr", "rows => rows.map(r => r.cells[8].textContent)")
    assert cells == ["blocked"]
    pg.click(".tile[data-all]")
    heights = pg.eval_on_selector_all("#clusters tbody tr", "rows => rows.map(r => r.getBoundingClientRect().height)")
    assert len(heights) == 32 and max(heights) - min(heights) < 1, heights     # rows of even height
    assert long_id in _ids(pg)                                                # ids whole
    assert pg.evaluate("document.documentElement.scrollWidth") <= 1400         # no sideways page scroll
    overflow = pg.evaluate("""() => [...document.querySelectorAll('table')].map(t => {
        const box = t.parentElement.getBoundingClientRect(), main = document.querySelector('main').getBoundingClientRect();
        return [t.id, box.right <= main.right + 1, getComputedStyle(t.parentElement).overflowX]; })""")
    for tid, inside, scroll in overflow:
        assert inside and scroll == "auto", (tid, scroll)
    pg.screenshot(path=str(tmp_path / "blocked.png"), full_page=True)
    assert errors == []
    ctx.close()
