"""The daemon's live dashboard in real headless Chromium: served at /dashboard by `fleet daemon` (a
subprocess on the sim provider), tiles from the API, a wave waiting for approval shown with its button only
once a token allows it, approved, then clusters upgrading; the write buttons each role sees (viewer: none,
operator: pause/resume/retry, approver: approve and override too) and an override made from the page in the
audit log under the principal's name."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx

from fleet.daemon.auth import hash_token
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
        # no token: reads are open here, writes are not, so the page shows no write button
        assert page.locator("button[data-approve]").count() == 0 and not page.is_visible("#pause")
        assert page.text_content("#who") == "no token: viewer"
        page.fill("#token", TOKEN)
        page.dispatch_event("#token", "change")
        page.locator("button[data-approve$='/main']").click()
        _wait(lambda: "approved wave main" in page.text_content("#msg"), 20)
        page.click("#upgrade .tile[data-state='upgrading']")     # filtered server-side

        def states() -> list[str]:
            return page.eval_on_selector_all("#clusters tbody tr", "rows => rows.map(r => r.cells[5].textContent)")

        # the rows shown before the filtered answer arrives (and before the daemon's next tick starts the
        # approved wave) are replaced by the page's refresh: wait for the filtered, upgrading rows
        _wait(lambda: bool(states()) and set(states()) == {"upgrading"}, 45)
        assert errors == []
        ctx.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


ROLE_TOKENS = {role: f"dash-{role}-token-{'y' * 20}" for role in ("viewer", "operator", "approver")}
ROLE_POLICIES = """apiVersion: fleet.dev/v1alpha1
kind: UpgradePolicy
metadata:
  name: prod
spec:
  priority: 100
  selector:
    matchLabels: {env: prod}
  target:
    version: "1.30"
  rollout:
    waves:
      - name: main
        approval: required
  gates:
    preflight:
      - name: blockers
        type: upgrade-blockers
---
apiVersion: fleet.dev/v1alpha1
kind: UpgradePolicy
metadata:
  name: all
spec:
  priority: 0
  selector:
    matchLabels: {env: test}
  target:
    version: "1.30"
  rollout:
    maxConcurrentClusters: 3
    maxFailures: 5
"""


def _buttons(page) -> dict[str, int]:
    return {"pause": int(page.is_visible("#pause")), "resume": int(page.is_visible("#resume")),
            "retry": page.locator("button[data-retry]").count(), "approve": page.locator("button[data-approve]").count(),
            "override": page.locator("button[data-override]").count() + int(page.is_visible("#ov-submit"))}


def test_dashboard_buttons_follow_the_role_and_override_is_audited(browser, tmp_path):  # noqa: F811
    port = free_port()
    cfg = write_fleet(tmp_path, n=3, port=port)
    inv = tmp_path / "inventory.yaml"             # c0 is production (waits for approval), c1 and c2 fail
    inv.write_text(inv.read_text().replace("name: c0, labels: {env: test}", "name: c0, labels: {env: prod}"))
    (tmp_path / "policies" / "all.yaml").write_text(ROLE_POLICIES)
    (tmp_path / "tokens.yaml").write_text("apiVersion: fleet.dev/v1alpha1\nkind: Tokens\nprincipals:\n" + "".join(
        f"  - {{name: {r}-user, role: {r}, tokenHash: '{hash_token(t, 'sha256')}'}}\n" for r, t in ROLE_TOKENS.items()))
    cfg.write_text(cfg.read_text().replace("    tokenFile: token\n", "    tokensFile: tokens.yaml\n").replace(
        "        nodePoolDuration: 1s\n", "        nodePoolDuration: 1s\n        faults: {stepFailureRate: 1.0}\n"))
    base = f"http://127.0.0.1:{port}"
    viewer = {"Authorization": f"Bearer {ROLE_TOKENS['viewer']}"}
    proc = subprocess.Popen([FLEET, "daemon", "--config", str(cfg)], stdout=(tmp_path / "daemon.log").open("ab"),
                            stderr=subprocess.STDOUT)
    try:
        def ready() -> bool:
            s = httpx.get(f"{base}/api/v1/summary", headers=viewer, timeout=5).json()["byUpgradeState"]
            return s.get("waiting-approval") == 1 and s.get("failed") == 2
        _wait(ready, 90)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/dashboard")
        page.wait_for_selector("body[data-ready='1']")
        assert "401" in page.text_content("#msg") and _buttons(page) == dict.fromkeys(_buttons(page), 0)
        seen = {}
        for role, want in (("viewer", {"pause": 0, "resume": 0, "retry": 0, "approve": 0, "override": 0}),
                           ("operator", {"pause": 1, "resume": 1, "retry": 1, "approve": 0, "override": 0}),
                           ("approver", {"pause": 1, "resume": 1, "retry": 1, "approve": 1, "override": 4})):
            page.fill("#token", ROLE_TOKENS[role])
            page.dispatch_event("#token", "change")
            _wait(lambda r=role: page.text_content("#who") == f"token:{r}-user ({r})"
                  and page.locator("#clusters tbody tr").count() == 3 and page.locator("#runs tbody tr").count() > 0, 20)
            try:
                _wait(lambda w=want: _buttons(page) == w, 10)
            finally:
                seen[role] = _buttons(page)
            page.screenshot(path=str(tmp_path / f"dashboard-{role}.png"), full_page=True)
        assert seen["approver"]["override"] == 4
        page.click("button[data-override='eks/lab/c0']")
        assert page.input_value("#ov-cluster") == "eks/lab/c0"
        page.fill("#ov-gate", "blockers")
        page.fill("#ov-until", "2h")
        page.fill("#ov-reason", "blocker list is stale")
        page.click("#ov-submit")
        _wait(lambda: "gate blockers overridden for eks/lab/c0" in page.text_content("#msg"), 20)
        audit = httpx.get(f"{base}/api/v1/events?kind=gate-override", headers=viewer, timeout=5).json()["events"]
        assert [(e["actor"], e["cluster_id"]) for e in audit] == [("token:approver-user", "eks/lab/c0")]
        assert "blocker list is stale" in audit[0]["message"]
        over = httpx.get(f"{base}/api/v1/overrides", headers=viewer, timeout=5).json()["overrides"]
        assert [(o["gate"], o["actor"]) for o in over] == [("blockers", "token:approver-user")]
        _wait(lambda: "by token:approver-user" in page.text_content("#events"), 20)    # the page's event stream
        assert errors == []
        ctx.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


STAGED_ROLLOUT = """apiVersion: fleet.dev/v1alpha1
kind: RolloutStrategy
metadata: {name: rings}
spec:
  stages:
    - {name: canary, selector: {matchLabels: {ring: canary}}}
    - {name: rest, selector: {matchLabels: {env: test}}, approval: required}
