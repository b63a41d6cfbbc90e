"""EKS upgrade rules (providers/eks/rules.py): pure, from Cluster.facts, loadable without the AWS SDK."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from fleet.provider import Cluster, NodePool, PoolStrategy, rules_for
from providers.eks.rules import Facts, compute_rules


def _cluster(**facts) -> Cluster:
    return Cluster("eks", "us-east-1", "c", "1.29", (NodePool("ng", "1.29.3-20240312"), NodePool("gpu", "1.29")),
                   provider_type="eks", facts=facts)


def test_plain_cluster_rules():
    r = compute_rules(_cluster())
    assert r.pools_match_before_cp_minor is True            # UpdateClusterVersion API reference
    assert r.pools_follow_control_plane is False
    assert r.pool_skew is None and r.pool_minor_step is None
    assert r.blocked_pools == {}
    assert r.strategies == frozenset({PoolStrategy.SURGE})  # rolling replacement, no blue-green
    assert r.knobs == frozenset({"maxUnavailable"})         # NodegroupUpdateConfig: no maxSurge


def test_custom_ami_node_groups_are_blocked_with_what_to_do():
    r = compute_rules(_cluster(customAmiNodegroups=["gpu"]))
    assert set(r.blocked_pools) == {"gpu"}
    reason = r.blocked_pools["gpu"]
    assert "custom AMI" in reason and "launch template" in reason and "UpdateNodegroupVersion" in reason


def test_facts_are_strict_and_camel_case():
    assert Facts.model_validate({"customAmiNodegroups": ["a"]}).custom_ami_nodegroups == ["a"]
    with pytest.raises(ValidationError, match="customAmiNodeGroups"):
        Facts.model_validate({"customAmiNodeGroups": ["a"]})          # misspelt: refused, not ignored
    with pytest.raises(ValidationError):
        Facts.model_validate({"customAmiNodegroups": "a"})
    with pytest.raises(ValidationError):
        compute_rules(_cluster(autopilot=True))                      # another cloud's fact


def test_provider_class_exposes_the_rules():
    from providers.eks.adapter import EksProvider

    assert EksProvider.facts_model is Facts
    assert rules_for(EksProvider, _cluster(customAmiNodegroups=["gpu"])).blocked_pools.keys() == {"gpu"}


def test_rules_load_without_the_sdk():
    code = ("import sys; import providers.eks.rules; "
            "bad = [m for m in ('boto3', 'botocore', 'moto') if m in sys.modules]; assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
