"""`fleet apply --config` (the installed command) against the kops emulator: an emulated ``kops`` first on the
PATH of the ``fleet`` process, its state store in moto's S3 on 127.0.0.1. A cluster with a control-plane group
and two node groups goes through a patch and a minor upgrade; a validation failure on one group fails that
cluster (and only it) with kops' own message.

Time: the ``fleet`` process runs on the wall clock; the emulated kops runs the wall clock sped up
FLEET_EMULATOR_SCALE times (from FLEET_EMULATOR_EPOCH), so kops' real waits — 4 minutes per instance, 15 s
intervals, a 15-minute validation timeout — pass in a fraction of a second and no clock is exported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleet.clock import SystemClock, iso
from providers.kops.emulator.reference import check_argv
from providers.kops.emulator.server import KopsEmulator
from tests.integration.cloudfleet2 import (
    apply,
    dispatched_steps,
    fleet,
    history,
    run_clusters,
    status,
    write_cloud_fleet,
)

CP_IG = "control-plane-us-east-1a"
VERSIONS = ["1.29.2", "1.29.8", "1.30.4"]
SCALE = 3000                 # emulated kops time runs 3000x the wall clock: a kops minute takes 20 ms
VALIDATION_ERROR = 'InstanceGroup "nodes-b" did not have enough nodes 2 vs 3'


def _start(tmp_path: Path, **options: Any) -> tuple[KopsEmulator, dict[str, str]]:
    emu = KopsEmulator(SystemClock(), **options)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    emu.write_launcher(bindir)
    emu.start()
    # what the `fleet` process (and so every kops it runs) gets: the emulated kops first on PATH, the state
    # store and S3 endpoint, fake credentials, and the emulator's sped-up clock
    env = {**emu.kops_env(str(bindir)), "FLEET_EMULATOR_SCALE": str(SCALE),
           "FLEET_EMULATOR_EPOCH": iso(SystemClock().now()) or ""}
    return emu, env


@pytest.fixture
def kops(tmp_path):
    emu, env = _start(tmp_path)
    yield emu, env
    # every command fleet ran is one of the real kops CLI (kubernetes/kops docs/cli, shipped with the emulator)
    assert [problem for e in emu.command_log() for problem in check_argv(e["argv"])] == []
    emu.stop()


def _seed(emu: KopsEmulator, name: str) -> None:
    emu.seed_cluster(name, "1.29.2", {CP_IG: {"role": "ControlPlane", "size": 1},
                                      "nodes-a": {"role": "Node", "size": 4},
                                      "nodes-b": {"role": "Node", "size": 3}}, available=VERSIONS)


def _config(tmp_path: Path, emu: KopsEmulator, target: str) -> Path:
    # the adapter's boto3 reads the state store through the emulator's recording proxy; kops goes to S3 directly
    settings: dict[str, Any] = {"stateStore": emu.state_store, "endpoint": emu.url,
                                "env": {"S3_ENDPOINT": emu.s3_url, "AWS_ENDPOINT_URL_S3": emu.s3_url},
                                "commandTimeout": 30, "requestTimeout": 5, "pollInterval": 1}
    return write_cloud_fleet(tmp_path, provider="kops", ptype="kops", settings=settings, target=target,
                             node_pools={"maxSurge": "50%", "maxUnavailable": 0, "drainTimeout": "10m"})


def _rolls(emu: KopsEmulator, name: str) -> list[list[str]]:
    """The mutating ``kops rolling-update --yes`` runs for ``name`` (dry runs left out), in order."""
    return [e["argv"] for e in emu.command_log()
            if e["argv"][:2] == ["rolling-update", "cluster"] and name in e["argv"] and "--yes" in e["argv"]]


def test_patch_then_minor_with_two_node_groups(tmp_path, kops):
    emu, env = kops
    name = "prod.k8s.local"
    _seed(emu, name)
    cfg = _config(tmp_path, emu, "1.30")

    r = apply(cfg, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "run-done" in r.stdout and "Traceback" not in r.stderr

    # kops' side: the version set once per hop; each group applied once per hop, control plane first
    assert [e["to"] for e in emu.upgrade_log(name, kind="set-version")] == ["1.29.8", "1.30.4"]
    assert [sorted(e["changes"]) for e in emu.upgrade_log(name, kind="apply")] == [[CP_IG], ["nodes-a"],
                                                                                   ["nodes-b"]] * 2
    selectors = [a[a.index("--yes") + 1:a.index("--yes") + 3] for a in _rolls(emu, name)]
    assert selectors == [["--instance-group-roles", "control-plane"], ["--instance-group", "nodes-a"],
                         ["--instance-group", "nodes-b"]] * 2
    assert all(a[-2:] == ["--drain-timeout", "600s"] for a in _rolls(emu, name) if "nodes-a" in a or "nodes-b" in a)
    assert emu.instance_versions(name) == {CP_IG: ["1.30.4"], "nodes-a": ["1.30.4"] * 4, "nodes-b": ["1.30.4"] * 3}
    assert emu.cluster_spec(name)["spec"]["kubernetesVersion"] == "1.30.4"
    # the budget: written to each instance group once, and honoured by the rolls (50% of 4 -> 2 at a time)
    for ig in ("nodes-a", "nodes-b"):
        assert emu.instance_group(name, ig)["spec"]["rollingUpdate"] == {"maxSurge": "50%", "maxUnavailable": 0}
    edits = [e["argv"] for e in emu.command_log() if e["argv"][:2] == ["edit", "instancegroup"]]
    assert [a[4] for a in edits] == ["nodes-a", "nodes-b"]
    assert [e["argv"] for e in emu.command_log() if e["argv"][:2] == ["edit", "cluster"]] == [
        ["edit", "cluster", name, "--set", f"spec.kubernetesVersion={v}"] for v in ("1.29.8", "1.30.4")]
    assert "--create-kube-config=false" in next(e["argv"] for e in emu.command_log() if e["argv"][0] == "update")
    details = [roll["detail"] for roll in emu.cloud_state(name)["rolls"]]
    assert [d["nodes-a"]["concurrency"] for d in details if "nodes-a" in d] == [2, 2]
    assert [(d["nodes-b"]["maxSurge"], d["nodes-b"]["maxUnavailable"]) for d in details if "nodes-b" in d] == [
        (2, 0), (2, 0)]

    # fleet's side
    cid = f"kops/{emu.bucket}/{name}"
    st = status(cfg)
    assert [x["status"] for x in st["runs"]] == ["done"] and st["openSteps"] == []
    assert run_clusters(st)[cid]["status"] == "done"
    assert dispatched_steps(history(cfg, cid)) == [f"{k}@{v}" for v in ("1.29.8", "1.30.4")
                                                   for k in ("cp", "pool:nodes-a", "pool:nodes-b")]


def test_validation_failure_on_one_group_fails_that_cluster(tmp_path, kops):
    emu, env = kops
    bad, good = "stage.k8s.local", "web.k8s.local"
    _seed(emu, bad)
    _seed(emu, good)
    emu.inject_validation_failure(bad, "nodes-b", VALIDATION_ERROR)
    cfg = _config(tmp_path, emu, "1.29")

    r = apply(cfg, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "step-failed" in r.stdout and "run-done" in r.stdout and "Traceback" not in r.stderr

    bad_id, good_id = f"kops/{emu.bucket}/{bad}", f"kops/{emu.bucket}/{good}"
    st = status(cfg)
    assert [x["status"] for x in st["runs"]] == ["failed"] and st["openSteps"] == []
    members = run_clusters(st)
    assert members[good_id]["status"] == "done"
    assert members[bad_id]["status"] == "failed"
    message = members[bad_id]["message"]
    assert 'cluster did not validate within a duration of "15m0s"' in message and VALIDATION_ERROR in message

    events = history(cfg, bad_id)
    failed = [e for e in events if e["kind"] == "step-failed"]
    assert [e["step_key"] for e in failed] == ["pool:nodes-b@1.29.8"] and VALIDATION_ERROR in failed[0]["message"]
    assert dispatched_steps(events) == ["cp@1.29.8", "pool:nodes-a@1.29.8", "pool:nodes-b@1.29.8"]
    assert events[-1]["kind"] == "cluster-failed"

    # kops stopped before touching nodes-b, which was rolled once (no retry); the other cluster finished
    assert emu.instance_versions(bad) == {CP_IG: ["1.29.8"], "nodes-a": ["1.29.8"] * 4, "nodes-b": ["1.29.2"] * 3}
    assert len([a for a in _rolls(emu, bad) if "nodes-b" in a]) == 1
    assert emu.instance_versions(good) == {CP_IG: ["1.29.8"], "nodes-a": ["1.29.8"] * 4, "nodes-b": ["1.29.8"] * 3}
    assert dispatched_steps(history(cfg, good_id)) == ["cp@1.29.8", "pool:nodes-a@1.29.8", "pool:nodes-b@1.29.8"]


def test_a_minor_newer_than_the_kops_binary_is_never_applied(tmp_path):
    """kops 1.29.x refuses Kubernetes 1.30 in `kops update cluster` (kubernetes/kops upup/pkg/fi/cloudup/
    apply_cluster.go validateKubernetesVersion): fleet reads the binary's version (`kops version --short`) and
    goes no further than 1.29 — the patch is applied, the state store never asks for 1.30."""
    emu, env = _start(tmp_path, kops_version="1.29.3")
    try:
        name = "old-kops.k8s.local"
        _seed(emu, name)
        cfg = _config(tmp_path, emu, "1.30")
        r = apply(cfg, env=env)
        assert "Traceback" not in r.stderr
        # the planner blocks the cluster with the reason (UpgradeRules.max_minor): nothing is sent, not even the
        # patch of the current minor, and the plan says why
        assert emu.cluster_spec(name)["spec"]["kubernetesVersion"] == "1.29.2"
        assert emu.upgrade_log(name, kind="set-version") == []
        cid = f"kops/{emu.bucket}/{name}"
        p = fleet("plan", "--config", str(cfg), "--format", "json", env=env)
        cp = [c for c in json.loads(p.stdout)["clusters"] if c["id"] == cid][0]
        assert cp["status"] == "blocked"
        assert any("upgrading kops is required" in reason for reason in cp["reasons"]), cp["reasons"]
        assert [problem for e in emu.command_log() for problem in check_argv(e["argv"])] == []
    finally:
        emu.stop()
