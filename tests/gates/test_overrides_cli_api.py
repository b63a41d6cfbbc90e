"""Overrides through the CLI (a real `fleet` process) and the daemon's API (write-token protected), and the
gate evaluations the API and `fleet status` / `fleet history` show."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from fleet.clock import FakeClock
from fleet.daemon.api import create_app
from fleet.daemon.service import Daemon
from fleet.runtime import build_runtime
from tests.execution.helpers import START
from tests.integration.fleetfiles import write_fleet

TOKEN = "w-token-gates-0123456789abcdef"
GATES = """  gates:
    preflight:
      - name: blockers
        type: upgrade-blockers
      - name: smoke
        type: webhook
        url: http://127.0.0.1:9/never
        requestTimeout: 1s
"""


def gated_fleet(d):
    cfg = write_fleet(d, n=2, token=TOKEN, state=f"sqlite:///{d}/state.db")
    pol = d / "policies" / "all.yaml"
    pol.write_text(pol.read_text() + GATES)
    return cfg


def fleet(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fleet.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_cli_override_create_list_revoke(tmp_path):
    cfg = gated_fleet(tmp_path)
    r = fleet("override", "eks/lab/c0", "--gate", "blockers", "--until", "2h", "--reason", "false positive",
              "-c", cfg, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "override 1: gate blockers passes for eks/lab/c0" in r.stdout
    listed = json.loads(fleet("override", "list", "--format", "json", "-c", cfg, cwd=tmp_path).stdout)
    assert [(o["cluster"], o["gate"], o["reason"], o["active"]) for o in listed] == \
        [("eks/lab/c0", "blockers", "false positive", True)]
    assert listed[0]["actor"].startswith("cli")
    assert fleet("override", "revoke", "1", "-c", cfg, cwd=tmp_path).returncode == 0
    assert json.loads(fleet("override", "list", "--format", "json", "-c", cfg, cwd=tmp_path).stdout) == []
    every = json.loads(fleet("override", "list", "--all", "--format", "json", "-c", cfg, cwd=tmp_path).stdout)
    assert every[0]["revokedBy"].startswith("cli") and not every[0]["active"]
    hist = json.loads(fleet("history", "eks/lab/c0", "--format", "json", "-c", cfg, cwd=tmp_path).stdout)
    assert [e["kind"] for e in hist] == ["gate-override", "gate-override-revoked"]


def test_cli_override_list_output_formats(tmp_path):
    """``-o/--output table|json|yaml|wide`` like every other command; ``--format`` stays as a hidden alias."""
    import yaml
    cfg = gated_fleet(tmp_path)
    assert fleet("override", "eks/lab/c1", "--gate", "smoke", "--until", "3h", "--reason", "hook down",
                 "-c", cfg, cwd=tmp_path).returncode == 0
    as_json = json.loads(fleet("override", "list", "-o", "json", "-c", cfg, cwd=tmp_path).stdout)
    as_yaml = yaml.safe_load(fleet("override", "list", "--output", "yaml", "-c", cfg, cwd=tmp_path).stdout)
    alias = json.loads(fleet("override", "list", "--format", "json", "-c", cfg, cwd=tmp_path).stdout)
    assert as_json == as_yaml == alias and [(o["cluster"], o["gate"]) for o in as_json] == [("eks/lab/c1", "smoke")]
    table = fleet("override", "list", "-o", "wide", "-c", cfg, cwd=tmp_path).stdout
    assert "eks/lab/c1" in table and "hook down" in table and "active" in table
    bad = fleet("override", "list", "-o", "xml", "-c", cfg, cwd=tmp_path)
    assert bad.returncode == 2 and "--output" in bad.stderr and "yaml" in bad.stderr, bad.stderr
    helptext = fleet("override", "--help", cwd=tmp_path).stdout
    assert "--output" in helptext and "--format" not in helptext


@pytest.mark.parametrize("args, field", [
    (["--gate", "nope", "--until", "2h", "--reason", "x"], "gate"),
    (["--gate", "blockers", "--until", "2h"], "reason"),
    (["--gate", "blockers", "--until", "yesterday-ish", "--reason", "x"], "until"),
    (["--gate", "blockers", "--until", "2020-01-01T00:00:00Z", "--reason", "x"], "until"),
])
def test_cli_override_refuses_bad_input_with_exit_2(tmp_path, args, field):
    cfg = gated_fleet(tmp_path)
    r = fleet("override", "eks/lab/c0", *args, "-c", cfg, cwd=tmp_path)
    assert r.returncode == 2 and field in r.stderr, (r.stdout, r.stderr)
    assert json.loads(fleet("override", "list", "--all", "--format", "json", "-c", cfg, cwd=tmp_path).stdout) == []


def test_api_overrides_need_the_write_token_and_gates_are_shown(tmp_path):
    cfg = gated_fleet(tmp_path)
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(cfg, clock), clock)
    try:
        daemon.tick()        # a run starts; the unreachable smoke webhook blocks every cluster (ERROR)
        client = TestClient(create_app(daemon), base_url="http://127.0.0.1")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        body = {"cluster": "eks/lab/c0", "gate": "smoke", "until": "1h", "reason": "webhook host retired"}
        assert client.post("/api/v1/overrides", json=body).status_code == 401
        r = client.post("/api/v1/overrides", json=body, headers=auth)
        assert r.status_code == 201, r.text
        oid = r.json()["id"]
        assert r.json()["until"] == (START + timedelta(hours=1)).isoformat().replace("+00:00", "Z") and r.json()["actor"] == "legacy:write-token"   # the principal (docs/security.md)
        assert client.post("/api/v1/overrides", json={**body, "gate": "nope"}, headers=auth).status_code == 422
        assert client.post("/api/v1/overrides", json={**body, "until": "2000-01-01T00:00:00Z"},
                           headers=auth).status_code == 422
        assert [o["id"] for o in client.get("/api/v1/overrides").json()["overrides"]] == [oid]
        evals = client.get("/api/v1/gates", params={"cluster": "eks/lab/c1"}).json()["evaluations"]
        smoke = [e for e in evals if e["gate"] == "smoke"]
        assert smoke and smoke[-1]["result"] == "error" and "cannot connect" in smoke[-1]["reason"]
        plan = {c["id"]: c for c in client.get("/api/v1/plan").json()["clusters"]}
        clock.advance(timedelta(seconds=5))
        daemon.tick()
        plan = {c["id"]: c for c in client.get("/api/v1/plan").json()["clusters"]}
        assert plan["eks/lab/c1"]["status"] == "blocked-by-gate"
        assert "gate smoke error" in plan["eks/lab/c1"]["reasons"][-1]
        last = [e for e in client.get("/api/v1/gates", params={"cluster": "eks/lab/c0"}).json()["evaluations"]
                if e["gate"] == "smoke"][-1]
        assert last["result"] == "overridden" and "webhook host retired" in last["reason"]
        assert client.delete(f"/api/v1/overrides/{oid}").status_code == 401
        assert client.delete(f"/api/v1/overrides/{oid}", headers=auth).json()["revokedBy"] == "legacy:write-token"
        assert client.get("/api/v1/overrides").json()["overrides"] == []
        assert client.delete("/api/v1/overrides/999", headers=auth).status_code == 404
    finally:
        daemon.stop()
    st = json.loads(fleet("status", "--format", "json", "-c", cfg, cwd=tmp_path).stdout)
    assert {(g["cluster"], g["gate"]) for g in st["gates"]} >= {("eks/lab/c1", "smoke"), ("eks/lab/c1", "blockers")}
    table = fleet("status", "-c", cfg, cwd=tmp_path).stdout
    assert "gates (latest evaluation" in table and "smoke" in table
