"""The CLI through the API (issue #23), end to end: every operator command (status, history, plan, pause,
resume, approve, retry, hold, release, override, promote) with ``FLEET_SERVER`` and a token against a real
daemon API (uvicorn on 127.0.0.1, a real state store), no --config and no database access; the audit log
names the principal; a role too small exits 1 with the server's reason; an unknown run, stage or gate exits 2."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.cli import app
from fleet.clock import FakeClock
from fleet.daemon.auth import hash_token
from fleet.daemon.service import Daemon
from fleet.runtime import build_runtime
from tests.execution.helpers import START
from tests.integration.fleetfiles import free_port, write_fleet
from tests.ops.test_auth import Served

OPERATOR = "op-token-" + "o" * 24
APPROVER = "ap-token-" + "a" * 24
VIEWER = "vi-token-" + "v" * 24

WAVES = """  rollout:
    maxConcurrentClusters: 2
    maxFailures: 2
    waves:
      - name: first
        selector: {names: ["*c0"]}
      - name: second
        approval: required
  gates:
    preflight:
      - name: blockers
        type: upgrade-blockers
"""
ROLLOUT = """apiVersion: fleet.dev/v1alpha1
kind: RolloutStrategy
metadata: {name: fleet}
spec:
  stages:
    - name: everyone
      selector: {matchLabels: {env: test}}
