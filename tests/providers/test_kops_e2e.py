"""End to end at the adapter level: a kops cluster with a control-plane group and two node groups goes
patch-first, then two minors (control plane, then each node group, each time), with the budget knobs checked
on the emulator's side; and a validation failure on one group ends that step FAILED with kops' message."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fleet.provider import Cluster, Component, OperationState, OperationStatus, Step
from providers.kops.adapter import KopsProvider
from providers.kops.emulator.reference import check_argv
from tests.providers.harness_kops import CONTROL_PLANE_IG, KopsHarness

NAME = "prod.k8s.local"
VERSIONS = ["1.29.2", "1.29.8", "1.30.4", "1.31.1"]


@pytest.fixture
def h():
    harness = KopsHarness()
    harness.start()
    harness.emu.seed_cluster(NAME, "1.29.2", {
        CONTROL_PLANE_IG: {"role": "ControlPlane", "size": 1},
        "nodes-a": {"role": "Node", "size": 4, "rollingUpdate": {"maxSurge": 1}},
        "nodes-b": {"role": "Node", "size": 3}}, available=VERSIONS)
    yield harness
    harness.stop()


def _cluster(p: KopsProvider) -> Cluster:
    return next(c for c in p.discover() if c.name == NAME)


def _run(h: KopsHarness, p: KopsProvider, step: Step) -> OperationStatus:
    cluster = _cluster(p)
    assert p.check_step(cluster, step) == []
    op = p.start(cluster, step)
    for _ in range(10):
        h.clock.advance(timedelta(hours=1))
        st = p.poll(cluster, op)
        if st.state is not OperationState.RUNNING:
            return st
    raise AssertionError(f"{step.key} never finished")


def _budget_a(to: str, from_: str) -> Step:
    return Step(Component.NODE_POOL, to=to, from_=from_, pool="nodes-a", max_surge=2, max_unavailable=0,
                max_surge_spec="50%", max_unavailable_spec="0")


def _budget_b(to: str, from_: str) -> Step:
    return Step(Component.NODE_POOL, to=to, from_=from_, pool="nodes-b", max_surge=0, max_unavailable=1,
                drain_timeout_seconds=600, node_soak_seconds=60)


def test_patch_then_two_minors_with_two_node_groups(h):
    p = h.provider()
    offers = p.offers(_cluster(p))
    assert offers.control_plane == ("1.29.8", "1.30.4", "1.31.1")           # one recommendation per minor
    current = "1.29.2"
    for to in ("1.29.8", "1.30.4", "1.31.1"):
        cp = _run(h, p, Step(Component.CONTROL_PLANE, to=to, from_=current))
        assert cp.state is OperationState.SUCCEEDED, cp.message
        c = _cluster(p)
        assert (c.control_plane, {pl.name: pl.version for pl in c.node_pools}) == (
            to, {"nodes-a": current, "nodes-b": current})                   # node groups wait for their step
        for step in (_budget_a(to, current), _budget_b(to, current)):
            st = _run(h, p, step)
            assert st.state is OperationState.SUCCEEDED, st.message
        c = _cluster(p)
        assert {pl.name: pl.version for pl in c.node_pools} == {"nodes-a": to, "nodes-b": to}
        assert h.emu.instance_versions(NAME) == {CONTROL_PLANE_IG: [to], "nodes-a": [to] * 4, "nodes-b": [to] * 3}
        p = h.provider()                                                    # a fresh adapter each round
        current = to

    # the emulator's side: budgets arrived in kops' own objects and flags, and shaped the rolls
    assert h.emu.instance_group(NAME, "nodes-a")["spec"]["rollingUpdate"] == {"maxSurge": "50%", "maxUnavailable": 0}
    assert h.emu.instance_group(NAME, "nodes-b")["spec"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    argvs = [e["argv"] for e in h.emu.command_log()]
    assert [problem for a in argvs for problem in check_argv(a)] == []   # only the real CLI's commands and flags
    edits = [a for a in argvs if a[:2] == ["edit", "instancegroup"]]
    assert edits == [["edit", "instancegroup", "--name", NAME, "nodes-a", "--set", "spec.rollingUpdate.maxSurge=50%",
                      "--set", "spec.rollingUpdate.maxUnavailable=0"],
                     ["edit", "instancegroup", "--name", NAME, "nodes-b", "--set", "spec.rollingUpdate.maxSurge=0",
                      "--set", "spec.rollingUpdate.maxUnavailable=1"]]     # set once, unchanged afterwards
    assert [a for a in argvs if a[:2] == ["edit", "cluster"]] == [
        ["edit", "cluster", NAME, "--set", f"spec.kubernetesVersion={v}"] for v in ("1.29.8", "1.30.4", "1.31.1")]
    rolls_b = [a for a in argvs if a[:1] == ["rolling-update"] and "--yes" in a and "nodes-b" in a]
    assert len(rolls_b) == 3 and all(a[-4:] == ["--drain-timeout", "600s", "--node-interval", "60s"]
                                     for a in rolls_b)
    details = [r["detail"] for r in h.emu.cloud_state(NAME)["rolls"]]
    assert [d["nodes-a"]["concurrency"] for d in details if "nodes-a" in d] == [2, 2, 2]   # 50% of 4, surging
    assert [d["nodes-b"]["maxSurge"] for d in details if "nodes-b" in d] == [0, 0, 0]
    assert [d["nodes-b"]["interval"] for d in details if "nodes-b" in d] == ["1m0s"] * 3
    # one accepted upgrade per step, no duplicates: 3 version sets, 9 applies (control plane, a, b per version)
    assert [e["to"] for e in h.emu.upgrade_log(NAME, kind="set-version")] == ["1.29.8", "1.30.4", "1.31.1"]
    applies = [sorted(e["changes"]) for e in h.emu.upgrade_log(NAME, kind="apply")]
    assert applies == [[CONTROL_PLANE_IG], ["nodes-a"], ["nodes-b"]] * 3


def test_validation_failure_on_one_group_fails_the_step_with_kops_message(h):
    p = h.provider()
    assert _run(h, p, Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.29.2")).state is OperationState.SUCCEEDED
    assert _run(h, p, _budget_a("1.29.8", "1.29.2")).state is OperationState.SUCCEEDED
    h.emu.inject_validation_failure(NAME, "nodes-b", 'InstanceGroup "nodes-b" did not have enough nodes 2 vs 3')
    st = _run(h, p, _budget_b("1.29.8", "1.29.2"))
    assert st.state is OperationState.FAILED
    assert 'error validating cluster: cluster did not validate within a duration of "15m0s"' in st.message
    assert 'InstanceGroup "nodes-b" did not have enough nodes 2 vs 3' in st.message
    assert h.emu.instance_versions(NAME)["nodes-b"] == ["1.29.2"] * 3     # kops stopped before touching it
    # polling again (or from a restarted daemon) does not turn the failure into success
    c = _cluster(p)
    op = p.start(c, _budget_b("1.29.8", "1.29.2"))                       # a retry re-runs kops, which fails again
    for _ in range(5):
        again = p.poll(c, op)
        if again.state is not OperationState.RUNNING:
            break
        h.clock.advance(timedelta(hours=1))
    assert again.state is OperationState.FAILED and "did not validate" in again.message
    assert len(h.emu.upgrade_log(NAME, kind="apply")) == 3               # control plane, nodes-a, nodes-b once
