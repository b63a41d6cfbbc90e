"""End to end: the installed ``fleet`` command on files in a temporary folder (``fleet validate``, ``fleet plan``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FLEET = shutil.which("fleet") or "fleet"


POLICY = """\
apiVersion: fleet.dev/v1alpha1
kind: UpgradePolicy
metadata:
  name: prod
spec:
  priority: 10
  selector:
    matchLabels: {env: prod}
  target:
    version: "1.30"
  nodePools:
    maxSurge: "25%"
    maxUnavailable: 0
  maintenance:
    timezone: Europe/Berlin
    windows:
      - days: [Sat]
        start: "01:00"
        duration: 5h
  rollout:
    waves:
      - name: canary
        selector: {matchLabels: {canary: "true"}}
"""

INVENTORY = """\
apiVersion: fleet.dev/v1alpha1
kind: Inventory
offers:
  gke: ["1.28.3-gke.100", "1.28.9-gke.200", "1.29.8-gke.300", "1.30.4-gke.400", "1.31.1-gke.500"]
clusters:
  - provider: gke
    location: europe-west1
    name: shop
    labels: {env: prod, canary: "true"}
    controlPlane: "1.28.3-gke.100"
    nodePools:
      - {name: default, version: "1.28.3-gke.100", nodes: 8}
  - provider: gke
    location: europe-west1
    name: lab
    labels: {env: lab}
    controlPlane: "1.31.1-gke.500"
