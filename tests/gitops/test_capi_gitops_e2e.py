"""End to end, GitOps mode: a Cluster API cluster kept in a Git repository goes patch-first then two minors
(v1.29.2 -> v1.29.8 -> v1.30.4 -> v1.31.1) through pull requests on a local GitHub API, each merged and applied to
the emulated management cluster by a sync loop standing in for Argo CD; the engine never patches the API
server itself. A pull request closed unmerged fails its step with the reason."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.clock import FakeClock
from fleet.runtime import build_runtime
from providers.capi.emulator.server import CapiEmulator
from tests.execution.helpers import START
from tests.gitops.github_fake import FakeGitHub, git
from tests.gitops.sync import SyncLoop
from tests.providers.harness_capi import TOKEN, oci_image, write_kubeconfig

VERSIONS = ["v1.29.2", "v1.29.8", "v1.30.4", "v1.31.1"]
FOLDER = "clusters/default/c1"
KCP, MD = "KubeadmControlPlane", "MachineDeployment"
_DROP_META = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "ownerReferences")


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k not in _DROP_META}
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta, "spec": obj["spec"]}


def _seed_repo(tmp: Path, emu: CapiEmulator) -> Path:
    """A bare repository whose main branch holds the cluster's manifests as exported from the emulator,
    with comments (which the edits must keep)."""
    bare = tmp / "origin.git"
    subprocess.run(["git", "init", "--bare", "--quiet", "-b", "main", str(bare)], check=True)
    work = tmp / "seed"
    files = {
        "cluster.yaml": [emu.get("Cluster", "c1")],
        "control-plane.yaml": [emu.get(KCP, "c1-control-plane")],
        "workers.yaml": [emu.get(MD, "md-0")],
        "templates/c1-control-plane.yaml": [emu.get("OCIMachineTemplate", "c1-control-plane")],
        "templates/c1-md-0.yaml": [emu.get("OCIMachineTemplate", "c1-md-0")],
    }
    for rel, objs in files.items():
        p = work / FOLDER / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        body = "---\n".join(yaml.safe_dump(_clean(o), sort_keys=False) for o in objs)
        p.write_text(f"# {rel}: owned by the platform team; reviewed in pull requests\n{body}")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    for argv in (["init", "--quiet", "-b", "main"], ["add", "."], ["commit", "--quiet", "-m", "c1 manifests"],
                 ["push", "--quiet", str(bare), "main"]):
        subprocess.run(["git", *argv], cwd=work, check=True, env=env)
    return bare


@pytest.fixture
def world(tmp_path: Path):
    clock = FakeClock(START)
    emu = CapiEmulator(clock, capi_version="v1beta2", token=TOKEN)
    emu.start()
    hub: FakeGitHub | None = None
    try:
        emu.add_cluster("c1", "v1.29.2", cp_replicas=1, pools={"md-0": 2},
                        labels={"env": "prod"}, annotations=None)
        write_kubeconfig(tmp_path / "mgmt.kubeconfig", {"mgmt": emu.url})
        bare = _seed_repo(tmp_path, emu)
        hub = FakeGitHub(bare, now=clock.now)
        hub.start()
        (tmp_path / "token").write_text(hub.token + "\n")
        yield clock, emu, bare, hub, tmp_path
    finally:
        if hub is not None:
            hub.stop()
        emu.stop()


def _config(tmp: Path, hub: FakeGitHub, bare: Path, *, merge: str = "auto",
            maintenance: dict[str, Any] | None = None) -> Path:
    (tmp / "policies").mkdir(exist_ok=True)
    policy = {"apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy", "metadata": {"name": "prod-gitops"},
              "spec": {"selector": {"providers": ["capi"]}, "target": {"version": "1.31"},
                       "path": "patch-first-then-minor", "nodePools": {"maxSurge": 1, "maxUnavailable": 0},
                       "rollout": {"maxConcurrentClusters": 1, "maxFailures": 1}}}
    if maintenance:
        policy["spec"]["maintenance"] = maintenance
    (tmp / "policies" / "p.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    settings = {"managementClusters": [{"kubeconfig": "mgmt.kubeconfig", "context": "mgmt"}],
                "images": {"OCIMachineTemplate": {v: oci_image(v) for v in VERSIONS}},
                "requestTimeoutSeconds": 5, "pollIntervalSeconds": 30}
    gitops = {"repository": {"url": str(bare), "tokenFile": "token", "branch": "main"},
              "forge": {"type": "github", "api": hub.url, "repository": "acme/clusters"},
              "merge": merge, "pollSeconds": 30}
    cfg = {"apiVersion": "fleet.dev/v1alpha1", "kind": "FleetConfig", "metadata": {"name": "gitops"},
           "spec": {"providers": [{"name": "capi", "type": "capi", "settings": settings, "gitops": gitops}],
                    "policies": "policies", "state": {"url": "sqlite:///fleet.db", "create": True},
                    "reconcileInterval": "30s"}}
    path = tmp / "fleet.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _drive(rt: Any, clock: FakeClock, emu: CapiEmulator, sync: SyncLoop, until: Any, ticks: int = 400,
           people: Any = None) -> None:
    for _ in range(ticks):
        rt.engine.reconcile()
        if people is not None:
            people()
        sync.sync()
        if until():
            return
        clock.advance(timedelta(seconds=30))
        emu.tick()
    raise AssertionError("did not finish")


def test_patch_first_then_two_minors_through_reviewed_pull_requests(world):
    clock, emu, bare, hub, tmp = world
    hub.require_review = True                      # branch protection: fleet's merge waits for an approval
    rt = build_runtime(_config(tmp, hub, bare), clock)
    sync = SyncLoop(bare, tmp / "mgmt.kubeconfig", "mgmt")
    cid = "capi/mgmt/default/c1"
    try:
        plan = rt.engine.compute_fleet_plan(rt.engine.observer.observe_fleet(clock.now()), rt.policies())
        [cp] = [c for c in plan.clusters if c.id == cid]
        planned = [s.key for s in cp.steps]
        assert planned == ["cp@v1.29.8", "pool:md-0@v1.29.8", "cp@v1.30.4", "pool:md-0@v1.30.4",
                           "cp@v1.31.1", "pool:md-0@v1.31.1"]
        reviewed: list[int] = []

        def reviewer() -> None:                    # a person approves each PR once it is open
            for p in hub.open_pulls():
                if p["number"] not in hub.approved:
                    hub.approve(p["number"])
                    reviewed.append(p["number"])

        def done() -> bool:
            runs = rt.store.runs()
            return bool(runs) and all(r.status.value in ("done", "failed", "halted") for r in runs)

        _drive(rt, clock, emu, sync, done, people=reviewer)
        [run] = rt.store.runs()
        assert run.status.value == "done"
        executed = [s.key for s in rt.store.steps(run_id=run.id) if s.state.value == "succeeded"]
        assert executed == planned                                   # the plan equals the executed steps
        # every step went through its own reviewed, merged pull request
        assert sorted(reviewed) == sorted(hub.pulls) and len(hub.pulls) == len(planned)
        assert all(p["merged"] for p in hub.pulls.values())
        titles = [p["title"] for p in sorted(hub.pulls.values(), key=lambda p: p["number"])]
        assert titles == [f"fleet: c1 {k.replace('@', ' -> ')}" for k in planned]
        body = hub.pulls[1]["body"]
        assert f"Run: {run.id}" in body and "Policy: prod-gitops" in body and "Plan: cp@v1.29.8 " in body
        # the engine never wrote to the API server: every version change came from the sync loop
        assert [(u.kind, u.to_version) for u in emu.upgrade_log] == [
            (KCP if k.startswith("cp") else MD, k.split("@")[1]) for k in planned]
        kinds = {w[1] for w in sync.writes}
        assert kinds == {KCP, MD, "OCIMachineTemplate"}
        kcp, md = emu.get(KCP, "c1-control-plane"), emu.get(MD, "md-0")
        assert kcp["spec"]["version"] == md["spec"]["template"]["spec"]["version"] == "v1.31.1"
        assert {m.version for m in emu.machines()} == {"v1.31.1"}
        # the repository: comments kept, a new template file per object per step with the mapped image
        main = git(bare, "rev-parse", "main").strip()
        cp_text = git(bare, "show", f"{main}:{FOLDER}/control-plane.yaml")
        assert cp_text.startswith("# control-plane.yaml: owned by the platform team")
        assert "version: v1.31.1" in cp_text
        names = git(bare, "ls-tree", "--name-only", f"{main}:{FOLDER}/templates").split()
        assert len(names) == 2 + len(planned)
        ref = kcp["spec"]["machineTemplate"]["spec"]["infrastructureRef"]["name"]
        assert f"{ref}.yaml" in names
        tmpl = emu.get("OCIMachineTemplate", ref)
        assert tmpl["spec"]["template"]["spec"]["imageId"] == oci_image("v1.31.1")
    finally:
        rt.store.close() if hasattr(rt.store, "close") else None


def test_a_pull_request_closed_unmerged_fails_the_step_with_the_reason(world):
    clock, emu, bare, hub, tmp = world
    rt = build_runtime(_config(tmp, hub, bare, merge="manual"), clock)
    sync = SyncLoop(bare, tmp / "mgmt.kubeconfig", "mgmt")
    closed: list[int] = []

    def closer() -> None:                          # a person closes the first PR without merging it
        for p in hub.open_pulls():
            hub.close(p["number"])
            closed.append(p["number"])

    def done() -> bool:
        runs = rt.store.runs()
        return bool(runs) and all(r.status.value != "running" for r in runs)

    _drive(rt, clock, emu, sync, done, ticks=40, people=closer)
    [run] = rt.store.runs()
    failed = [s for s in rt.store.steps(run_id=run.id) if s.state.value == "failed"]
    assert closed == [1] and [s.key for s in failed] == ["cp@v1.29.8"]
    assert "github #1" in failed[0].message and "closed without merging" in failed[0].message
    assert emu.upgrade_log == [] and git(bare, "rev-parse", "main").strip() == sync.applied[0]


def test_a_pull_request_is_opened_only_when_the_window_opens(world):
    clock, emu, bare, hub, tmp = world
    # START is Monday 00:00 UTC; the window opens Monday 02:00 for an hour
    window = {"timezone": "UTC", "windows": [{"days": ["Mon"], "start": "02:00", "duration": "1h"}]}
    rt = build_runtime(_config(tmp, hub, bare, merge="manual", maintenance=window), clock)
    sync = SyncLoop(bare, tmp / "mgmt.kubeconfig", "mgmt")
    for _ in range(3):                                  # 00:00 .. 01:00: closed
        rt.engine.reconcile()
        clock.advance(timedelta(minutes=30))
    assert hub.pulls == {} and [r for r in rt.store.runs()]
    clock.advance(timedelta(minutes=31))                # 02:01: open
    rt.engine.reconcile()
    assert [p["title"] for p in hub.pulls.values()] == ["fleet: c1 cp -> v1.29.8"]
    # a person merges it long after the window closed: windows gate the start, the step goes on (and converges)
    clock.advance(timedelta(hours=5))
    hub.merge_as_person(1)

    def step_done() -> bool:
        [run] = rt.store.runs()
        return any(s.key == "cp@v1.29.8" and s.state.value == "succeeded" for s in rt.store.steps(run_id=run.id))

    _drive(rt, clock, emu, sync, step_done, ticks=100)
    assert len(hub.pulls) == 1                          # the next step waits for the next window
    assert [(u.kind, u.to_version) for u in emu.upgrade_log] == [(KCP, "v1.29.8")]