"""


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    d = tmp_path_factory.mktemp("remote")
    port = free_port()
    cfg = write_fleet(d, n=2, port=port)
    pol = d / "policies" / "all.yaml"
    text = pol.read_text()
    pol.write_text(text[:text.index("  rollout:")] + WAVES)
    (d / "policies" / "rollout.yaml").write_text(ROLLOUT)
    (d / "tokens.yaml").write_text(
        "apiVersion: fleet.dev/v1alpha1\nkind: Tokens\nprincipals:\n"
        f"  - {{name: olga, role: operator, tokenHash: '{hash_token(OPERATOR)}'}}\n"
        f"  - {{name: anna, role: approver, tokenHash: '{hash_token(APPROVER, 'sha256')}'}}\n"
        f"  - {{name: vic, role: viewer, tokenHash: '{hash_token(VIEWER, 'sha256')}'}}\n")
    cfg.write_text(cfg.read_text().replace("    tokenFile: token\n", "    tokensFile: tokens.yaml\n"))
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(cfg, clock), clock)
    for _ in range(30):                         # the first wave finishes; the second waits for its approval
        daemon.tick()
        clock.advance(timedelta(seconds=5))
    served = Served(daemon, port)
    (d / "op.token").write_text(OPERATOR + "\n")
    yield served, d
    served.close()
    daemon.stop()


def fleet(served: Served, *args: str, token: str | None = OPERATOR, token_file: Path | None = None):
    env = {"FLEET_SERVER": served.url, "FLEET_TOKEN": token or ""}
    if token_file is not None:
        args = (*args, "--token-file", str(token_file))
    return CliRunner().invoke(app, list(args), env=env)


def _run_id(served: Served) -> str:
    [run] = served.daemon.store.runs()
    return run.id


def test_status_history_and_plan_through_the_api(remote):
    served, _ = remote
    res = fleet(served, "status", "--format", "json", token=VIEWER)
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["runs"][0]["id"] == _run_id(served) and {c["wave"] for c in d["runs"][0]["clusters"]} == {"first", "second"}
    res = fleet(served, "status", token=VIEWER)
    assert res.exit_code == 0 and _run_id(served)[:12] in res.stdout
    cluster = d["runs"][0]["clusters"][0]["cluster"]
    res = fleet(served, "history", cluster, "--format", "json", token=VIEWER)
    assert res.exit_code == 0, res.output
    assert any(e["kind"] == "step-dispatched" for e in json.loads(res.stdout))
    assert fleet(served, "history", cluster, token=VIEWER).exit_code == 0
    res = fleet(served, "plan", "--format", "json", token=VIEWER)
    assert res.exit_code == 0 and {c["id"] for c in json.loads(res.stdout)["clusters"]} >= {cluster}
    res = fleet(served, "plan", token=VIEWER)
    assert res.exit_code == 0 and "Upgrade plan" in res.stdout


def test_pause_resume_hold_release_retry_as_operator(remote):
    served, d = remote
    run = _run_id(served)
    for args in (["pause"], ["resume"], ["hold", "run", run, "--reason", "change freeze"], ["release", "run", run],
                 ["hold", "cluster", "sim/lab/c1", "--reason", "customer demo"], ["release", "cluster", "sim/lab/c1"],
                 ["retry", run]):
        res = fleet(served, *args, token=None, token_file=d / "op.token")
        assert res.exit_code == 0, (args, res.output)
    kinds = [(e["kind"], e["actor"]) for e in served.daemon.store.events(limit=100000)
             if e["kind"] in ("paused", "resumed", "held", "released")]
    assert kinds[-6:] == [("paused", "token:olga"), ("resumed", "token:olga"), ("held", "token:olga"),
                          ("released", "token:olga"), ("held", "token:olga"), ("released", "token:olga")]


def test_approve_needs_the_approver_role(remote):
    served, _ = remote
    run = _run_id(served)
    res = fleet(served, "approve", run, "second")                     # the operator may not approve
    assert res.exit_code == 1 and "403" in res.output and "approver" in res.output
    res = fleet(served, "approve", run, "second", token=APPROVER)
    assert res.exit_code == 0, res.output
    [ev] = served.daemon.store.events(kind="wave-approved", limit=10)
    assert ev["actor"] == "token:anna"
    res = fleet(served, "approve", "no-such-run", "second", token=APPROVER)
    assert res.exit_code == 2 and "no run no-such-run" in res.output


def test_no_or_bad_token_and_no_server(remote, tmp_path: Path):
    served, _ = remote
    res = fleet(served, "pause", token=None)
    assert res.exit_code == 1 and "401" in res.output
    res = fleet(served, "pause", token="wrong-token-" + "w" * 20)
    assert res.exit_code == 1 and "401" in res.output and "wrong-token" not in res.output
    res = CliRunner().invoke(app, ["pause"], env={"FLEET_SERVER": "", "FLEET_TOKEN": ""})
    assert res.exit_code == 2 and "--config" in res.output
    res = CliRunner().invoke(app, ["status"], env={"FLEET_SERVER": "http://127.0.0.1:1", "FLEET_TOKEN": "x"})
    assert res.exit_code == 1 and "cannot reach" in res.output


def test_override_create_list_revoke_as_approver(remote):
    served, _ = remote
    res = fleet(served, "override", "sim/lab/c1", "--gate", "blockers", "--until", "2h", "--reason", "false positive")
    assert res.exit_code == 1 and "403" in res.output and "approver" in res.output      # an operator may not
    res = fleet(served, "override", "sim/lab/c1", "--gate", "blockers", "--until", "2h", "--reason", "false positive",
                token=APPROVER)
    assert res.exit_code == 0, res.output
    assert "gate blockers passes for sim/lab/c1 until" in res.stdout
    res = fleet(served, "override", "list", "--format", "json", token=VIEWER)
    assert res.exit_code == 0, res.output
    [o] = [o for o in json.loads(res.stdout) if o["cluster"] == "sim/lab/c1"]
    assert (o["gate"], o["reason"], o["actor"], o["active"]) == ("blockers", "false positive", "token:anna", True)
    assert served.daemon.clock.now() + timedelta(hours=2) == datetime.fromisoformat(o["until"])  # the daemon's clock
    assert "sim/lab/c1" in fleet(served, "override", "list", token=VIEWER).stdout
    res = fleet(served, "override", "revoke", str(o["id"]), token=APPROVER)
    assert res.exit_code == 0 and f"override {o['id']} of gate blockers on sim/lab/c1 revoked" in res.stdout
    listed = json.loads(fleet(served, "override", "list", "--all", "--format", "json", token=VIEWER).stdout)
    [o] = [x for x in listed if x["id"] == o["id"]]
    assert o["revokedBy"] == "token:anna" and not o["active"]
    # bad input is the server's 422/404, exit 2, nothing written
    res = fleet(served, "override", "sim/lab/c1", "--gate", "nope", "--until", "2h", "--reason", "x", token=APPROVER)
    assert res.exit_code == 2 and "no policy has a gate named 'nope'" in res.output
    res = fleet(served, "override", "sim/lab/c1", "--gate", "blockers", "--until", "2020-01-01T00:00:00Z",
                "--reason", "x", token=APPROVER)
    assert res.exit_code == 2, res.output
    assert fleet(served, "override", "revoke", "999999", token=APPROVER).exit_code == 2
    assert len(json.loads(fleet(served, "override", "list", "--all", "--format", "json", token=VIEWER).stdout)) \
        == len(listed)


def test_promote_as_approver(remote):
    served, _ = remote
    res = fleet(served, "promote", "everyone", "v1.30.2")                 # an operator may not
    assert res.exit_code == 1 and "403" in res.output
    res = fleet(served, "promote", "everyone", "v1.30.2", token=APPROVER)
    assert res.exit_code == 0 and "approved 1.30.2 for stage everyone" in res.stdout, res.output
    [ev] = served.daemon.store.events(kind="promotion-approved", limit=10)
    assert ev["actor"] == "token:anna" and ev["data"] == {"stage": "everyone", "version": "1.30.2"}
    res = fleet(served, "promote", "qa", "1.30.2", token=APPROVER)
    assert res.exit_code == 2 and "no stage 'qa'" in res.output
    assert len(served.daemon.store.events(kind="promotion-approved", limit=10)) == 1
