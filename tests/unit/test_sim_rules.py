"""The simulated cloud refuses what its rules forbid (providers/sim/rules.py), so a forecast or a sim run
halts where the real cloud would; a simulated cluster of another type takes that type's rules."""

from __future__ import annotations

import pytest

from fleet.clock import FakeClock
from fleet.errors import PermanentProviderError
from fleet.provider import Cluster, Component, NodePool, Step, UpgradeRules
from providers.sim.adapter import SimProvider
from providers.sim.rules import SIM_RULES, compute_refusal, compute_rules
from providers.sim.world import SimWorld

OFFERED = ("1.28.9", "1.29.8", "1.30.4", "1.31.2")


def world_with(**facts) -> tuple[SimProvider, Cluster]:
    clock = FakeClock()
    w = SimWorld(clock)
    c = Cluster(provider="sim", location="lab", name="a", control_plane="1.29.8",
                node_pools=(NodePool("np", "1.28.9", 2),), available=OFFERED, facts=facts)
    w.add(c)
    p = SimProvider("sim", clock=clock, world=w)
    return p, p.discover()[0]


CP = Step(Component.CONTROL_PLANE, "1.30.4", "1.29.8")


@pytest.mark.parametrize("facts,step,refusal", [
    ({"poolsMatchBeforeCpMinor": True}, CP, "node pools np must be updated to match"),
    ({"poolSkew": 1}, CP, "node pools np would be more than 1 minors behind 1.30.4"),
    ({"maxMinor": "1.29", "maxMinorReason": "upgrading kops is required"}, CP, "upgrading kops is required"),
    ({"allowedVersions": ["1.31.2"]}, CP, "not among the cluster's allowed versions"),
    ({"poolsFollowControlPlane": True}, Step(Component.NODE_POOL, "1.29.8", "1.28.9", "np"), "follow the control"),
    ({"blockedPools": {"np": "bare metal"}}, Step(Component.NODE_POOL, "1.29.8", "1.28.9", "np"), "np: bare metal"),
    ({"knobs": ["maxUnavailable"]}, Step(Component.NODE_POOL, "1.29.8", "1.28.9", "np", max_surge=1),
     "unknown parameters: maxSurge"),
    ({"strategies": ["surge"]}, Step(Component.NODE_POOL, "1.29.8", "1.28.9", "np", strategy="blue-green"),
     "strategy blue-green is not available"),
])
def test_the_sim_refuses_what_its_rules_forbid(facts, step, refusal):
    p, c = world_with(**facts)
    with pytest.raises(PermanentProviderError, match=refusal):
        p.start(c, step)
    assert p.world.upgrade_log == []
    # without the facts, the same step is accepted
    p, c = world_with()
    p.start(c, step)
    assert len(p.world.upgrade_log) == 1


def test_pool_minor_step():
    p, c = world_with(poolMinorStep=1)
    c2 = Cluster(provider="sim", location="lab", name="a", control_plane="1.30.4",
                 node_pools=(NodePool("np", "1.28.9", 2),), available=OFFERED)
    assert compute_refusal(c2, Step(Component.NODE_POOL, "1.30.4", "1.28.9", "np"), compute_rules(c)) == \
        "node pool np may move at most 1 minor(s) per upgrade"


def test_rules_of_a_sim_cluster_and_of_an_unknown_emulated_type():
    assert compute_rules(Cluster("sim", "l", "a", "1.30.1")) == SIM_RULES
    assert compute_rules(Cluster("sim", "l", "a", "1.30.1", facts={"poolSkew": 2})).pool_skew == 2
    assert compute_rules(Cluster("sim", "l", "a", "1.30.1", provider_type="nosuch")) == UpgradeRules()
