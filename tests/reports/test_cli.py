"""End to end: the installed ``fleet`` command (report in every format, forecast, lifecycle show/load)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from fleet.reports.compliance import STATUSES
from fleet.reports.render_csv import COLUMNS

from .conftest import AT, EXAMPLE, REPO, run_fleet
from .helpers import LIFECYCLE

IDS = {"aks/eastus/crm-staging", "aks/westeurope/crm-eu-1", "capi/mgmt-eu/edge-eu-1", "eks/eu-west-1/payments-eu-1",
       "eks/us-east-1/data-dev", "gke/asia-east1/sandbox", "gke/europe-west1/shop-eu-1", "gke/us-central1/shop-us-1",
       "kops/kops.example.com/legacy-1", "oke/eu-frankfurt-1/erp-eu-1"}


def report(fmt: str, env, *extra: str) -> str:
    r = run_fleet("report", *EXAMPLE, "--at", AT, "--format", fmt, "--no-forecast", *extra, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def documented_keys() -> list[str]:
    text = (REPO / "docs/report-format.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- top-level-keys -->(.*?)<!-- /top-level-keys -->", text, re.S)
    assert block, "docs/report-format.md lost its top-level-keys block"
    return re.findall(r"`([A-Za-z]+)`", block.group(1))


def test_json(lifecycle_env):
    d = json.loads(report("json", lifecycle_env))
    assert list(d) == documented_keys()
    assert d["kind"] == "ComplianceReport" and d["at"] == AT and d["lifecycle"]["asOf"] == "2026-08-20"
    assert {c["id"] for c in d["clusters"]} == IDS
    assert list(d["summary"]["byStatus"]) == list(STATUSES) and sum(d["summary"]["byStatus"].values()) == 10
    assert d["forecast"] is None
    eks = next(c for c in d["clusters"] if c["id"] == "eks/eu-west-1/payments-eu-1")
    assert (eks["status"], eks["support"]["daysToEndOfStandardSupport"]) == ("end-of-extended-support", -393)
    assert eks["nodePools"] == {"count": 2, "oldest": "1.30.9-20250403", "newest": "1.30.9-20250403"}
    assert eks["nextWindow"] == {"start": "2026-08-21T23:00:00Z", "end": "2026-08-22T04:00:00Z"}
    assert eks["atRisk"] is True
    sandbox = next(r for r in d["risks"] if r["cluster"] == "gke/asia-east1/sandbox")
    assert sandbox["reason"] == "no-upgrade-planned"


def test_csv(lifecycle_env, tmp_path):
    out = tmp_path / "r.csv"
    assert report("csv", lifecycle_env, "--out-file", str(out)) == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert tuple(rows[0]) == COLUMNS and {r["id"] for r in rows} == IDS
    crm = next(r for r in rows if r["id"] == "aks/westeurope/crm-eu-1")
    assert (crm["nodePoolOldest"], crm["nodePoolNewest"], crm["status"], crm["lifecycleAsOf"]) == \
        ("1.30.12", "1.31.7", "end-of-standard-support", "2026-08-20")
    assert crm["labels"] == "env=prod" and crm["forecastCompletion"] == ""


def test_markdown_renders_tables(lifecycle_env):
    from markdown_it import MarkdownIt
    text = report("markdown", lifecycle_env)
    assert "Lifecycle data as of **2026-08-20**" in text
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    tables = [i for i, t in enumerate(tokens) if t.type == "table_open"]
    assert len(tables) == 5  # compliance statuses, upgrade states, versions, risks, clusters
    # the cluster table (last) has a header row plus one row per cluster, each with 14 cells
    last = tokens[tables[-1]:]
    rows = [t for t in last if t.type == "tr_open"]
    cells = [t for t in last if t.type in ("td_open", "th_open")]
    assert len(rows) == 11 and len(cells) == 11 * 14
    inline = [t.content for t in last if t.type == "inline"]
    assert "eks/eu-west-1/payments-eu-1" in inline


def test_table(lifecycle_env):
    text = report("table", lifecycle_env)
    assert "lifecycle data as of 2026-08-20" in text and "forecast: not computed" in text
    assert all(i in text for i in IDS)


def test_html_with_forecast(example_html):
    text = example_html.read_text(encoding="utf-8")
    assert 'id="as-of">2026-08-20<' in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), "the page must not load anything from the network"
    data = json.loads(re.search(r'<script id="report-data" type="application/json">(.*?)</script>', text, re.S).group(1))
    completion = data["rows"][0][data["columns"].index("completion")]
    assert re.match(r"2026-\d\d-\d\d \d\d:\d\d", completion)  # the forecast ran and filled the completion
    assert text.count('class="wave"') >= 3 and text.count('class="bar"') == 10


def test_forecast_json():
    r = run_fleet("forecast", *EXAMPLE, "--at", AT, "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {c["id"] for c in d["clusters"]} == IDS
    done = [c["completion"] for c in d["clusters"] if c["completion"]]
    assert d["fleetDone"] == max(done)
    sandbox = next(c for c in d["clusters"] if c["id"] == "gke/asia-east1/sandbox")
    assert (sandbox["status"], sandbox["completion"]) == ("unmanaged", None)


def test_forecast_step_durations_move_completions():
    def completions(*extra: str) -> dict[str, str]:
        r = run_fleet("forecast", *EXAMPLE, "--at", AT, "--format", "json", *extra)
        assert r.returncode == 0, r.stderr
        return {c["id"]: c["completion"] for c in json.loads(r.stdout)["clusters"] if c["completion"]}
    base = completions()
    slow = completions("--step-duration", "eks=8h/4h", "--step-duration", "gke=8h/4h")
    eks_gke = [cid for cid in base if cid.split("/")[0] in ("eks", "gke")]
    assert eks_gke
    # later, or no longer within the horizon (others may move too: they share policies and concurrency)
    assert all(cid not in slow or slow[cid] > base[cid] for cid in eks_gke), (base, slow)


@pytest.mark.parametrize("value", ["eks", "eks=45m", "eks=soon/15m", "=45m/15m", "eks=0s/15m"])
def test_bad_step_duration_exits_2(value):
    r = run_fleet("forecast", *EXAMPLE, "--at", AT, "--step-duration", value)
    assert r.returncode == 2 and f"--step-duration: step-duration: {value!r}" in r.stderr, r.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "pdf"], "--output: output: must be one of table, wide, json, yaml, csv, markdown, html"),
    (["-o", "pdf"], "--output: output: must be one of table, wide, json, yaml, csv, markdown, html"),
    (["--out-file", "/nonexistent-dir/r.json", "-o", "json"], "--out-file: out-file: folder /nonexistent-dir does not exist"),
    (["--at", "yesterday"], "--at: at: not an ISO-8601 instant"),
])
def test_bad_input_exits_2(lifecycle_env, args, message):
    r = run_fleet("report", *EXAMPLE, "--no-forecast", *args, env=lifecycle_env)
    assert r.returncode == 2 and message in r.stderr, r.stderr


def test_bad_inventory_reports_file_and_line(tmp_path, lifecycle_env):
    inv = tmp_path / "inv.yaml"
    inv.write_text("apiVersion: fleet.dev/v1alpha1\nkind: Inventory\nclusters:\n  - {provider: eks}\n")
    r = run_fleet("report", "--inventory", str(inv), "--policies", str(REPO / "policies/examples"), "--no-forecast",
                  env=lifecycle_env)
    assert r.returncode == 2 and f"{inv}:4: clusters[0].location: Field required" in r.stderr, r.stderr


def test_lifecycle_show_and_load(tmp_path):
    env = {"FLEET_LIFECYCLE_FILE": str(tmp_path / "active" / "lifecycle.yaml")}
    shown = run_fleet("lifecycle", "show", "--provider", "eks", "--format", "json", env=env)
    assert shown.returncode == 0, shown.stderr
    d = json.loads(shown.stdout)
    assert (d["asOf"], d["source"], list(d["providers"])) == ("2026-08-20", "builtin", ["eks"])
    assert d["providers"]["eks"]["releases"]["1.33"]["endOfExtendedSupport"] == "2027-07-29"
    table = run_fleet("lifecycle", "show", "--provider", "oke", env=env)
    assert table.returncode == 0 and "follows kubernetes" in table.stdout
    unknown = run_fleet("lifecycle", "show", "--provider", "nope", env=env)
    assert unknown.returncode == 2 and "unknown provider 'nope'; known: kubernetes, eks" in unknown.stderr

    bad = tmp_path / "bad.yaml"
    bad.write_text(LIFECYCLE.replace('"1.34": {released: 2025-08-27', '1.34: {released: 2025-08-27'))
    r = run_fleet("lifecycle", "load", str(bad), env=env)
    assert r.returncode == 2 and f"{bad}:10: providers.kubernetes.releases: write each minor as a quoted" in r.stderr
    assert not (tmp_path / "active" / "lifecycle.yaml").exists()  # nothing half-applied

    good = tmp_path / "good.yaml"
    good.write_text(LIFECYCLE)
    r = run_fleet("lifecycle", "load", str(good), env=env)
    assert r.returncode == 0 and "as of 2026-08-01" in r.stdout, r.stderr
    d = json.loads(report("json", env))  # the report now uses the loaded dataset
    assert d["lifecycle"] == {"asOf": "2026-08-01", "source": env["FLEET_LIFECYCLE_FILE"]}
    aks = next(c for c in d["clusters"] if c["provider"] == "aks")
    assert aks["support"]["known"] is False and aks["support"]["daysToEndOfStandardSupport"] is None


def test_report_from_config_reads_run_states(tmp_path):
    """Live discovery (sim provider) and the latest run membership from the config's state store."""
    import sys
    from datetime import UTC, datetime

    from sqlalchemy import insert
    sys.path.insert(0, str(REPO))
    from fleet.state import schema as S
    from fleet.state.store import SqlStore as Store
    from tests.integration.fleetfiles import write_fleet
    cfg = write_fleet(tmp_path, n=3)
    t0 = datetime(2026, 8, 1, tzinfo=UTC)
    store = Store(f"sqlite:///{tmp_path / 'state' / 'fleet.db'}")
    with store.write() as conn:
        for i, run in enumerate(("old", "new")):
            conn.execute(insert(S.runs).values(id=run, policy="all", policy_snapshot={}, status="running", failures=0,
                                               approved_waves=[], wave_done_at={}, created_at=t0.replace(day=1 + i),
                                               updated_at=t0))
        rows = [("old", "eks/lab/c0", "failed"), ("new", "eks/lab/c0", "active"), ("old", "eks/lab/c1", "active"),
                ("new", "eks/lab/c1", "failed"), ("new", "eks/lab/c2", "pending")]
        conn.execute(insert(S.run_clusters), [dict(run_id=r, cluster_id=c, provider="sim", wave="default", wave_index=0,
                                                   status=st, message="") for r, c, st in rows])
    store.close()
    r = run_fleet("report", "--config", str(cfg), "--at", AT, "--format", "json", "--no-forecast",
                  env={"FLEET_LIFECYCLE_FILE": str(tmp_path / "none.yaml")})
    assert r.returncode == 0, r.stderr
    st = {c["id"]: (c["status"], c["upgradeState"]["state"]) for c in json.loads(r.stdout)["clusters"]}
    assert st == {"eks/lab/c0": ("end-of-extended-support", "upgrading"),
                  "eks/lab/c1": ("end-of-extended-support", "failed"),
                  "eks/lab/c2": ("end-of-extended-support", "pending")}


def test_missing_state_store_is_not_created(tmp_path):
    import sys
    sys.path.insert(0, str(REPO))
    from tests.integration.fleetfiles import write_fleet
    cfg = write_fleet(tmp_path, n=1)
    r = run_fleet("report", "--config", str(cfg), "--at", AT, "--no-forecast",
                  env={"FLEET_LIFECYCLE_FILE": str(tmp_path / "none.yaml")})
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "state").exists()
    assert not Path(tmp_path / "none.yaml").exists()
