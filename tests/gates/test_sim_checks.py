"""The simulated provider's gate checks and rollback, through the provider contract (and fleet.gates'
translation of its errors): scenario from the settings, pass / fail / cloud error, rollback support."""

from __future__ import annotations

from datetime import timedelta

from fleet.clock import FakeClock
from fleet.gates.checks import ProviderChecks, evaluate
from fleet.policy.gates import Gate
from fleet.provider import BuiltinCheck, CheckResult, Cluster, Component, Step
from providers.sim.adapter import SimProvider
from tests.execution.helpers import OFFERED, START

CID = "sim/lab/c0"
STEP = Step(Component.CONTROL_PLANE, "1.28.9", "1.28.3")


def provider(**scenario):
    clock = FakeClock(START)
    p = SimProvider("sim", {"gateScenarios": {CID: scenario}} if scenario else {}, clock=clock)
    p.world.add(Cluster(provider="sim", location="lab", name="c0", control_plane="1.28.3", available=OFFERED))
    return p, clock


def check(p, clock, gate, c=None):
    c = c or p.discover()[0]
    g = Gate.model_validate({"name": "g", **gate})
    checks = ProviderChecks("sim", p.supported_checks(c), lambda chk, params: p.run_check(c, chk, STEP, params,
                                                                                          clock.now()))
    return evaluate(g, checks, {})


def test_scenario_from_settings_drives_the_checks():
    p, clock = provider(blockers=["PodSecurityPolicy in use"], unhealthy="etcd member 2 down", backupAge="30h")
    out = check(p, clock, {"type": "upgrade-blockers"})
    assert out.result is CheckResult.FAIL and out.evidence["blockers"] == ["PodSecurityPolicy in use"]
    assert check(p, clock, {"type": "cluster-health"}).reason == "etcd member 2 down"
    out = check(p, clock, {"type": "etcd-backup", "maxAge": "24h"})
    assert out.result is CheckResult.FAIL and out.evidence["ageSeconds"] == 30 * 3600
    assert check(p, clock, {"type": "etcd-backup", "maxAge": "48h"}).result is CheckResult.PASS
    assert p.world.calls["run_check"] == 4


def test_defaults_pass_and_etcd_backup_is_unsupported():
    p, clock = provider()
    assert check(p, clock, {"type": "upgrade-blockers"}).result is CheckResult.PASS
    assert check(p, clock, {"type": "cluster-health"}).result is CheckResult.PASS
    out = check(p, clock, {"type": "etcd-backup", "maxAge": "1h"})
    assert (out.result, out.reason) == (CheckResult.ERROR, "provider sim does not evaluate etcd-backup")
    assert p.world.calls["run_check"] == 2       # the unsupported one never reached the provider


def test_a_cloud_error_is_an_error_result():
    p, clock = provider()
    c = p.discover()[0]
    p.world.next_faults.append("throttle")
    out = check(p, clock, {"type": "cluster-health"}, c)
    assert out.result is CheckResult.ERROR and out.evidence["error"] == "temporary" and "throttled" in out.reason
    p.world.next_faults.append("forbidden")
    out = check(p, clock, {"type": "upgrade-blockers"}, c)
    assert out.result is CheckResult.ERROR and out.evidence["error"] == "permanent"


def test_nodes_ready_after_the_step_and_rollback():
    p, clock = provider(nodesNotReadyFor="2m", rollback=True, rollbackWithin="1h")
    c = p.discover()[0]
    assert SimProvider.rollback_support(c, STEP).within_seconds == 3600
    op = p.start(c, STEP)
    assert check(p, clock, {"type": "nodes-ready"}).reason == "control plane runs 1.28.3, not 1.28.9"
    clock.advance(timedelta(minutes=21))
    assert check(p, clock, {"type": "nodes-ready"}).result is CheckResult.FAIL     # not Ready for 2 minutes
    clock.advance(timedelta(minutes=2))
    assert check(p, clock, {"type": "nodes-ready"}).result is CheckResult.PASS
    back = p.rollback(p.discover()[0], STEP, op)
    assert p.rollback(p.discover()[0], STEP, op) == back                           # idempotent
    clock.advance(timedelta(minutes=6))
    assert p.poll(c, back).state.value == "succeeded" and p.discover()[0].control_plane == "1.28.3"
    assert SimProvider.rollback_support(provider()[0].discover()[0], STEP) is None   # no rollback in the scenario
    assert BuiltinCheck.NODES_READY in p.supported_checks(c)
