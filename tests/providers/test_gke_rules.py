"""providers.gke.rules: the Facts model and compute_rules (pure, no SDK)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fleet.provider import Cluster, NodePool, PoolStrategy
from providers.gke.rules import Facts, compute_rules


def _cluster(**facts) -> Cluster:
    return Cluster(provider="gke", location="europe-west1", name="c", control_plane="1.30.2-gke.1",
                   node_pools=(NodePool("np", "1.30.2-gke.1", nodes=3),), facts=facts)


@pytest.mark.parametrize("facts,follow,strategies,knobs", [
    ({}, False, {PoolStrategy.SURGE, PoolStrategy.BLUE_GREEN}, {"maxSurge", "maxUnavailable", "drainTimeout",
                                                                "blueGreen"}),
    ({"autopilot": False}, False, {PoolStrategy.SURGE, PoolStrategy.BLUE_GREEN},
     {"maxSurge", "maxUnavailable", "drainTimeout", "blueGreen"}),
    ({"autopilot": True}, True, {PoolStrategy.SURGE}, set()),
], ids=["no-facts", "standard", "autopilot"])
def test_compute_rules(facts, follow, strategies, knobs):
    rules = compute_rules(_cluster(**facts))
    assert rules.pools_follow_control_plane is follow
    assert set(rules.strategies) == strategies and set(rules.knobs) == knobs
    assert rules.pool_skew is None and rules.blocked_pools == {} and not rules.pools_match_before_cp_minor


def test_facts_are_strict():
    assert Facts.model_validate({"autopilot": True}).autopilot
    with pytest.raises(ValidationError, match="autoPilot"):
        Facts.model_validate({"autoPilot": True})
    with pytest.raises(ValidationError):
        Facts.model_validate({"autopilot": "sometimes"})
    assert "autopilot" in Facts.model_json_schema()["properties"]


def test_rules_module_does_not_import_the_sdk():
    import subprocess
    import sys
    code = ("import sys; import providers.gke.rules; "
            "assert not [m for m in sys.modules if m.startswith('google.cloud')], 'SDK imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
