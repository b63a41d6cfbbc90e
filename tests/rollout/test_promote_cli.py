"""`fleet promote STAGE VERSION`: a person's approval, recorded as an event the engine's qualification reads;
unknown stages exit 2 and write nothing."""

from __future__ import annotations

import textwrap

from typer.testing import CliRunner

from fleet.cli.app import app
from fleet.execution.stages import observe_approvals
from fleet.state.store import SqlStore
from tests.rollout.test_rollout_files import ROLLOUT

CONFIG = """\
apiVersion: fleet.dev/v1alpha1
kind: FleetConfig
metadata: {name: t}
spec:
  providers: [{name: sim, type: sim}]
  policies: policies
  state: {url: "sqlite:///state.db", create: true}
"""


def test_promote_records_an_approval_and_refuses_unknown_stages(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "rollout.yaml").write_text(textwrap.dedent(ROLLOUT))
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text(CONFIG)
    r = CliRunner().invoke(app, ["promote", "--config", str(cfg), "prod", "v1.31.4-gke.100"])
    assert r.exit_code == 0, r.output
    assert "approved 1.31.4 for stage prod" in r.output
    r = CliRunner().invoke(app, ["promote", "--config", str(cfg), "qa", "1.31.4"])
    assert r.exit_code == 2 and "no stage 'qa'" in r.output
    store = SqlStore(f"sqlite:///{tmp_path}/state.db")
    got = [(a.stage, a.version) for a in observe_approvals(store)]
    assert got == [("prod", "1.31.4")]


def test_status_lists_stage_approvals(tmp_path):
    from fleet.execution.status import status_dict
    test_promote_records_an_approval_and_refuses_unknown_stages(tmp_path)
    got = status_dict(SqlStore(f"sqlite:///{tmp_path}/state.db"))["stageApprovals"]
    assert [(a["stage"], a["version"]) for a in got] == [("prod", "1.31.4")]
