"""kops safety-gate checks through the kops CLI (emulated) and boto3 against the state store: cluster health
from ``kops validate cluster -o json``, nodes ready (state store + rolling-update dry run + validation), and
etcd backup freshness under ``<cluster>/backups/etcd/{main,events}/``; pass, fail, cloud error, timeout and
unreachable."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from fleet.provider import BuiltinCheck, CheckResult, OperationState
from providers.kops.adapter import KopsProvider
from providers.kops.emulator.kit import CONTROL_PLANE_IG
from providers.kops.emulator.reference import check_argv
from tests.providers import gate_kit as kit
from tests.providers.harness_kops import KopsHarness

NAME = "g.k8s.local"


@pytest.fixture
def h():
    yield from kit.started(KopsHarness(), lambda x: x.seed("g", "1.29.2", {"nodes-a": "1.29.2"}, ["1.29.2", "1.29.8"]))


_cluster = partial(kit.cluster, name=NAME)


def _cp(to="1.29.8"):
    return kit.cp_step(to, "1.29.2")


def _pool(to="1.29.8"):
    return kit.pool_step(to, "1.29.2", "nodes-a")


def _finish(h, p, c, op):
    return kit.finish(h, p, c, op, limit=40, advance=lambda st: h.clock.advance(st.poll_after or 60))


def test_supported_checks_and_no_rollback(h):
    p = h.provider()
    c = _cluster(p)
    assert p.supported_checks(c) == {"cluster-health", "nodes-ready", "etcd-backup"}
    assert KopsProvider.rollback_support(c, _cp()) is None
    assert p.run_check(c, BuiltinCheck.UPGRADE_BLOCKERS, _cp(), {}, h.clock.now()).result is CheckResult.ERROR


def test_cluster_health_from_kops_validate(h):
    p = h.provider()
    c = _cluster(p)
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, h.clock.now())
    assert out.result is CheckResult.PASS, out.reason
    assert out.evidence["nodes"] == 4
    h.emu.set_node_ready(NAME, "nodes-a", 1, False)
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, h.clock.now())
    assert out.result is CheckResult.FAIL
    assert 'of role "node" is not ready' in out.reason
    [failure] = out.evidence["failures"]
    assert failure["type"] == "Node" and failure["instanceGroup"] == "nodes-a"
    validates = [e["argv"] for e in h.emu.command_log() if e["argv"][:2] == ["validate", "cluster"]]
    assert validates and all("-o" in a for a in validates)
    assert [problem for a in validates for problem in check_argv(a)] == []   # only the real CLI's flags


def test_nodes_ready_after_the_steps(h):
    p = h.provider()
    c = _cluster(p)
    assert p.run_check(c, BuiltinCheck.NODES_READY, _cp(), {}, h.clock.now()).result is CheckResult.FAIL
    assert _finish(h, p, c, p.start(c, _cp())).state is OperationState.SUCCEEDED
    out = p.run_check(c, BuiltinCheck.NODES_READY, _cp(), {}, h.clock.now())
    assert out.result is CheckResult.PASS, out.reason
    assert out.evidence["instanceGroups"] == {CONTROL_PLANE_IG: "1.29.8"}
    c = _cluster(p)
    assert p.run_check(c, BuiltinCheck.NODES_READY, _pool(), {}, h.clock.now()).result is CheckResult.FAIL
    assert _finish(h, p, c, p.start(c, _pool())).state is OperationState.SUCCEEDED
    assert p.run_check(c, BuiltinCheck.NODES_READY, _pool(), {}, h.clock.now()).result is CheckResult.PASS
    h.emu.set_node_ready(NAME, "nodes-a", 0, False)
    out = p.run_check(c, BuiltinCheck.NODES_READY, _pool(), {}, h.clock.now())
    assert out.result is CheckResult.FAIL and "is not ready" in out.reason
    # a NotReady node of another instance group does not fail this one's check
    h.emu.set_node_ready(NAME, "nodes-a", 0, True)
    h.emu.set_node_ready(NAME, CONTROL_PLANE_IG, 0, False)
    assert p.run_check(c, BuiltinCheck.NODES_READY, _pool(), {}, h.clock.now()).result is CheckResult.PASS


def test_etcd_backup_freshness(h):
    p = h.provider()
    c = _cluster(p)
    now = h.clock.now()
    params = {"maxAgeSeconds": 3600}
    out = p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), params, now)
    assert out.result is CheckResult.FAIL and "no etcd-manager backup of etcd main" in out.reason
    h.emu.add_etcd_backup(NAME, now - timedelta(hours=3), "main", 1)
    h.emu.add_etcd_backup(NAME, now - timedelta(minutes=10), "main", 2)
    out = p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), params, now)
    assert out.result is CheckResult.FAIL and "etcd events" in out.reason     # events has none yet
    h.emu.add_etcd_backup(NAME, now - timedelta(minutes=20), "events", 1)
    out = p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), params, now)
    assert out.result is CheckResult.PASS, out.reason
    assert out.evidence["ageSeconds"] == {"main": 600, "events": 1200}
    out = p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), params, now + timedelta(hours=1))
    assert out.result is CheckResult.FAIL and "older than 3600s" in out.reason
    assert p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), {}, now).result is CheckResult.ERROR


@pytest.mark.parametrize("check", ["cluster-health", "nodes-ready", "etcd-backup"])
@pytest.mark.parametrize("fault,temporary", [*kit.FAULTS, ("kops-server-error", True), ("kops-forbidden", False)])
def test_cloud_errors_are_error_outcomes(h, check, fault, temporary):
    c = _cluster(h.provider())
    # the short timeout only where the fault is a timeout: under load a normal answer may take longer
    p = h.provider(requestTimeout=0.3 if fault == "timeout" else 30)
    h.emu.proxy.timeout_delay_s = 1.0
    h.inject(fault)
    out = p.run_check(c, check, _cp(), {"maxAgeSeconds": 60}, h.clock.now())
    if fault.startswith("kops-") and check == "etcd-backup":
        # the etcd-backup check runs no kops command: the fault waits for the next one
        assert out.result is CheckResult.FAIL
        return
    kit.assert_error_outcome(out, temporary)


@pytest.mark.parametrize("check", ["cluster-health", "nodes-ready", "etcd-backup"])
def test_unreachable_state_store_is_an_error_outcome(h, check):
    c = _cluster(h.provider())
    kit.assert_unreachable_is_error(h.provider(endpoint="http://127.0.0.1:9", requestTimeout=0.5), c, check, _cp(),
                                    params={"maxAgeSeconds": 60}, now=h.clock.now())


def test_a_hanging_kops_is_a_temporary_error_outcome(h):
    """kops itself hangs (its S3 reads stall): the command timeout ends it and the check is an ERROR."""
    env = {**h.settings()["env"], "FLEET_EMULATOR_HANG": "3"}
    p = h.provider(commandTimeout=1, env=env)
    c = _cluster(p)
    h.inject("kops-timeout")
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, h.clock.now())
    assert out.result is CheckResult.ERROR and out.evidence["temporary"] is True, out.reason
