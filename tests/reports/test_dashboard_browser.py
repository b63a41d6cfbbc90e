"""The daemon's live dashboard in real headless Chromium: served at /dashboard by `fleet daemon` (a
subprocess on the sim provider), tiles from the API, a wave waiting for approval shown with its button, the
button refused without a token (401, shown on the page) and accepted with one, then clusters upgrading."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx

from tests.integration.fleetfiles import free_port, write_fleet

from .conftest import FLEET
from .test_cli_failures import APPROVAL_POLICY
from .test_html_browser import browser  # noqa: F401 - the shared Chromium fixture

TOKEN = "s3cr3t-canary-token"


def _wait(fn, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if fn():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_dashboard_shows_waits_and_approves(browser, tmp_path):  # noqa: F811
    port = free_port()
    cfg = write_fleet(tmp_path, n=3, concurrency=3, cp="120s", pool="120s", port=port)  # still upgrading when checked
    (tmp_path / "policies" / "all.yaml").write_text(APPROVAL_POLICY)
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "daemon.log"
    proc = subprocess.Popen([FLEET, "daemon", "--config", str(cfg)], stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        _wait(lambda: httpx.get(f"{base}/api/v1/summary", timeout=5).json()["byUpgradeState"]["waiting-approval"] == 3)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/dashboard")
        page.wait_for_selector("body[data-ready='1']")
        assert page.text_content("#upgrade .tile[data-state='waiting-approval'] .n") == "3"
        assert page.text_content("#compliance .tile[data-state='end-of-extended-support'] .n") == "3"
        assert page.locator("#clusters tbody tr").count() == 3
        assert "waits for approval" in page.text_content("#clusters tbody")
        page.wait_for_selector("#events .ev")
        assert "wave-awaiting-approval" in page.text_content("#events")
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        approve = page.locator("button[data-approve$='/main']")
        approve.click()
        _wait(lambda: "refused: 401" in page.text_content("#msg"), 20)   # no token: the API said no
        page.fill("#token", TOKEN)
        page.dispatch_event("#token", "change")
        page.locator("button[data-approve$='/main']").click()
        _wait(lambda: "approved wave main" in page.text_content("#msg"), 20)
        page.click("#upgrade .tile[data-state='upgrading']")     # filtered server-side
        _wait(lambda: page.locator("#clusters tbody tr").count() > 0, 30)
        states = page.eval_on_selector_all("#clusters tbody tr", "rows => rows.map(r => r.cells[5].textContent)")
        assert states and set(states) == {"upgrading"}, states
        assert errors == []
        ctx.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
