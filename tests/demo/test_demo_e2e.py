"""`fleet demo --short` end to end, as a user runs it: the INSTALLED command in a subprocess, no cloud
credentials in its environment, judged only by what it leaves behind (outcome.json, reports, state, log)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fleet.demo import scenario as S

FLEET = shutil.which("fleet") or "fleet"
DEMO_TIMEOUT_S = 900           # a loaded 2-core machine: the outcome is the same, only slower
pytestmark = pytest.mark.timeout(DEMO_TIMEOUT_S + 120)     # the module's demo runs in the first test's setup
_CLOUD_ENV = ("AWS_", "GOOGLE_", "GCLOUD", "CLOUDSDK_", "AZURE_", "OCI_", "KUBECONFIG", "KOPS_")


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_CLOUD_ENV)}
    home.mkdir(parents=True, exist_ok=True)
    env.update({"HOME": str(home), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                "AWS_CONFIG_FILE": str(home / "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
                "AWS_EC2_METADATA_DISABLED": "true", "COLUMNS": "160"})
    return env


def _outcome(out: Path) -> dict[str, Any]:
    return json.loads((out / "outcome.json").read_text())


def test_every_seeded_cluster_ended_compliant_or_blocked_with_a_reason(demo) -> None:
    r, out = demo
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    o = _outcome(out)
    seeded = S.scenario_clusters(True)
    assert len(o["clusters"]) == len(seeded) == 12
    assert sorted(c["id"].split("/")[-1] for c in o["clusters"]) == sorted(c.name for c in seeded)
    assert {c["provider"] for c in o["clusters"]} == set(S.PROVIDERS)
    for c in o["clusters"]:
        assert c["verdict"] in ("compliant", "blocked"), c
        if c["verdict"] == "blocked":
            assert c["reasons"] and all(x.strip() for x in c["reasons"]), c
        else:
            assert c["after"]["plan"] in ("up-to-date", "ahead") and c["after"]["compliance"] == "compliant", c
    lab = next(c for c in o["clusters"] if c["id"].endswith("/edge-lab"))
    assert lab["verdict"] == "blocked" and lab["reasons"] == ["target 1.35: no offered version of 1.35"]
    upgraded = [c for c in o["clusters"] if c["before"]["controlPlane"] != c["after"]["controlPlane"]]
    assert len(upgraded) >= 6, "the daemon really upgraded clusters on every kind of cloud"
    assert sum(c["stepsVerified"] for c in o["clusters"]) >= 20


def test_reports_before_and_after_were_printed_and_written(demo) -> None:
    r, out = demo
    assert "Before: the fleet as found at 2026-11-23T00:00:00Z" in r.stdout
    assert "After: the fleet at 2026-11-2" in r.stdout
    assert "clusters by compliance status" in r.stdout
    html = (out / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html>") and "</html>" in html
    for c in _outcome(out)["clusters"]:
        assert c["id"] in html
    assert (out / "report-before.html").stat().st_size > 1000
    report = json.loads((out / "report.json").read_text())
    assert report and (out / "report-before.json").exists()


def test_the_api_and_metrics_answered_while_the_daemon_ran(demo) -> None:
    _, out = demo
    api = _outcome(out)["api"]
    for path in ("/healthz", "/readyz", "/api/v1/clusters", "/api/v1/rollouts", "/metrics"):
        assert api[path] == 200, (path, api)
    sample = "\n".join(api["metricsSample"])
    assert "fleet_steps_succeeded_total" in sample and "fleet_reconcile_total" in sample


def test_state_is_left_for_the_cli_and_no_secret_reached_the_log(demo) -> None:
    _, out = demo
    r = subprocess.run([FLEET, "status", "--config", str(out / "fleet.yaml"), "--format", "json"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["runs"] and all(run["status"] == "done" for run in st["runs"]), st["runs"]
    assert st["openSteps"] == []
    token = (out / "api-token").read_text().strip()
    log = (out / "daemon.log").read_text()
    assert "step dispatched" in log
    assert token not in log
    assert "Logging error" not in r.stderr


def test_the_demo_ended_because_the_fleet_settled_and_compared_its_forecast(demo) -> None:
    """No wall-clock cap: the week ends when the fleet is settled (how long it took in real time depends on the
    machine and is printed, not judged here), and the forecast made before the week is compared with it."""
    r, out = demo
    o = _outcome(out)
    assert o["finish"]["reason"] == "settled" and o["finish"]["ticks"] > 0, o["finish"]
    assert "virtual time stopped at" in r.stdout and "settled after" in r.stdout
    acc = o["forecastVsActual"]
    upgraded = {c["id"] for c in o["clusters"] if c["doneAt"]}
    assert {c["cluster"] for c in acc["clusters"] if c["actual"]} == upgraded
    assert acc["summary"]["compared"] == len(upgraded) and "Forecast vs actual, per cluster" in r.stdout
    # #18's bar: the forecast made before the week (with the demo clouds' step durations) is within 30
    # simulated minutes of what happened, for every cluster
    assert acc["summary"]["maxMinutes"] <= 30, acc["summary"]


def test_only_the_lab_cluster_without_an_image_stays_blocked(demo) -> None:
    """Every other cluster reaches its target: multi-minor paths on AKS and GKE, where the clouds offer node
    versions one hop at a time, included."""
    _, out = demo
    blocked = [c["id"].split("/")[-1] for c in _outcome(out)["clusters"] if c["verdict"] == "blocked"]
    assert blocked == ["edge-lab"], blocked
