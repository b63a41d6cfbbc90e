"""AksProvider against the AKS emulator over real HTTP: discovery scopes, an end-to-end fleet path, polling."""

from __future__ import annotations

import logging
from datetime import timedelta

import azure.mgmt.containerservice  # noqa: F401  (the SDK must be installed: pip install -e ".[dev]")
import pytest

from fleet.clock import FakeClock
from fleet.errors import PermanentProviderError, TemporaryProviderError, ThrottledError
from fleet.provider import Cluster, Component, OperationRef, OperationState, Step
from providers.aks.adapter import PLACEHOLDER_AUTH, AksProvider
from providers.aks.emulator.server import AksEmulator

SUB_A = "aaaaaaaa-0000-0000-0000-000000000001"
SUB_B = "bbbbbbbb-0000-0000-0000-000000000002"
VERSIONS = ["1.29.2", "1.29.8", "1.30.4", "1.31.1"]


class NoTokenCredential:
    """Over plain http the adapter must never ask for (or send) a real token."""

    def get_token(self, *scopes: str, **kw: object) -> object:
        raise AssertionError("a token was requested for a plain-http endpoint")


@pytest.fixture
def emu():
    e = AksEmulator(FakeClock()).start()
    yield e
    e.stop()


def provider(emu: AksEmulator, **settings: object) -> AksProvider:
    base = {"subscriptions": [SUB_A], "endpoint": emu.url, "timeoutSeconds": 5}
    return AksProvider("aks", {**base, **settings}, clock=emu.clock, credential=NoTokenCredential())


def run(emu: AksEmulator, p: AksProvider, cluster: Cluster, op: OperationRef, step_s: float = 300) -> OperationState:
    for _ in range(500):
        st = p.poll(cluster, op)
        if st.state is not OperationState.RUNNING:
            return st.state
        emu.clock.advance(timedelta(seconds=step_s))
    raise AssertionError("operation never finished")


def find(p: AksProvider, name: str) -> Cluster:
    return next(c for c in p.discover() if c.name == name)


