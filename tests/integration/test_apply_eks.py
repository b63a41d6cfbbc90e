"""`fleet apply --config` end to end against the EKS emulator (moto + the upgrade routes) in this process.

One cluster on 1.28 with two managed node groups on an older AMI release of 1.28. Patch first on EKS means
the node groups' AMI releases of the current minor; the control plane then takes 1.29 and 1.30 (minors
only), each followed by both node groups. The budget (maxUnavailable 50%) must reach EKS as
``updateConfig.maxUnavailablePercentage``; maxSurge is not an EKS knob, which `fleet plan` warns about.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from providers.eks.emulator.server import EksEmulator, NodegroupSpec
from tests.integration.cloudfleet import (
    apply,
    assert_run_done,
    clean_env,
    plan_json,
    planned,
    scaled_clock,
    step_keys,
    write_cloud_fleet,
)

REGION = "us-east-1"
CLUSTER = "shop"
CID = f"eks/{REGION}/{CLUSTER}"
MINORS = ("1.28", "1.29", "1.30")
POOLS = ("ng-a", "ng-b")


def releases(minor: str) -> list[str]:
    return [f"{minor}.0-20240105", f"{minor}.3-20240312"]      # seeded (old) and recommended


@pytest.fixture
def eks() -> Iterator[EksEmulator]:
    # emulated: control plane 8 min, node groups 3 min per batch of nodes, updateConfig at once (x600: ~1 s)
    emu = EksEmulator(scaled_clock(), cp_update_seconds=480, node_update_seconds=180, config_update_seconds=0)
    emu.start()
    for minor in MINORS:
        emu.add_version(minor)
        emu.add_ami_releases(minor, releases(minor))
    emu.add_cluster(CLUSTER, "1.28", {p: NodegroupSpec("1.28", nodes=4) for p in POOLS}, region=REGION,
                    tags={"team": "shop"})
    yield emu
    emu.stop()


def test_eks_patch_first_then_two_minors_with_max_unavailable_percentage(eks, tmp_path):
    settings = eks.adapter_settings(tmp_path, regions=(REGION,), profile="eks-e2e")
    settings["pollIntervalSeconds"] = 1
    cfg = write_cloud_fleet(tmp_path, ptype="eks", settings=settings, target="1.30",
                            node_pools={"maxSurge": 1, "maxUnavailable": "50%"})
    env = clean_env(tmp_path / "home")

    # plan first: node-group AMI releases of 1.28, then one control-plane minor at a time, pools after each
    cp = planned(plan_json(cfg, env), CID)
    assert (cp["status"], cp["target"]) == ("needs-upgrade", "1.30"), cp["reasons"]
    expected = [(p, releases("1.28")[1]) for p in POOLS]
    for minor in MINORS[1:]:
        expected += [("cp", minor)] + [(p, releases(minor)[1]) for p in POOLS]
    assert step_keys(cp) == expected
    assert any("maxSurge is not honoured by eks" in w for w in cp["warnings"]), cp["warnings"]
    assert eks.upgrade_log == [] and eks.config_log == []        # planning changed nothing

    r = apply(cfg, env)
    assert "run-done" in r.stdout

    # what EKS received, in order, each exactly once
    got = [("cp", u.version) if u.kind == "cluster" else (u.nodegroup, u.release_version)
           for u in eks.upgrade_log]
    assert got == expected
    assert len(set(got)) == len(got)
    writes = sorted(q.path.rsplit("/", 1)[-1] for q in eks.requests
                    if q.method == "POST" and q.path.startswith("/clusters/"))
    assert writes == ["update-config"] * 2 + ["update-version"] * 6 + ["updates"] * 2   # none refused
    assert all(u.cluster == CLUSTER and u.region == REGION for u in eks.upgrade_log)
    assert all(u.version == ".".join(u.release_version.split(".")[:2])       # version and releaseVersion
               for u in eks.upgrade_log if u.kind == "nodegroup")
    # the budget: one UpdateNodegroupConfig per node group, before its first version update, with the
    # percentage; every node group version update ran under it
    # maxSurge is not an EKS knob (rules: maxUnavailable only): it is left out, so no updateStrategy is sent
    # and EKS keeps its DEFAULT strategy
    assert [(c["nodegroup"], c["updateConfig"]) for c in eks.config_log] == [
        (p, {"maxUnavailablePercentage": 50}) for p in POOLS]
    for u in eks.upgrade_log:
        if u.kind == "nodegroup":
            assert u.update_config == {"maxUnavailablePercentage": 50}, u
    assert eks.cluster_version(CLUSTER, REGION) == "1.30"
    for p in POOLS:
        ng = eks.nodegroup_state(CLUSTER, p, REGION)
        assert (ng["version"], ng["releaseVersion"], ng["status"]) == ("1.30", releases("1.30")[1], "ACTIVE")

    assert_run_done(cfg, env, CID)
    assert planned(plan_json(cfg, env), CID)["status"] == "up-to-date"


def _set_path(cfg, path: str) -> None:
    policy_file = cfg.parent / "policies" / "e2e.yaml"
    policy = yaml.safe_load(policy_file.read_text())
    policy["spec"]["path"] = path
    policy_file.write_text(yaml.safe_dump(policy, sort_keys=False))


@pytest.mark.parametrize("path,pool_mode", [("minor-by-minor", "lockstep"), ("minor-by-minor", "skip-level"),
                                            ("patch-first-then-minor", "skip-level")])
def test_eks_multi_minor_upgrade_reaches_its_target(eks, tmp_path, path, pool_mode):
    """1.28 -> 1.30 under minor-by-minor and/or skip-level node pools: EKS refuses UpdateClusterVersion while a
    node group trails the control plane's minor (UpdateClusterVersion API reference), so every node group must
    catch up to each minor before the next one; a plan that drops the catch-up halts the run with
    "Nodegroups ... must be updated to match cluster version". The run must reach 1.30 everywhere, with no
    request EKS refused."""
    settings = eks.adapter_settings(tmp_path, regions=(REGION,), profile="eks-e2e")
    settings["pollIntervalSeconds"] = 1
    cfg = write_cloud_fleet(tmp_path, ptype="eks", settings=settings, target="1.30",
                            node_pools={"maxUnavailable": 1, "upgrade": pool_mode})
    _set_path(cfg, path)
    env = clean_env(tmp_path / "home")

    cp = planned(plan_json(cfg, env), CID)
    assert (cp["status"], cp["target"]) == ("needs-upgrade", "1.30"), cp["reasons"]
    keys = step_keys(cp)
    # every node group reaches each minor after the control plane does and before its next minor
    cps = [keys.index(("cp", m)) for m in MINORS[1:]] + [len(keys)]
    for minor, start, end in zip(MINORS[1:], cps, cps[1:], strict=False):
        for p in POOLS:
            assert any(k[0] == p and k[1].startswith(minor + ".") for k in keys[start:end]), keys

    apply(cfg, env)
    cp_updates = [q for q in eks.requests if q.method == "POST" and q.path.endswith("/updates")]
    assert len(cp_updates) == 2                                 # exactly 1.29 and 1.30, none refused
    assert eks.cluster_version(CLUSTER, REGION) == "1.30"
    for p in POOLS:
        assert eks.nodegroup_state(CLUSTER, p, REGION)["version"] == "1.30"
    assert_run_done(cfg, env, CID)
