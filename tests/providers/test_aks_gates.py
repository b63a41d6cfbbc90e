"""AKS safety-gate checks through azure-mgmt-containerservice against the ARM emulator: the deprecated-API
upgrade block (enforced at the PUT; overridden with upgradeSettings.overrideSettings), cluster health, nodes
ready; pass, fail, cloud error, timeout and unreachable."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from fleet.errors import PermanentProviderError
from fleet.provider import BuiltinCheck, CheckResult, OperationState
from providers.aks.adapter import AksProvider
from tests.providers import gate_kit as kit
from tests.providers.harness_aks import RESOURCE_GROUP, SUBSCRIPTION, AksHarness

V = ["1.29.9", "1.30.5", "1.30.7"]
API = "flowcontrol.apiserver.k8s.io.prioritylevelconfigurations.v1beta3"


@pytest.fixture
def h():
    yield from kit.started(AksHarness(), lambda x: x.seed("g", V[0], {"system": V[0], "user": V[0]}, V))


_cluster = partial(kit.cluster, name="g")


def _cp(to="1.30.5", force_until=None):
    return kit.cp_step(to, V[0], force_until=force_until)


def _pool(to="1.30.5"):
    return kit.pool_step(to, V[0], "user")


_finish = partial(kit.finish, limit=30)


def _usage(h, **kw):
    h.emulator.record_deprecated_api_usage("g", API, "1.30", resource_group=RESOURCE_GROUP,
                                           subscription=SUBSCRIPTION, **kw)


def test_supported_checks_and_no_rollback(h):
    p = h.provider()
    c = _cluster(p)
    assert p.supported_checks(c) == {"upgrade-blockers", "cluster-health", "nodes-ready"}
    assert AksProvider.rollback_support(c, _pool()) is None and AksProvider.rollback_support(c, _cp()) is None
    assert p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), {}, kit.NOW).result is CheckResult.ERROR


def test_blockers_check_says_the_block_is_enforced_at_the_put(h):
    p = h.provider()
    c = _cluster(p)
    out = p.run_check(c, BuiltinCheck.UPGRADE_BLOCKERS, _cp(), {}, kit.NOW)
    assert out.result is CheckResult.PASS
    assert out.evidence["preflight"] is False and out.evidence["blockApplies"] is True
    out = p.run_check(c, BuiltinCheck.UPGRADE_BLOCKERS, _pool(), {}, kit.NOW)
    assert out.result is CheckResult.PASS and out.evidence["blockApplies"] is False


def test_deprecated_api_usage_blocks_the_minor_upgrade_until_overridden(h):
    _usage(h)
    p = h.provider()
    c = _cluster(p)
    with pytest.raises(PermanentProviderError, match="UpgradeBlockedOnDeprecatedAPIUsage") as info:
        p.start(c, _cp())
    assert "overrideSettings" in str(info.value) and info.value.code.endswith("UpgradeBlockedOnDeprecatedAPIUsage")
    expired = (h.clock.now() - timedelta(minutes=5)).isoformat()
    with pytest.raises(PermanentProviderError, match="UpgradeBlockedOnDeprecatedAPIUsage"):
        p.start(c, _cp(force_until=expired))
    assert h.upgrade_calls(c.id) == 0
    until = h.clock.now() + timedelta(hours=2)
    op = p.start(c, _cp(force_until=until.isoformat()))
    sent = h.emulator.received[-1][2]["properties"]["upgradeSettings"]["overrideSettings"]
    assert sent["forceUpgrade"] is True and sent["until"].startswith(until.strftime("%Y-%m-%dT%H:%M"))
    assert _finish(h, p, c, op).state is OperationState.SUCCEEDED
    # the override AKS kept is reported by the check
    out = p.run_check(_cluster(p), BuiltinCheck.UPGRADE_BLOCKERS, _cp("1.31.1"), {}, kit.NOW)
    assert out.evidence["overrideSettings"]["forceUpgrade"] is True


def test_usage_older_than_twelve_hours_does_not_block(h):
    _usage(h, seen_at=h.clock.now() - timedelta(hours=13))     # outside the 12-hour window
    p = h.provider()
    c = _cluster(p)
    op = p.start(c, _cp())
    assert _finish(h, p, c, op).state is OperationState.SUCCEEDED


def test_cluster_health_pass_and_fail(h):
    p = h.provider()
    c = _cluster(p)
    assert p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, kit.NOW).result is CheckResult.PASS
    h.emulator.set_state("g", "user", provisioning_state="Failed", resource_group=RESOURCE_GROUP,
                         subscription=SUBSCRIPTION)
    h.emulator.set_state("g", power_state="Stopped", resource_group=RESOURCE_GROUP, subscription=SUBSCRIPTION)
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, kit.NOW)
    assert out.result is CheckResult.FAIL
    assert "agent pool user provisioningState Failed" in out.reason and "cluster powerState Stopped" in out.reason


def test_nodes_ready_follows_the_pool(h):
    p = h.provider()
    c = _cluster(p)
    op = p.start(c, _cp())
    assert p.run_check(c, BuiltinCheck.NODES_READY, _cp(), {}, kit.NOW).result is CheckResult.FAIL
    _finish(h, p, c, op)
    assert p.run_check(c, BuiltinCheck.NODES_READY, _cp(), {}, kit.NOW).result is CheckResult.PASS
    c = _cluster(p)
    assert p.run_check(c, BuiltinCheck.NODES_READY, _pool(), {}, kit.NOW).result is CheckResult.FAIL
    op = p.start(c, _pool())
    _finish(h, p, c, op)
    out = p.run_check(c, BuiltinCheck.NODES_READY, _pool(), {}, kit.NOW)
    assert out.result is CheckResult.PASS, out.reason
    assert out.evidence["currentOrchestratorVersion"] == "1.30.5"


@pytest.mark.parametrize("check", ["upgrade-blockers", "cluster-health", "nodes-ready"])
@pytest.mark.parametrize("fault,temporary", kit.FAULTS)
def test_cloud_errors_are_error_outcomes(h, check, fault, temporary):
    c = _cluster(h.provider())
    p = h.provider(timeoutSeconds=0.3 if fault == "timeout" else 30)     # short only for the timeout fault
    kit.assert_fault_is_error(h, p, c, check, _pool(), fault, temporary, delay_s=1.0)


@pytest.mark.parametrize("check", ["upgrade-blockers", "cluster-health", "nodes-ready"])
def test_unreachable_is_an_error_outcome(h, check):
    c = _cluster(h.provider())
    kit.assert_unreachable_is_error(h.provider(endpoint="http://127.0.0.1:9"), c, check, _pool())
