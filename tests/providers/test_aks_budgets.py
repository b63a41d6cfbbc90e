"""Pure parts of the AKS adapter: budget translation + check_step warnings, settings, auto-upgrade flagging."""

from __future__ import annotations

import azure.mgmt.containerservice  # noqa: F401  (the SDK must be installed: pip install -e ".[dev]")
import pytest
from azure.mgmt.containerservice import models as m

from fleet.provider import BlueGreen, Cluster, Component, NodePool, Step
from providers.aks.adapter import AksProvider, parse_settings
from providers.aks.budget import compute_upgrade_settings

CLUSTER = Cluster(provider="aks", location="westeurope", name="c", control_plane="1.30.4",
                  node_pools=(NodePool("sys", "1.29.2", 3), NodePool("user", "1.29.2", 4)),
                  extra={"poolModes": {"sys": "System", "user": "User"}})


def pool_step(pool: str = "user", **kw) -> Step:
    return Step(Component.NODE_POOL, to="1.30.4", from_="1.29.2", pool=pool, **kw)


# (id, step, expected upgradeSettings, expected warning fragments)
CASES = [
    ("ints", pool_step(max_surge=2, max_unavailable=1, max_surge_spec="2", max_unavailable_spec="1"),
     {"maxSurge": "2", "maxUnavailable": "1"}, []),
    ("surge-percent-literal", pool_step(max_surge=2, max_unavailable=0, max_surge_spec="33%", max_unavailable_spec="0"),
     {"maxSurge": "33%", "maxUnavailable": "0"}, []),
    ("unavailable-percent-same-rounding", pool_step(max_surge=0, max_unavailable=2, max_surge_spec="0",
                                                    max_unavailable_spec="50%"),
     {"maxSurge": "0", "maxUnavailable": "50%"}, []),
    ("unavailable-percent-rounds-differently", pool_step(max_surge=1, max_unavailable=0, max_surge_spec="1",
                                                         max_unavailable_spec="10%"),
     {"maxSurge": "1", "maxUnavailable": "0"}, ["rounds percentages up (1 of 4 nodes) but fleet rounds down (0); sending maxUnavailable=0"]),
    ("resolved-only", pool_step(max_surge=1, max_unavailable=0), {"maxSurge": "1", "maxUnavailable": "0"}, []),
    ("nothing-given", pool_step(), {}, []),
    ("both-zero", pool_step(max_surge=0, max_unavailable=0), {"maxSurge": "1", "maxUnavailable": "0"},
     ["maxSurge > 0 when maxUnavailable is 0"]),
    ("blue-green", pool_step(max_surge=1, max_unavailable=0, strategy="blue-green",
                             blue_green=BlueGreen(batch_percentage=0.25, batch_soak_seconds=600)),
     {"maxSurge": "1", "maxUnavailable": "0"}, ["AKS has no blue-green node pool upgrade"]),
    ("drain-whole-minutes", pool_step(drain_timeout_seconds=1800, node_soak_seconds=300),
     {"drainTimeoutInMinutes": 30, "nodeSoakDurationInMinutes": 5}, []),
    ("drain-rounds-up", pool_step(drain_timeout_seconds=390), {"drainTimeoutInMinutes": 7}, ["rounded up to 7m"]),
    # the spec's drainTimeoutInMinutes is 1..1440 (the adapter used to clamp to >= 5)
    ("drain-one-minute", pool_step(drain_timeout_seconds=60), {"drainTimeoutInMinutes": 1}, []),
    ("drain-too-long", pool_step(drain_timeout_seconds=2 * 86400), {"drainTimeoutInMinutes": 1440},
     ["clamped to 1440m"]),
    ("soak-too-long", pool_step(node_soak_seconds=3600), {"nodeSoakDurationInMinutes": 30}, ["clamped to 30m"]),
    ("system-pool-unavailable", pool_step("sys", max_surge=0, max_unavailable=1),
     {"maxSurge": "0", "maxUnavailable": "1"}, ["System pool"]),
    ("unknown-pool-keeps-percent", pool_step("ghost", max_surge=1, max_surge_spec="25%", max_unavailable=0,
                                             max_unavailable_spec="25%"),
     {"maxSurge": "25%", "maxUnavailable": "25%"}, []),
]