"""


def fleet(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert FLEET is not None
    return subprocess.run([FLEET, *map(str, args)], check=False, capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stdout + r.stderr


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    pol = tmp_path / "policies"
    pol.mkdir()
    (pol / "prod.yaml").write_text(POLICY)
    inv = tmp_path / "inventory.yaml"
    inv.write_text(INVENTORY)
    return pol, inv


# ---- fleet validate ------------------------------------------------------------------------------------

def test_validate_ok(files):
    pol, inv = files
    r = fleet("validate", pol, inv)
    assert r.returncode == 0, r.stderr
    assert "ok: 1 policy, 1 inventory" in r.stdout
    no_traceback(r)


def test_validate_broken_one_line_per_problem(tmp_path, files):
    pol, _ = files
    (pol / "bad.yaml").write_text(POLICY.replace("name: prod", "name: bad").replace('"1.30"', "1.30")
                                  + "  bogus: true\n")
    (pol / "worse.yaml").write_text("apiVersion: fleet.dev/v1alpha1\nkind: UpgradePolicy\nmetadata: [\n")
    (pol / "evil.yaml").write_text(POLICY.replace("name: prod", "name: evil").replace(
        "  priority: 10\n", f"  priority: !!python/object/apply:os.system ['touch {tmp_path / 'pwned'}']\n"))
    r = fleet("validate", pol)
    assert r.returncode == 2
    no_traceback(r)
    lines = r.stderr.strip().splitlines()
    bad, evil, worse = pol / "bad.yaml", pol / "evil.yaml", pol / "worse.yaml"
    assert lines == [
        f"{bad}:10: spec.target.version: write the version as a string (quote 1.3): YAML reads 1.30 as the number 1.3",
        f"{bad}:24: spec.bogus: unknown field",
        f"{evil}:6: spec.priority: YAML tag !!python/object/apply:os.system is not allowed: write plain YAML values",
        (f"{worse}:3: <document>: invalid YAML: expected the node content, but found '<stream end>' "
         "(while parsing a flow node started on line 3)"),
    ]
    assert not (tmp_path / "pwned").exists()


def test_validate_missing_file(tmp_path):
    r = fleet("validate", tmp_path / "nope.yaml")
    assert r.returncode == 2
    assert r.stderr.strip() == f"{tmp_path / 'nope.yaml'}: <document>: no such file or directory"
    no_traceback(r)


def test_validate_folder_without_documents(tmp_path):
    r = fleet("validate", tmp_path)
    assert r.returncode == 2
    assert "no policy, inventory or config documents found" in r.stderr
    no_traceback(r)


def test_every_shipped_policy_file_validates():
    files = sorted(f for f in (REPO / "policies").rglob("*") if f.suffix in (".yaml", ".yml"))
    assert files
    for f in files:
        r = fleet("validate", f)
        assert r.returncode == 0, f"{f}: {r.stderr}"
    r = fleet("validate", REPO / "policies")
    assert r.returncode == 0, r.stderr


# ---- fleet plan ----------------------------------------------------------------------------------------

def test_plan_json(files):
    pol, inv = files
    r = fleet("plan", "--policies", pol, "--inventory", inv, "--at", "2026-06-03T12:00:00Z", "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["at"] == "2026-06-03T12:00:00Z"
    assert [c["id"] for c in doc["clusters"]] == ["gke/europe-west1/lab", "gke/europe-west1/shop"]
    lab, shop = doc["clusters"]
    assert lab["status"] == "unmanaged" and lab["policy"] is None and lab["steps"] == []
    assert shop == {
        "id": "gke/europe-west1/shop", "provider": "gke", "policy": "prod", "status": "needs-upgrade",
        "current": {"controlPlane": "1.28.3-gke.100", "nodePools": {"default": "1.28.3-gke.100"}},
        "target": "1.30.4-gke.400",
        "steps": [
            {"component": "control-plane", "pool": None, "from": "1.28.3-gke.100", "to": "1.28.9-gke.200",
             "strategy": None, "maxSurge": None, "maxUnavailable": None},
            {"component": "node-pool", "pool": "default", "from": "1.28.3-gke.100", "to": "1.28.9-gke.200",
             "strategy": "surge", "maxSurge": 2, "maxUnavailable": 0},
            {"component": "control-plane", "pool": None, "from": "1.28.9-gke.200", "to": "1.29.8-gke.300",
             "strategy": None, "maxSurge": None, "maxUnavailable": None},
            {"component": "node-pool", "pool": "default", "from": "1.28.9-gke.200", "to": "1.29.8-gke.300",
             "strategy": "surge", "maxSurge": 2, "maxUnavailable": 0},
            {"component": "control-plane", "pool": None, "from": "1.29.8-gke.300", "to": "1.30.4-gke.400",
             "strategy": None, "maxSurge": None, "maxUnavailable": None},
            {"component": "node-pool", "pool": "default", "from": "1.29.8-gke.300", "to": "1.30.4-gke.400",
             "strategy": "surge", "maxSurge": 2, "maxUnavailable": 0},
        ],
        "nextWindow": {"start": "2026-06-05T23:00:00Z", "end": "2026-06-06T04:00:00Z"},
        "wave": "canary", "reasons": [], "warnings": [],
    }


def test_plan_at_with_offset_is_reported_in_utc(files):
    pol, inv = files
    r = fleet("plan", "--policies", pol, "--inventory", inv, "--at", "2026-06-06T03:00:00+02:00", "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["at"] == "2026-06-06T01:00:00Z"
    shop = doc["clusters"][1]
    assert shop["nextWindow"] == {"start": "2026-06-05T23:00:00Z", "end": "2026-06-06T04:00:00Z"}  # open now


def test_plan_table_shows_the_path(files):
    pol, inv = files
    r = fleet("plan", "--policies", pol, "--inventory", inv, "--at", "2026-06-03T12:00:00Z")
    assert r.returncode == 0, r.stderr
    # the path column may wrap: 1.28.3-gke.100 → 1.28.9-gke.200 → 1.29.8-gke.300 → 1.30.4-gke.400
    words = [w for w in r.stdout.split() if w not in ("│", "┃")]
    text = " ".join(words)
    assert "1.28.3-gke.100 → 1.28.9-gke.200 →" in text
    assert "1.29.8-gke.300 → 1.30.4-gke.400" in text
    assert "needs-upgrade" in r.stdout and "unmanaged" in r.stdout
    no_traceback(r)


@pytest.mark.parametrize("at,message", [
    ("yesterday", "not an ISO-8601 instant"),
    ("2026-13-01T00:00:00Z", "not an ISO-8601 instant"),
    ("", "not an ISO-8601 instant"),
    ("9999-12-31T00:00:00Z", "between the years 1970 and 9000"),
    ("0001-01-01T00:00:00Z", "between the years 1970 and 9000"),
])
def test_plan_bad_at(files, at, message):
    pol, inv = files
    r = fleet("plan", "--policies", pol, "--inventory", inv, "--at", at)
    assert r.returncode == 2
    assert r.stderr.startswith("--at: at: ") and message in r.stderr
    no_traceback(r)


def test_plan_bad_format(files):
    pol, inv = files
    r = fleet("plan", "--policies", pol, "--inventory", inv, "--format", "xml")
    assert r.returncode == 2
    no_traceback(r)


def test_plan_missing_files_are_all_reported(tmp_path):
    r = fleet("plan", "--policies", tmp_path / "nope", "--inventory", tmp_path / "nope.yaml")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"{tmp_path / 'nope'}: <document>: no such file or directory",
        f"{tmp_path / 'nope.yaml'}: <document>: no such file or directory",
    ]
    no_traceback(r)


def test_plan_broken_inventory(files):
    pol, inv = files
    inv.write_text(INVENTORY.replace('controlPlane: "1.31.1-gke.500"', "controlPlane: 1.31"))
    r = fleet("plan", "--policies", pol, "--inventory", inv)
    assert r.returncode == 2
    assert r.stderr.strip() == (f"{inv}:17: clusters[1].controlPlane: write versions as strings (quote 1.31): "
                                "YAML reads 1.30 as the number 1.3")
    no_traceback(r)


def test_plan_without_inputs(tmp_path):
    r = fleet("plan")
    assert r.returncode == 2
    no_traceback(r)


def test_shipped_examples_plan_cleanly():
    r = fleet("plan", "--policies", "policies/examples", "--inventory", "policies/inventory/example-fleet.yaml",
              "--at", "2026-06-01T12:00:00Z", "--format", "json", cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    doc = json.loads(r.stdout)
    assert len(doc["clusters"]) == 10
    statuses = {c["id"]: c["status"] for c in doc["clusters"]}
    assert statuses["gke/asia-east1/sandbox"] == "unmanaged"
    assert "blocked" not in statuses.values()
    for c in doc["clusters"]:
        if c["status"] == "needs-upgrade":
            assert c["steps"] and c["nextWindow"] is not None
            assert c["nextWindow"]["start"].endswith("Z") and c["nextWindow"]["end"].endswith("Z")
    table = fleet("plan", "--policies", "policies/examples", "--inventory", "policies/inventory/example-fleet.yaml",
                  "--at", "2026-06-01T12:00:00Z", cwd=REPO)
    assert table.returncode == 0, table.stderr
    assert "→" in table.stdout
