"""`fleet validate` warnings and `--strict` (exit 2 on any warning), end to end: selectors matching nothing,
priority ties, catch-all policies taking clusters meant for another, empty folders; FleetConfig provider
types and settings are checked."""

from __future__ import annotations

from pathlib import Path

from tests.integration.fleetfiles import write_fleet

from .conftest import REPO, run_fleet

INVENTORY = """apiVersion: fleet.dev/v1alpha1
kind: Inventory
offers:
  eks: ["1.29.8", "1.30.4"]
clusters:
  - {provider: eks, location: lab, name: web, labels: {env: prod}, controlPlane: "1.29.8"}
  - {provider: eks, location: lab, name: db, labels: {env: prod}, controlPlane: "1.29.8"}
"""


def policy(name: str, *, selector: str = "{}", priority: int = 0) -> str:
    return (f"apiVersion: fleet.dev/v1alpha1\nkind: UpgradePolicy\nmetadata:\n  name: {name}\nspec:\n"
            f"  priority: {priority}\n  selector: {selector}\n  target:\n    version: \"1.30\"\n")


def folder(tmp_path: Path, **policies: str) -> Path:
    d = tmp_path / "policies"
    d.mkdir()
    for name, text in policies.items():
        (d / f"{name}.yaml").write_text(text)
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    return d


def validate(*args: str):
    plain = run_fleet("validate", *args)
    strict = run_fleet("validate", "--strict", *args)
    return plain, strict


def test_clean_files_pass_strict():
    plain, strict = validate(str(REPO / "policies/examples"), str(REPO / "policies/inventory/example-fleet.yaml"))
    assert plain.returncode == strict.returncode == 0, strict.stderr
    assert "warning" not in plain.stderr and "ok: 4 policies, 1 inventory, 0 configs" in plain.stdout


def test_selector_matching_no_cluster(tmp_path):
    d = folder(tmp_path, prod=policy("prod"), gke=policy("gke-only", selector="{providers: [gke]}", priority=5))
    plain, strict = validate(str(d), str(tmp_path / "inventory.yaml"))
    assert plain.returncode == 0 and "1 warning" in plain.stdout
    assert "spec.selector: policy 'gke-only' selects no cluster of the inventory (2 clusters)" in plain.stderr
    assert strict.returncode == 2 and "error: 1 warning (--strict)" in strict.stderr


def test_priority_tie_with_and_without_inventory(tmp_path):
    d = folder(tmp_path, a=policy("a", selector="{matchLabels: {env: prod}}"),
               b=policy("b", selector="{matchLabels: {env: prod}}"))
    plain, strict = validate(str(d))
    assert "policies 'a' and 'b' have the same selector and priority 0" in plain.stderr and strict.returncode == 2
    plain, strict = validate(str(d), str(tmp_path / "inventory.yaml"))
    assert "policies 'a' and 'b' select 2 clusters (eks/lab/web, eks/lab/db) with the same priority 0" in plain.stderr
    assert strict.returncode == 2


def test_catch_all_taking_clusters_meant_for_another(tmp_path):
    d = folder(tmp_path, all=policy("everything", priority=10),
               web=policy("web", selector="{names: [web]}", priority=1))
    plain, strict = validate(str(d))
    assert ("catch-all policy 'everything' (empty selector) has priority 10, above policy 'web' (1): it takes "
            "every cluster meant for it") in plain.stderr
    assert strict.returncode == 2
    plain, strict = validate(str(d), str(tmp_path / "inventory.yaml"))
    assert ("catch-all policy 'everything' (empty selector, priority 10) takes 1 cluster (eks/lab/web) that policy "
            "'web' selects (priority 1)") in plain.stderr
    assert strict.returncode == 2


def test_empty_policies_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    d = folder(tmp_path, prod=policy("prod"))
    plain, strict = validate(str(tmp_path / "empty"), str(d))
    assert f"warning: {tmp_path / 'empty'}: <document>: this folder holds no policy" in plain.stderr
    assert plain.returncode == 0 and strict.returncode == 2


def test_config_with_an_empty_policies_folder_and_bad_providers(tmp_path):
    cfg = write_fleet(tmp_path, n=1)
    for f in (tmp_path / "policies").iterdir():
        f.unlink()
    plain, strict = validate(str(cfg))
    assert "spec.policies:" in plain.stderr and "holds no UpgradePolicy" in plain.stderr
    assert plain.returncode == 0 and strict.returncode == 2
    cfg.write_text(cfg.read_text().replace("type: sim", "type: simx").replace(
        "        nodePoolDuration: 1s\n", "        nodePoolDuration: 1s\n        bogus: 3\n"))
    r = run_fleet("validate", str(cfg))
    assert r.returncode == 2
    assert "spec.providers[0].type: unknown provider type 'simx'; known types:" in r.stderr
    cfg.write_text(cfg.read_text().replace("type: simx", "type: sim"))
    r = run_fleet("validate", str(cfg))
    assert r.returncode == 2 and "spec.providers[0].settings.bogus: unknown field" in r.stderr