@pytest.mark.parametrize("step,expected,warns", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_budget_translation_and_warnings(step, expected, warns):
    settings, warnings = compute_upgrade_settings(CLUSTER, step)
    assert settings == expected
    assert len(warnings) == len(warns), warnings
    for fragment in warns:
        assert any(fragment in w for w in warnings), (fragment, warnings)
    m.AgentPoolUpgradeSettings(settings)   # the SDK model takes the dict as is


def test_check_step_is_the_warnings_and_control_plane_warns_on_auto_upgrade():
    p = AksProvider("aks", {"subscriptions": ["s"], "endpoint": "http://127.0.0.1:1"})
    cp = Step(Component.CONTROL_PLANE, to="1.31.1", from_="1.30.4", max_surge=3)
    assert p.check_step(CLUSTER, cp) == []
    auto = Cluster(provider="aks", location="l", name="a", control_plane="1.30.4", auto_upgrade="upgrade channel stable")
    assert "auto-upgrade" in p.check_step(auto, cp)[0]
    step = pool_step(strategy="blue-green", max_surge=1, max_unavailable=0)
    assert p.check_step(CLUSTER, step) == compute_upgrade_settings(CLUSTER, step)[1]


@pytest.mark.parametrize("settings,fragment", [
    ({"subscriptions": ["s"], "resourcegroups": ["x"]}, "resourcegroups"),
    ({"subscriptions": ["s"], "endpointUrl": "http://x"}, "endpointUrl"),
    ({}, "subscriptions"),
    ({"subscriptions": []}, "subscriptions"),
    ({"subscriptions": ["s"], "endpoint": "ftp://x"}, "endpoint"),
    ({"subscriptions": ["s"], "cloud": "MARS"}, "cloud"),
    ({"subscriptions": ["s"], "timeoutSeconds": 0}, "timeoutSeconds"),
])
def test_bad_settings_name_the_key(settings, fragment):
    with pytest.raises(ValueError, match=fragment):
        AksProvider("aks", settings)


def test_settings_accept_every_documented_key():
    s = parse_settings({"subscriptions": ["a", "b"], "resourceGroups": ["rg"], "endpoint": "https://arm.example/",
                        "cloud": "AZURE_CHINA_CLOUD", "apiVersion": "2024-05-01", "includePreview": True,
                        "timeoutSeconds": 10, "pollIntervalSeconds": 15})
    assert s.endpoint == "https://arm.example" and s.resource_groups == ["rg"] and s.api_version == "2024-05-01"


def _mc(channel: str | None) -> m.ManagedCluster:
    mc = m.ManagedCluster(
        location="westeurope", tags={"env": "prod"},
        properties=m.ManagedClusterProperties(
            kubernetes_version="1.30.4", current_kubernetes_version="1.30.4", provisioning_state="Succeeded",
            agent_pool_profiles=[m.ManagedClusterAgentPoolProfile(name="sys", count=3, mode="System",
                                                                  orchestrator_version="1.30.4",
                                                                  current_orchestrator_version="1.30.4")],
            auto_upgrade_profile=None if channel is None else m.ManagedClusterAutoUpgradeProfile(
                upgrade_channel=channel)))
    mc["id"] = "/subscriptions/s1/resourcegroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1"
    mc["name"] = "c1"
    return mc


@pytest.mark.parametrize("channel,flag", [
    (None, None), ("none", None), ("patch", "upgrade channel patch"), ("stable", "upgrade channel stable"),
    ("rapid", "upgrade channel rapid"), ("node-image", "upgrade channel node-image"),
])
def test_auto_upgrade_channel_is_flagged(channel, flag):
    p = AksProvider("aks", {"subscriptions": ["s1"], "endpoint": "http://127.0.0.1:1"})
    c = p.compute_cluster(_mc(channel))
    assert c.auto_upgrade == flag
    assert (c.id, c.provider_type, c.labels) == ("aks/westeurope/c1", "aks", {"env": "prod"})
    assert c.extra["resourceGroup"] == "rg1" and c.extra["poolModes"] == {"sys": "System"}


def test_missing_sdk_names_the_extra(monkeypatch):
    from fleet.errors import MissingExtraError
    monkeypatch.setitem(__import__("sys").modules, "azure.mgmt.containerservice", None)
    with pytest.raises(MissingExtraError, match=r"fleet-upgrader\[aks\]"):
        AksProvider("aks", {"subscriptions": ["s"]})


def test_https_endpoint_uses_the_configured_credential_and_bearer_policy():
    class Cred:
        def get_token(self, *scopes: str, **kw: object) -> object:
            raise AssertionError("no request is made in this test")

    cred = Cred()
    p = AksProvider("aks", {"subscriptions": ["s1", "s2"], "endpoint": "https://arm.example"}, credential=cred)
    c1, c2 = p._client("s1"), p._client("s2")
    assert c1 is not c2 and c1._config.credential is cred and c2._config.credential is cred
    assert type(c1._config.authentication_policy).__name__ == "ARMChallengeAuthenticationPolicy"
