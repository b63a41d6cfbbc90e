"""The rollout document and per-pool overrides as users write them: strict, file:line errors, exit 2."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

from fleet.cli.app import app
from fleet.errors import InputError
from fleet.policy.loader import load_policies, load_policy_set

POLICY = """\
apiVersion: fleet.dev/v1alpha1
kind: UpgradePolicy
metadata: {name: prod}
spec:
  target: {version: "1.31"}
  nodePools:
    maxSurge: 1
    overrides:
      - names: ["stateful-*"]
        strategy: blue-green
        blueGreen: {batchPercentage: "25%", batchSoak: 10m}
"""

ROLLOUT = """\
apiVersion: fleet.dev/v1alpha1
kind: RolloutStrategy
metadata: {name: fleet}
spec:
  stages:
    - name: dev
      selector: {matchLabels: {env: dev}}
      soak: 2d
    - name: prod
      selector: {matchLabels: {env: prod}}
      approval: required
      maxConcurrentClusters: 2
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_policies_folder_holds_policies_and_one_rollout(tmp_path):
    write(tmp_path, "prod.yaml", POLICY)
    write(tmp_path, "rollout.yaml", ROLLOUT)
    policies, ro = load_policy_set(tmp_path)
    assert [p.name for p in policies] == ["prod"] and ro is not None
    assert [s.name for s in ro.spec.stages] == ["dev", "prod"] and ro.spec.unmatched == "last"
    assert load_policies(tmp_path) == policies
    spec = policies[0].spec.node_pools
    assert spec.for_pool("stateful-db").strategy == "blue-green"
    assert spec.for_pool("web").strategy == "surge" and spec.for_pool("web") is spec


def test_rollout_errors_name_file_line_and_field(tmp_path):
    bad = ROLLOUT.replace("      soak: 2d", "      soak: 2d\n      waves: 3").replace("maxConcurrentClusters: 2",
                                                                                     "maxConcurrentClusters: 0")
    write(tmp_path, "rollout.yaml", bad)
    with pytest.raises(InputError) as err:
        load_policy_set(tmp_path)
    got = {(p.line, p.field) for p in err.value.problems}
    assert (9, "spec.stages[0].waves") in got
    assert (13, "spec.stages[1].maxConcurrentClusters") in got


def test_two_rollouts_and_duplicate_stages_are_refused(tmp_path):
    write(tmp_path, "a.yaml", ROLLOUT)
    write(tmp_path, "b.yaml", ROLLOUT.replace("name: prod\n", "name: dev\n"))
    with pytest.raises(InputError) as err:
        load_policy_set(tmp_path)
    msgs = " | ".join(str(p) for p in err.value.problems)
    assert "duplicate stage names: dev" in msgs


def test_second_rollout_document_is_refused(tmp_path):
    write(tmp_path, "a.yaml", ROLLOUT)
    write(tmp_path, "b.yaml", ROLLOUT)
    with pytest.raises(InputError) as err:
        load_policy_set(tmp_path)
    assert "at most one RolloutStrategy" in str(err.value.problems[0])


@pytest.mark.parametrize(("override", "field_msg"), [
    ("      - strategy: blue-green\n", "select pools with names and/or matchLabels"),
    ("      - names: [a]\n", "set at least one of"),
    ("      - names: [a]\n        maxUnavailable: 0\n        maxSurge: 0\n", "cannot both be 0"),
    ("      - names: [a]\n        blueGreen: {batchNodeCount: 1}\n", "blueGreen settings need strategy"),
])
def test_bad_overrides(tmp_path, override, field_msg):
    text = POLICY.split("    overrides:\n")[0] + "    overrides:\n" + override
    write(tmp_path, "p.yaml", text)
    with pytest.raises(InputError) as err:
        load_policies(tmp_path)
    p = err.value.problems[0]
    assert field_msg in p.message and p.field.startswith("spec.nodePools") and p.line is not None


def test_timezone_cluster_is_accepted_and_unknown_zones_are_not(tmp_path):
    write(tmp_path, "p.yaml", POLICY + "  maintenance: {timezone: cluster}\n")
    assert load_policies(tmp_path)[0].spec.maintenance.timezone == "cluster"
    write(tmp_path, "p.yaml", POLICY + "  maintenance: {timezone: Cluster/Local}\n")
    with pytest.raises(InputError):
        load_policies(tmp_path)


def test_cli_validate_and_schema(tmp_path):
    write(tmp_path, "prod.yaml", POLICY)
    write(tmp_path, "rollout.yaml", ROLLOUT)
    r = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert r.exit_code == 0 and "1 rollout strategy\n" in r.output
    write(tmp_path, "rollout.yaml", ROLLOUT.replace("approval: required", "approval: maybe"))
    r = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert r.exit_code == 2 and "rollout.yaml:11" in r.output
    r = CliRunner().invoke(app, ["schema", "rollout"])
    schema = json.loads(r.output)
    assert r.exit_code == 0 and schema["properties"]["kind"]["const"] == "RolloutStrategy"
    assert "maxConcurrentClusters" in json.dumps(schema)