"""


def test_dashboard_shows_rollout_stages_with_progress(browser, tmp_path):  # noqa: F811
    port = free_port()
    cfg = write_fleet(tmp_path, n=3, port=port)
    inv = tmp_path / "inventory.yaml"             # c0 is the canary; c1 and c2 wait for the rest stage's approval
    inv.write_text(inv.read_text().replace("name: c0, labels: {env: test}", "name: c0, labels: {env: test, ring: canary}"))
    (tmp_path / "policies" / "rollout.yaml").write_text(STAGED_ROLLOUT)
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([FLEET, "daemon", "--config", str(cfg)], stdout=(tmp_path / "daemon.log").open("ab"),
                            stderr=subprocess.STDOUT)
    try:
        def canary_done() -> bool:
            ro = httpx.get(f"{base}/api/v1/stages?members=false", timeout=5).json()["rollout"]
            return ro is not None and ro["stages"][0]["upToDate"] == 1
        _wait(canary_done, 90)
        ro = httpx.get(f"{base}/api/v1/stages?members=false", timeout=5).json()["rollout"]
        full = httpx.get(f"{base}/api/v1/stages", timeout=5).json()["rollout"]
        assert [(s["name"], len(s["clusters"])) for s in full["stages"]] == \
            [(s["name"], s["clusters"]) for s in ro["stages"]] == [("canary", 1), ("rest", 2), ("unstaged", 0)]
        rest = ro["stages"][1]
        assert rest["upToDate"] == 0 and sum(rest["byUpgradeState"].values()) == 2, rest
        assert ro["versions"] == full["versions"] and ro["versions"], ro
        version = next(iter(ro["versions"]))      # the first step's version: the canary may start it, the rest wait
        assert ro["versions"][version]["canary"] == "may start", ro
        assert "approval" in ro["versions"][version]["rest"], ro
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/dashboard")
        page.wait_for_selector("body[data-ready='1']")
        assert page.is_visible("#stages") and page.text_content("#ro-name") == "rings"
        assert page.text_content("tr[data-stage='canary'] td.progress").strip() == "1/1 up to date"
        assert page.text_content("tr[data-stage='rest'] td.progress").strip() == "0/2 up to date"
        width = page.eval_on_selector("tr[data-stage='canary'] .bar i", "e => e.style.width")
        assert width == "100%", width
        assert version in page.text_content("#stage-table thead")
        assert "approval" in page.text_content("tr[data-stage='rest']")
        page.screenshot(path=str(tmp_path / "dashboard-stages.png"), full_page=True)
        assert errors == []
        ctx.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_dashboard_hides_stages_without_a_rollout_strategy(browser, tmp_path):  # noqa: F811
    port = free_port()
    cfg = write_fleet(tmp_path, n=1, port=port)
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([FLEET, "daemon", "--config", str(cfg)], stdout=(tmp_path / "daemon.log").open("ab"),
                            stderr=subprocess.STDOUT)
    try:
        _wait(lambda: httpx.get(f"{base}/api/v1/summary", timeout=5).json()["clusters"] == 1)
        assert httpx.get(f"{base}/api/v1/stages?members=false", timeout=5).json() == {"rollout": None}
        page = browser.new_page()
        page.goto(f"{base}/dashboard")
        page.wait_for_selector("body[data-ready='1']")
        assert not page.is_visible("#stages")
        page.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
