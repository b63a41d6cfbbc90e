"""OkeProvider against the emulator: settings, discovery over scopes, idempotency, and a full fleet-style run."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from fleet.errors import PermanentProviderError, TemporaryProviderError
from fleet.provider import Cluster, Component, OperationState, Step
from providers.oke.adapter import TARGET_TAG, OkeProvider
from providers.oke.emulator.server import DEFAULT_COMPARTMENT as COMP
from tests.providers.harness_oke import OkeHarness, oke_auth, settings_for

VERSIONS = ["v1.30.1", "v1.30.10", "v1.31.1", "v1.31.10", "v1.32.1"]
COMP_B = "ocid1.compartment.oc1..teamb"
FRA = "eu-frankfurt-1"


@pytest.fixture
def h():
    harness = OkeHarness()
    harness.start()
    yield harness
    harness.stop()


def _find(p: OkeProvider, name: str, region: str = "us-ashburn-1") -> Cluster:
    return next(c for c in p.discover() if c.name == name and c.location == region)


def _run(h: OkeHarness, p: OkeProvider, c: Cluster, step: Step) -> None:
    op = p.start(c, step)
    for _ in range(10):
        st = p.poll(c, op)
        if st.state is not OperationState.RUNNING:
            assert st.state is OperationState.SUCCEEDED, st.message
            return
        assert st.poll_after and st.poll_after > 0
        h.finish_operations()
    raise AssertionError("never finished")


# ---- settings -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("settings,named", [
    ({"compartments": ["c"], "bogus": 1}, "bogus"),
    ({}, "compartments"),
    ({"compartments": []}, "compartments"),
    ({"compartments": ["c"], "regions": ["a", "b"], "endpoint": "http://127.0.0.1:1"}, "{region}"),
    ({"compartments": ["c"], "endpoint": "127.0.0.1:1"}, "http"),
    ({"compartments": ["c"], "auth": {"tenancy": "t", "user": "u", "fingerprint": "f"}}, "privateKey"),
    ({"compartments": ["c"], "auth": {"tenancy": "t", "user": "u", "fingerprint": "f", "privateKey": "k",
                                      "keyPath": "x"}}, "auth.keyPath"),
    ({"compartments": ["c"], "timeoutSeconds": 0}, "timeoutSeconds"),
])
def test_settings_are_strict(settings, named):
    with pytest.raises(ValueError, match="invalid oke settings") as info:
        OkeProvider("oke", settings)
    assert named in str(info.value)


def test_settings_never_show_the_private_key():
    p = OkeProvider("oke", {"compartments": ["c"], "auth": {**oke_auth()}})
    assert oke_auth()["privateKey"][40:80] not in repr(p.settings) + str(p.settings.model_dump())


def test_oci_config_file_is_the_default_auth(h, tmp_path):
    (tmp_path / "key.pem").write_text(oke_auth()["privateKey"])
    a = oke_auth()
    (tmp_path / "config").write_text(f"[DEFAULT]\nuser={a['user']}\nfingerprint={a['fingerprint']}\n"
                                     f"tenancy={a['tenancy']}\nregion=us-ashburn-1\nkey_file=key.pem\n"
                                     f"[OTHER]\nuser={a['user']}\nfingerprint={a['fingerprint']}\n"
                                     f"tenancy={a['tenancy']}\nregion={FRA}\nkey_file={tmp_path}/key.pem\n")
    h.emulator.add_cluster("from-config", "v1.30.1", {"p": "v1.30.1"}, available=VERSIONS, region=FRA)
    settings = {"compartments": [COMP], "endpoint": h.emulator.endpoint, "configFile": "config", "profile": "OTHER"}
    p = OkeProvider("oke", settings, config_dir=str(tmp_path), clock=h.clock)
    assert p.regions() == [FRA]
    assert [c.id for c in p.discover()] == [f"oke/{FRA}/from-config"]
    missing = OkeProvider("oke", {**settings, "configFile": "nope"}, config_dir=str(tmp_path))
    with pytest.raises(PermanentProviderError, match="ConfigFileNotFound"):
        missing.discover()


# ---- discovery ----------------------------------------------------------------------------------------
def test_discovery_over_compartments_and_regions(h):
    e = h.emulator
    e.add_cluster("a1", "v1.30.1", {"p": "v1.30.1"}, available=VERSIONS, tags={"env": "prod"})
    e.add_cluster("b1", "v1.31.1", {"p": "v1.31.1", "q": "v1.30.10"}, compartment_id=COMP_B, available=VERSIONS)
    e.add_cluster("f1", "v1.30.10", {}, region=FRA, available=VERSIONS)
    e.add_cluster("hidden", "v1.30.1", {}, compartment_id="ocid1.compartment.oc1..other", available=VERSIONS)
    e.add_cluster("far", "v1.30.1", {}, region="ap-tokyo-1", available=VERSIONS)
    e.add_cluster("a2", "v1.30.1", {}, available=VERSIONS)
    e.page_size = 1                                             # the adapter follows opc-next-page
    p = h.provider(compartments=[COMP, COMP_B], regions=["us-ashburn-1", FRA])
    found = {c.id: c for c in p.discover()}
    assert sorted(found) == ["oke/eu-frankfurt-1/f1", "oke/us-ashburn-1/a1", "oke/us-ashburn-1/a2",
                             "oke/us-ashburn-1/b1"]
    a1, b1 = found["oke/us-ashburn-1/a1"], found["oke/us-ashburn-1/b1"]
    assert (a1.provider, a1.provider_type, a1.location, dict(a1.labels)) == ("oke", "oke", "us-ashburn-1",
                                                                             {"env": "prod"})
    assert b1.extra["compartmentId"] == COMP_B and set(b1.extra["nodePoolIds"]) == {"p", "q"}
    assert {(n.name, n.version, n.nodes) for n in b1.node_pools} == {("p", "v1.31.1", 3), ("q", "v1.30.10", 3)}
    assert a1.available == tuple(VERSIONS)          # current + availableKubernetesUpgrades + newer options
    assert b1.available == ("v1.31.1", "v1.31.10", "v1.32.1")


def test_auto_upgrade_is_never_flagged_on_oke(h):
    h.emulator.add_cluster("basic", "v1.30.1", {}, available=VERSIONS, cluster_type="BASIC_CLUSTER")
    h.emulator.add_cluster("enhanced", "v1.30.1", {}, available=VERSIONS, cluster_type="ENHANCED_CLUSTER")
    clusters = h.provider().discover()
    assert len(clusters) == 2 and all(c.auto_upgrade is None for c in clusters)


def test_offers_and_lookup_without_discovery_extras(h):
    h.emulator.add_cluster("bare", "v1.30.1", {"p": "v1.30.1"}, available=VERSIONS)
    p = h.provider()
    bare = Cluster("oke", "us-ashburn-1", "bare", "v1.30.1", provider_type="oke")   # e.g. rebuilt from state
    offers = p.offers(bare)
    assert offers.control_plane == tuple(VERSIONS) and offers.for_pool("p") == tuple(VERSIONS)
    with pytest.raises(PermanentProviderError):
        p.offers(Cluster("oke", "us-ashburn-1", "nope", "v1.30.1"))
    with pytest.raises(PermanentProviderError, match="node pool"):
        p.start(_find(p, "bare"), Step(Component.NODE_POOL, "v1.30.10", "v1.30.1", pool="missing"))


# ---- steps --------------------------------------------------------------------------------------------
def test_pool_start_is_idempotent_across_restarts(h):
    h.emulator.add_cluster("idem", "v1.31.1", {"p": "v1.30.1"}, available=VERSIONS)
    c = _find(h.provider(), "idem")
    step = Step(Component.NODE_POOL, "v1.31.1", "v1.30.1", pool="p", max_surge=1, max_unavailable=0)
    op1 = h.provider().start(c, step)
    op2 = h.provider().start(_find(h.provider(), "idem"), step)
    assert op1.id == op2.id and len(h.emulator.upgrade_log) == 1
    with pytest.raises(TemporaryProviderError) as info:       # a different target while it runs
        h.provider().start(c, replace(step, to="v1.30.10"))
    assert info.value.retry_after
    h.finish_operations()
    done = h.provider().start(_find(h.provider(), "idem"), step)
    assert h.provider().poll(c, done).state is OperationState.SUCCEEDED and len(h.emulator.upgrade_log) == 1


def test_pool_at_version_with_old_nodes_is_cycled(h):
    cid = h.emulator.add_cluster("stale", "v1.31.1", {"p": "v1.31.1"}, available=VERSIONS)
    pool = next(iter(h.emulator.clusters[cid].pools.values()))
    pool.nodes[0]["kubernetesVersion"] = "v1.30.1"             # version bumped earlier without cycling
    p = h.provider()
    _run(h, p, _find(p, "stale"), Step(Component.NODE_POOL, "v1.31.1", "v1.31.1", pool="p", max_surge=1))
    assert h.emulator.upgrade_log[-1]["nodePoolCyclingDetails"]["isNodeCyclingEnabled"] is True
    assert {n["kubernetesVersion"] for n in pool.nodes} == {"v1.31.1"}


def test_failed_operation_reports_the_work_request_errors(h):
    h.emulator.add_cluster("boom", "v1.30.1", {}, available=VERSIONS)
    p = h.provider()
    c = _find(p, "boom")
    h.inject("fail-operation")
    op = p.start(c, Step(Component.CONTROL_PLANE, "1.31.1", "v1.30.1"))     # unprefixed versions are accepted
    h.finish_operations()
    st = p.poll(c, op)
    assert st.state is OperationState.FAILED and "emulated failure" in st.message


def test_timeouts_and_throttling_are_temporary(h):
    h.emulator.add_cluster("slow", "v1.30.1", {}, available=VERSIONS)
    h.emulator.server.timeout_delay_s = 1.0
    p = h.provider(timeoutSeconds=0.3)
    h.inject("timeout")
    with pytest.raises(TemporaryProviderError):
        p.discover()
    # discovery reads go through the rate-limit kit (fleet.ratelimit): one 429 pauses the tenancy+region for
    # its Retry-After (on the provider's clock) and is retried; a throttle that outlasts the retries surfaces
    start = h.clock.now()
    h.inject("throttle")
    assert [c.name for c in p.discover()] == ["slow"]
    assert (h.clock.now() - start).total_seconds() >= 2.0
    for _ in range(1 + p.limiter.retries):
        h.inject("throttle")
    with pytest.raises(TemporaryProviderError) as info:
        p.discover()
    assert info.value.retry_after == 2.0
    assert [c.name for c in p.discover()] == ["slow"]


def test_two_pools_patch_first_then_two_minors(h, caplog):
    """Control plane, then each pool, repeated: v1.30.1 -> v1.30.10 -> v1.31.10 -> v1.32.1."""
    caplog.set_level(logging.DEBUG)
    e = h.emulator
    e.add_cluster("e2e", "v1.30.1", {"pool-a": "v1.30.1", "pool-b": "v1.30.1"}, available=VERSIONS, nodes=4,
                  tags={"team": "web"})
    budgets = {"pool-a": {"max_surge": 2, "max_unavailable": 0},
               "pool-b": {"max_surge": 1, "max_unavailable": 1, "max_surge_spec": "25%", "max_unavailable_spec": "1",
                          "drain_timeout_seconds": 900}}
    for hop in ("v1.30.10", "v1.31.10", "v1.32.1"):
        p = h.provider()                                        # a fresh adapter each hop, like a restart
        c = _find(p, "e2e")
        assert hop in p.offers(c).control_plane
        _run(h, p, c, Step(Component.CONTROL_PLANE, hop, c.control_plane))
        for pool in ("pool-a", "pool-b"):
            c = _find(p, "e2e")
            step = Step(Component.NODE_POOL, hop, c.pool(pool).version, pool=pool, **budgets[pool])
            assert p.check_step(c, step) == []
            _run(h, p, c, step)
            assert p.start(_find(p, "e2e"), step).id.startswith("done:")   # idempotent once done
    c = _find(h.provider(), "e2e")
    assert c.control_plane == "v1.32.1" and {n.version for n in c.node_pools} == {"v1.32.1"}
    assert dict(c.labels) == {"team": "web"}
    log = e.upgrade_log
    assert [(x["kind"], x["nodePoolName"], x["kubernetesVersion"]) for x in log] == [
        (k, n, v) for v in ("v1.30.10", "v1.31.10", "v1.32.1")
        for k, n in (("cluster", None), ("nodePool", "pool-a"), ("nodePool", "pool-b"))]
    for x in log:
        assert x["body"]["freeformTags"][TARGET_TAG] == x["kubernetesVersion"]
        if x["nodePoolName"] == "pool-a":
            assert x["nodePoolCyclingDetails"] == {"isNodeCyclingEnabled": True, "maximumSurge": "2",
                                                   "maximumUnavailable": "0"}
            assert x["nodeEvictionNodePoolSettings"] is None
        elif x["nodePoolName"] == "pool-b":
            assert x["nodePoolCyclingDetails"] == {"isNodeCyclingEnabled": True, "maximumSurge": "25%",
                                                   "maximumUnavailable": "1"}
            assert x["nodeEvictionNodePoolSettings"] == {"evictionGraceDuration": "PT15M"}
    secret = oke_auth()["privateKey"].splitlines()[5]
    assert secret not in caplog.text
    assert all(secret not in str(r.headers) for r in e.requests)


def test_settings_helper_points_at_the_emulator(h):
    s = settings_for(h.emulator, regions=["us-ashburn-1", FRA])
    assert s["endpoint"].endswith("/{region}")
    assert OkeProvider("oke", s).regions() == ["us-ashburn-1", FRA]
