"""Budget translation for EKS node groups (providers/eks/budget.py) and check_step warnings."""

from __future__ import annotations

import pytest

from fleet.provider import BlueGreen, Cluster, Component, Step
from providers.eks.adapter import EksProvider
from providers.eks.budget import compute_update_config, config_matches


def _pool(**kw) -> Step:
    return Step(Component.NODE_POOL, to="1.30.3-20240312", from_="1.29.3-20240312", pool="ng", **kw)


# (step knobs, expected updateConfig, expected warning fragments)
TABLE = [
    ({}, None, []),
    ({"max_unavailable": 2}, {"maxUnavailable": 2}, []),
    ({"max_unavailable": 1, "max_surge": 0}, {"maxUnavailable": 1, "updateStrategy": "MINIMAL"}, []),
    ({"max_unavailable": 0, "max_surge": 1}, {"maxUnavailable": 1, "updateStrategy": "DEFAULT"},
     ["maxUnavailable=0", "maxSurge=1"]),
    ({"max_unavailable": 250}, {"maxUnavailable": 100}, ["caps maxUnavailable"]),
    ({"max_unavailable": 3, "max_unavailable_spec": "25%"}, {"maxUnavailablePercentage": 25}, []),
    ({"max_unavailable": 1, "max_unavailable_spec": "12.5%"}, {"maxUnavailablePercentage": 13}, ["13%"]),
    ({"max_unavailable": 0, "max_unavailable_spec": "0%"}, {"maxUnavailable": 1}, ["at least 1"]),
    ({"max_unavailable": 2, "max_unavailable_spec": "2"}, {"maxUnavailable": 2}, []),
    ({"max_surge": 3}, {"updateStrategy": "DEFAULT"}, ["maxSurge=3"]),
    ({"strategy": "blue-green", "blue_green": BlueGreen(batch_percentage=0.25)}, None, ["blue-green"]),
    ({"max_unavailable": 1, "drain_timeout_seconds": 1800}, {"maxUnavailable": 1}, ["15 minutes"]),
    ({"max_unavailable": 1, "drain_timeout_seconds": 900}, {"maxUnavailable": 1}, []),
    ({"node_soak_seconds": 60}, None, ["soak"]),
]


@pytest.mark.parametrize("knobs,expected,warnings", TABLE)
def test_budget_translation(knobs, expected, warnings):
    cfg, warn = compute_update_config(_pool(**knobs))
    assert cfg == expected
    assert len(warn) == len(warnings)
    for fragment, text in zip(warnings, warn, strict=True):
        assert fragment in text


def test_control_plane_steps_have_no_budget():
    assert compute_update_config(Step(Component.CONTROL_PLANE, to="1.30", from_="1.29", max_surge=3)) == (None, [])
    cfg, warn = compute_update_config(Step(Component.CONTROL_PLANE, to="1.30.4", from_="1.29"))
    assert cfg is None and "minor only" in warn[0]


@pytest.mark.parametrize("current,desired,same", [
    ({"maxUnavailable": 1}, {"maxUnavailable": 1}, True),
    ({"maxUnavailable": 1}, {"maxUnavailable": 1, "updateStrategy": "DEFAULT"}, True),   # DEFAULT is implied
    ({"maxUnavailable": 1}, {"maxUnavailable": 1, "updateStrategy": "MINIMAL"}, False),
    ({"maxUnavailable": 1}, {"maxUnavailable": 2}, False),
    ({"maxUnavailablePercentage": 25}, {"maxUnavailable": 1}, False),
    ({"maxUnavailablePercentage": 25}, {"maxUnavailablePercentage": 25}, True),
    (None, {"maxUnavailable": 1}, False),
    ({"maxUnavailable": 3, "updateStrategy": "MINIMAL"}, {"updateStrategy": "MINIMAL"}, True),
])
def test_config_matches(current, desired, same):
    assert config_matches(current, desired) is same


def test_check_step_returns_the_warnings():
    p = EksProvider("eks", {"regions": ["us-east-1"]})
    c = Cluster(provider="eks", location="us-east-1", name="c", control_plane="1.29")
    assert p.check_step(c, _pool(max_unavailable=2)) == []
    warn = p.check_step(c, _pool(max_surge=2, max_unavailable=0, strategy="blue-green"))
    assert len(warn) == 3
