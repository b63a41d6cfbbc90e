"""Budget translation into OKE's node pool cycling knobs, and check_step's warnings (table tests)."""

from __future__ import annotations

import pytest

from fleet.provider import BlueGreen, Cluster, Component, NodePool, Step
from providers.oke.adapter import OkeProvider
from providers.oke.budget import compute_cycling, grace_duration


def pool_step(**kw) -> Step:
    return Step(Component.NODE_POOL, to="v1.31.1", from_="v1.30.1", pool="p", **kw)


# (step kwargs, pool size) -> (maximumSurge, maximumUnavailable, evictionGraceDuration, warning fragments)
TABLE = [
    ({}, 3, "1", "0", None, []),                                                       # OKE defaults
    ({"max_surge": 2, "max_unavailable": 1}, 5, "2", "1", None, []),
    ({"max_surge": 0, "max_unavailable": 1}, 5, "0", "1", None, []),
    ({"max_surge": 1, "max_unavailable": 0, "max_surge_spec": "25%", "max_unavailable_spec": "0"}, 4,
     "25%", "0", None, []),                                                            # percent passed natively
    ({"max_surge": 1, "max_unavailable": 1, "max_surge_spec": "10%", "max_unavailable_spec": "10%"}, 20,
     "10%", "10%", None, []),
    ({"max_surge": 1, "max_surge_spec": "12.5%"}, 8, "13%", "0", None, ["whole percentages"]),
    ({"max_unavailable": 1, "max_unavailable_spec": "33.3%"}, 9, "1", "33%", None, ["whole percentages"]),
    ({"max_surge": 5, "max_surge_spec": "150%"}, 3, "100%", "0", None, ["caps maxSurge at 100%"]),
    ({"max_surge": 10, "max_unavailable": 0}, 3, "3", "0", None, ["node pool size (3)"]),
    ({"max_surge": 1, "max_unavailable": 9}, 3, "1", "3", None, ["caps maxUnavailable"]),
    ({"max_surge": 0, "max_unavailable": 0}, 3, "1", "0", None, ["refuses maxSurge 0 with maxUnavailable 0"]),
    ({"max_surge": 0, "max_unavailable": 0, "max_surge_spec": "0%", "max_unavailable_spec": "0%"}, 3,
     "1", "0%", None, ["maxSurge 0 with maxUnavailable 0"]),
    ({"max_surge": 10}, None, "10", "0", None, []),                                    # size unknown: no cap
    ({"drain_timeout_seconds": 1800}, 3, "1", "0", "PT30M", []),
    ({"drain_timeout_seconds": 0}, 3, "1", "0", "PT0M", []),
    ({"drain_timeout_seconds": 90}, 3, "1", "0", "PT2M", ["whole minutes"]),
    ({"drain_timeout_seconds": 7200}, 3, "1", "0", "PT60M", ["at most 60 minutes"]),
    ({"strategy": "blue-green", "blue_green": BlueGreen(batch_percentage=0.2, batch_soak_seconds=600)}, 3,
     "1", "0", None, ["no blue-green"]),
    ({"strategy": "blue-green"}, 3, "1", "0", None, ["no blue-green"]),
    ({"node_soak_seconds": 300}, 3, "1", "0", None, ["cannot soak between nodes"]),
]


@pytest.mark.parametrize("kw,size,surge,unavailable,grace,warns", TABLE)
def test_budget_translation(kw, size, surge, unavailable, grace, warns):
    plan = compute_cycling(pool_step(**kw), size)
    assert (plan.maximum_surge, plan.maximum_unavailable, plan.eviction_grace) == (surge, unavailable, grace)
    assert plan.cycle is True
    joined = " | ".join(plan.warnings)
    for frag in warns:
        assert frag in joined
    if not warns:
        assert plan.warnings == []


def test_empty_pool_is_not_cycled():
    plan = compute_cycling(pool_step(max_surge=1), 0)
    assert plan.cycle is False and plan.maximum_surge is None


@pytest.mark.parametrize("seconds,expected", [(0, "PT0M"), (60, "PT1M"), (61, "PT2M"), (3600, "PT60M"),
                                              (3601, "PT60M")])
def test_grace_duration(seconds, expected):
    assert grace_duration(seconds, []) == expected


def test_check_step_warns_through_the_adapter():
    p = OkeProvider("oke", {"compartments": ["ocid1.compartment.oc1..x"], "regions": ["us-ashburn-1"]})
    c = Cluster("oke", "us-ashburn-1", "c", "v1.31.1", (NodePool("p", "v1.30.1", nodes=2),), provider_type="oke")
    assert p.check_step(c, Step(Component.CONTROL_PLANE, to="v1.31.1", from_="v1.30.1")) == []
    assert p.check_step(c, pool_step(max_surge=1, max_unavailable=0)) == []
    warns = p.check_step(c, pool_step(max_surge=5, strategy="blue-green"))
    assert any("blue-green" in w for w in warns) and any("node pool size (2)" in w for w in warns)