@pytest.mark.parametrize("page_size", [2, 3, 100])
def test_a_discovery_makes_one_request_per_page_and_none_per_cluster(page_size):
    """ManagedClusters_List returns each cluster with its agentPoolProfiles (ManagedClusterListResult ->
    ManagedCluster, managedClusters.json 2026-08-01): pool versions come from the list, never from a GET."""
    e = AksEmulator(FakeClock(), page_size=page_size).start()
    try:
        for i in range(7):
            e.add_cluster(f"c{i}", "1.29.2", {"sys": "1.29.2", "gpu": "1.28.9" if i % 2 else "1.29.2"}, VERSIONS,
                          subscription=SUB_A, resource_group="rg-a1")
        before = len(e.log)
        found = provider(e).discover()
        asked = e.log[before:]
        assert len(asked) == -(-7 // page_size)                   # ceil(7 / page size) list pages, nothing else
        assert {r.path.split("?")[0].rsplit("/", 1)[-1] for r in asked} == {"managedClusters"}
        assert [c.name for c in found] == [f"c{i}" for i in range(7)]
        assert [{p.name: p.version for p in c.node_pools}["gpu"] for c in found] == [
            "1.28.9" if i % 2 else "1.29.2" for i in range(7)]
    finally:
        e.stop()


def test_the_emulator_refuses_a_page_size_below_one():
    with pytest.raises(ValueError, match="page_size"):
        AksEmulator(FakeClock(), page_size=0)


def test_discovery_over_subscriptions_and_resource_groups(emu):
    for name in ("c1", "c2", "c3"):
        emu.add_cluster(name, "1.29.2", {"sys": "1.29.2"}, VERSIONS, subscription=SUB_A, resource_group="rg-a1")
    emu.add_cluster("c4", "1.30.4", {"sys": "1.30.4"}, VERSIONS, subscription=SUB_A, resource_group="rg-a2",
                    location="eastus")
    emu.add_cluster("c5", "1.29.8", {"sys": "1.29.8", "gpu": "1.29.2"}, VERSIONS, subscription=SUB_B,
                    resource_group="rg-b1", tags={"team": "ml"})
    everything = provider(emu, subscriptions=[SUB_A, SUB_B]).discover()
    assert [c.id for c in everything] == ["aks/eastus/c4", "aks/westeurope/c1", "aks/westeurope/c2",
                                          "aks/westeurope/c3", "aks/westeurope/c5"]
    c5 = everything[-1]
    assert (c5.extra["subscription"], c5.extra["resourceGroup"], c5.labels) == (SUB_B, "rg-b1", {"team": "ml"})
    assert {p.name: p.version for p in c5.node_pools} == {"sys": "1.29.8", "gpu": "1.29.2"}
    scoped = provider(emu, subscriptions=[SUB_A, SUB_B], resourceGroups=["rg-a2", "RG-B1"]).discover()
    assert [c.name for c in scoped] == ["c4", "c5"]
    with pytest.raises(PermanentProviderError, match="nope"):
        provider(emu, subscriptions=[SUB_A, SUB_B], resourceGroups=["nope"]).discover()
    with pytest.raises(PermanentProviderError):
        provider(emu, subscriptions=["cccccccc-0000-0000-0000-000000000003"]).discover()
    # a cluster known only by id (e.g. from the state store) is found through discovery
    bare = Cluster(provider="aks", location="eastus", name="c4", control_plane="1.30.4")
    assert provider(emu).offers(bare).control_plane == ("1.30.4", "1.31.1")      # the current version, then the next hop


def test_two_pools_patch_first_then_two_minors(emu):
    emu.add_cluster("prod", "1.29.2", {"sys": "1.29.2", "user": "1.29.2"}, VERSIONS, subscription=SUB_A,
                    resource_group="rg-prod", node_count=4)
    budgets = {"sys": {"max_surge": 1, "max_unavailable": 0, "max_surge_spec": "1", "max_unavailable_spec": "0",
                       "drain_timeout_seconds": 1800, "node_soak_seconds": 60},
               "user": {"max_surge": 2, "max_unavailable": 1, "max_surge_spec": "50%", "max_unavailable_spec": "25%",
                        "drain_timeout_seconds": 600}}
    p = provider(emu)
    for target in ("1.29.8", "1.30.4", "1.31.1"):
        c = find(p, "prod")
        assert target in p.offers(c).control_plane
        cp = Step(Component.CONTROL_PLANE, to=target, from_=c.control_plane)
        assert p.check_step(c, cp) == []
        assert run(emu, p, c, p.start(c, cp)) is OperationState.SUCCEEDED
        for pool in ("sys", "user"):
            c = find(p, "prod")
            assert c.control_plane == target
            assert target in p.offers(c).for_pool(pool)
            step = Step(Component.NODE_POOL, to=target, from_=c.pool(pool).version, pool=pool, **budgets[pool])
            assert p.check_step(c, step) == []
            assert run(emu, p, c, p.start(c, step)) is OperationState.SUCCEEDED
    c = find(p, "prod")
    assert (c.control_plane, {x.version for x in c.node_pools}) == ("1.31.1", {"1.31.1"})

    # the emulator's side: nine accepted PUTs, in order, with the budget knobs as sent
    log = emu.upgrade_log
    assert [(r.kind, r.pool, r.to) for r in log] == [
        (kind, pool, v) for v in ("1.29.8", "1.30.4", "1.31.1")
        for kind, pool in (("managedCluster", None), ("agentPool", "sys"), ("agentPool", "user"))]
    sys_settings = {"maxSurge": "1", "maxUnavailable": "0", "drainTimeoutInMinutes": 30, "nodeSoakDurationInMinutes": 1}
    user_settings = {"maxSurge": "50%", "maxUnavailable": "25%", "drainTimeoutInMinutes": 10}
    for r in log:
        assert r.api_version == "2026-08-01"
        if r.pool == "sys":
            assert r.upgrade_settings == sys_settings
        elif r.pool == "user":
            assert {k: r.upgrade_settings[k] for k in user_settings} == user_settings
    # control-plane PUTs changed only kubernetesVersion: each pool's orchestratorVersion was sent unchanged
    cp_puts = [q for q in emu.requests if q.method == "PUT" and q.path.endswith("/managedClusters/prod")]
    assert [q.body["properties"]["kubernetesVersion"] for q in cp_puts] == ["1.29.8", "1.30.4", "1.31.1"]
    assert [{a["name"]: a["orchestratorVersion"] for a in q.body["properties"]["agentPoolProfiles"]}
            for q in cp_puts] == [{"sys": v, "user": v} for v in ("1.29.2", "1.29.8", "1.30.4")]
    assert all("currentKubernetesVersion" not in q.body["properties"] for q in cp_puts)   # read-only stripped
    puts = [q for q in emu.requests if q.method == "PUT"]
    assert all(q.headers.get("If-Match") or q.headers.get("if-match") for q in puts)   # optimistic concurrency


def test_start_after_a_crash_follows_the_pool_upgrade_in_flight(emu):
    emu.add_cluster("crash", "1.30.4", {"sys": "1.29.2"}, VERSIONS, subscription=SUB_A)
    c = find(provider(emu), "crash")
    step = Step(Component.NODE_POOL, to="1.30.4", from_="1.29.2", pool="sys", max_surge=1, max_unavailable=0)
    provider(emu).start(c, step)
    p2 = provider(emu)
    op = p2.start(find(p2, "crash"), step)
    assert "asyncUrl" not in op.data and len(emu.upgrade_log) == 1
    before = len(emu.requests)
    assert p2.poll(c, op).state is OperationState.RUNNING
    assert len(emu.requests) == before + 1                     # a poll is one request, and it does not wait
    assert run(emu, p2, c, op) is OperationState.SUCCEEDED
    done = p2.start(find(p2, "crash"), step)
    assert p2.poll(c, done).state is OperationState.SUCCEEDED and len(emu.upgrade_log) == 1


def test_poll_is_one_request_and_reports_progress(emu):
    emu.add_cluster("one", "1.29.2", {"sys": "1.29.2"}, VERSIONS, subscription=SUB_A)
    p = provider(emu)
    c = find(p, "one")
    op = p.start(c, Step(Component.CONTROL_PLANE, to="1.30.4", from_="1.29.2"))
    emu.clock.advance(timedelta(minutes=5))
    before = len(emu.requests)
    st = p.poll(c, op)
    assert len(emu.requests) == before + 1 and "/operations/" in emu.requests[-1].path
    assert st.state is OperationState.RUNNING and st.progress == pytest.approx(0.5) and 0 < st.poll_after <= 30


def test_untrusted_or_expired_operation_urls_fall_back_to_the_resource(emu):
    emu.add_cluster("fb", "1.29.2", {"sys": "1.29.2"}, VERSIONS, subscription=SUB_A)
    p = provider(emu)
    c = find(p, "fb")
    op = p.start(c, Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.29.2"))
    emu.clock.advance(timedelta(hours=1))
    foreign = OperationRef(op.id, op.cluster_id, op.step_key,
                           {**op.data, "asyncUrl": "http://198.51.100.7/subscriptions/x/operations/y"})
    assert p.poll(c, foreign).state is OperationState.SUCCEEDED      # the token never goes to another host
    assert emu.requests[-1].path.endswith("/managedClusters/fb")
    emu.operations.clear()                                           # ARM forgot the operation
    assert p.poll(c, op).state is OperationState.SUCCEEDED


def test_failed_operation_and_refusals(emu):
    emu.add_cluster("bad", "1.29.2", {"sys": "1.29.2"}, VERSIONS, subscription=SUB_A)
    p = provider(emu)
    c = find(p, "bad")
    emu.inject("fail-operation")
    op = p.start(c, Step(Component.CONTROL_PLANE, to="1.30.4", from_="1.29.2"))
    emu.clock.advance(timedelta(days=1))
    st = p.poll(c, op)
    assert st.state is OperationState.FAILED and "UpgradeFailed" in st.message
    assert find(p, "bad").healthy is False
    op = p.start(find(p, "bad"), Step(Component.CONTROL_PLANE, to="1.30.4", from_="1.29.2"))   # retry is allowed
    with pytest.raises(TemporaryProviderError) as info:
        p.start(c, Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.29.2"))
    assert info.value.code == "busy/Upgrading" and info.value.retry_after     # seen busy: no PUT sent
    with pytest.raises(PermanentProviderError):
        p.start(c, Step(Component.NODE_POOL, to="1.30.4", from_="1.29.2", pool="ghost"))
    emu.inject("throttle")
    with pytest.raises(TemporaryProviderError) as info:
        p.poll(c, op)
    assert info.value.retry_after == 2


def test_timeouts_are_temporary_and_only_throttles_are_retried_by_the_kit(emu):
    emu.add_cluster("slow", "1.29.2", {"sys": "1.29.2"}, VERSIONS, subscription=SUB_A)
    emu.server.timeout_delay_s = 1.0
    p = provider(emu, timeoutSeconds=0.3)
    c = find(p, "slow")
    # offers reads go through the rate-limit kit (fleet.ratelimit): a timeout is temporary, not a throttle,
    # so it reaches the caller at once (the next read tries again), without pausing the subscription
    start = emu.clock.now()
    emu.inject("timeout")
    with pytest.raises(TemporaryProviderError) as info:
        p.offers(c)
    assert info.value.code == "connection" and not isinstance(info.value, ThrottledError)
    assert emu.clock.now() == start
    assert p.offers(c).control_plane
    # a 429 (ARM throttling) pauses the subscription for its Retry-After (on the provider's clock) and is
    # retried by the kit: answered
    emu.inject("throttle")
    assert p.offers(c).control_plane
    assert (emu.clock.now() - start).total_seconds() >= 2


def test_no_token_or_credential_reaches_the_logs(emu, caplog):
    caplog.set_level(logging.DEBUG)
    emu.add_cluster("logs", "1.29.2", {"sys": "1.29.2"}, VERSIONS, subscription=SUB_A)
    p = provider(emu, apiVersion="2025-10-01")
    c = find(p, "logs")
    p.poll(c, p.start(c, Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.29.2")))
    assert PLACEHOLDER_AUTH.split()[-1] not in caplog.text
    assert emu.upgrade_log[-1].api_version == "2025-10-01"
    assert all(q.headers.get("Authorization") == PLACEHOLDER_AUTH for q in emu.requests)


# ---- issue 14: the AKS rules (providers/aks/rules.py) and the adapter's part in them -------------------------

def test_upgrade_rules_are_declared_once_on_the_provider_class():
    from fleet.provider import PoolStrategy, rules_for
    from providers.aks.rules import Facts

    cluster = Cluster(provider="aks", provider_type="aks", location="westeurope", name="x", control_plane="1.29.2")
    rules = rules_for(AksProvider, cluster)
    assert (rules.pool_skew, rules.pool_minor_step) == (2, 1)
    assert rules.strategies == frozenset({PoolStrategy.SURGE}) and not rules.pools_follow_control_plane
    assert AksProvider.facts_model is Facts
    with pytest.raises(ValueError):
        Facts.model_validate({"autopilot": True})                       # strict: no unknown facts


@pytest.mark.parametrize("pool,cp_offers,candidates,expected", [
    # one minor at a time: 1.30 is reachable through 1.29
    ("1.28.5", ("1.30.4",), ("1.28.5", "1.29.2", "1.30.4"), ("1.28.5", "1.29.2", "1.30.4")),
    # no 1.29 in the region: 1.30 can never be reached one minor at a time (AKS refuses 1.28 -> 1.30)
    ("1.28.5", ("1.30.4",), ("1.28.5", "1.28.9", "1.30.4"), ("1.28.5", "1.28.9")),
    # never above the newest control-plane offer
    ("1.29.2", ("1.29.8",), ("1.29.2", "1.29.8", "1.30.4"), ("1.29.2", "1.29.8")),
])
def test_pool_offers_only_reachable_versions(pool, cp_offers, candidates, expected):
    from providers.aks.rules import compute_pool_offers
    assert compute_pool_offers(pool, cp_offers, candidates) == expected


def test_offers_never_offer_a_pool_a_version_it_cannot_reach_one_minor_at_a_time(emu):
    emu.add_cluster("gap", "1.28.5", {"sys": "1.28.5"}, ["1.28.5", "1.28.9", "1.30.4"], subscription=SUB_A)
    p = provider(emu)
    offers = p.offers(find(p, "gap"))
    assert "1.30.4" not in offers.node_pools["sys"]                  # 1.28 -> 1.30 would skip a minor


def test_control_plane_put_nulls_the_service_principal_profile(emu):
    emu.add_cluster("sp", "1.29.2", {"sys": "1.29.2"}, VERSIONS, subscription=SUB_A)
    p = provider(emu)
    p.start(find(p, "sp"), Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.29.2"))
    method, path, body = emu.received[-1]
    assert method == "PUT" and path.endswith("/managedClusters/sp")
    assert body["properties"].get("servicePrincipalProfile") is None      # as azure-cli's aks_upgrade sends it


@pytest.mark.parametrize("state", ["Canceling", "Deleting", "Starting", "Stopping", "Upgrading", "Scaling"])
def test_busy_provisioning_states_are_temporary(emu, state):
    emu.add_cluster("busy", "1.29.2", {"sys": "1.29.2"}, VERSIONS, subscription=SUB_A)
    p = provider(emu)
    c = find(p, "busy")
    emu.cluster("busy", subscription=SUB_A).state = state
    emu.cluster("busy", subscription=SUB_A).pools["sys"].state = state
    assert find(p, "busy").upgrading
    with pytest.raises(TemporaryProviderError):
        p.start(c, Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.29.2"))
    with pytest.raises(TemporaryProviderError):
        p.start(c, Step(Component.NODE_POOL, to="1.29.8", from_="1.29.2", pool="sys"))
    assert emu.upgrade_log == []
