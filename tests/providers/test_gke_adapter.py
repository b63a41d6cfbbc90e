"""GkeProvider against the GKE emulator: settings, discovery, auto-upgrade flags, offers, idempotency, and an
end-to-end run of a two-pool cluster going patch-first then two minors."""

from __future__ import annotations

from datetime import timedelta

import google.cloud.container_v1  # noqa: F401  (the SDK must be installed: pip install -e ".[dev]")
import pytest

from fleet.errors import PermanentProviderError, TemporaryProviderError
from fleet.provider import BlueGreen, Cluster, Component, OperationState, Step
from providers.gke.adapter import GkeProvider
from tests.providers.harness_gke import LOCATION, PROJECT, GkeHarness

V = ("1.29.4-gke.1043002", "1.29.8-gke.1211000", "1.30.5-gke.1014001", "1.31.1-gke.1846000")


@pytest.fixture
def h():
    harness = GkeHarness()
    harness.start()
    yield harness
    harness.stop()


def _find(p: GkeProvider, cid: str) -> Cluster:
    return next(c for c in p.discover() if c.id == cid)


def _drive(h: GkeHarness, p: GkeProvider, cluster: Cluster, step: Step) -> None:
    op = p.start(cluster, step)
    for _ in range(20):
        st = p.poll(cluster, op)
        if st.state is not OperationState.RUNNING:
            assert st.state is OperationState.SUCCEEDED, st.message
            return
        h.finish_operations()
    raise AssertionError("operation never finished")


# ---- settings -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("settings,key", [
    ({"projects": ["p"], "bogus": 1}, "bogus"),
    ({"projects": ["p"], "timeout_seconds": 3}, "timeout_seconds"),      # camelCase only
    ({"locations": ["-"]}, "projects"),
    ({"projects": []}, "projects"),
    ({"projects": ["p"], "credentials": "magic"}, "credentials"),
    ({"projects": ["p"], "timeoutSeconds": 0}, "timeoutSeconds"),
    ({"projects": ["p"], "credentialsFile": "nope.json"}, "credentialsFile"),
])
def test_settings_are_strict(settings, key, tmp_path):
    with pytest.raises(ValueError, match=key):
        GkeProvider("gke", settings, config_dir=str(tmp_path))


def test_settings_accept_all_keys(tmp_path):
    (tmp_path / "sa.json").write_text("{}")
    p = GkeProvider("prod-gke", {"projects": ["a", "b"], "locations": ["europe-west1"], "endpoint": "http://x",
                                 "credentials": "default", "credentialsFile": "sa.json", "timeoutSeconds": 5,
                                 "pollIntervalSeconds": 60}, config_dir=str(tmp_path))
    assert p.name == "prod-gke" and p.settings.poll_interval_seconds == 60


# ---- discovery ----------------------------------------------------------------------------------------
def test_discovery_over_projects_and_locations(h):
    em = h.emulator
    em.set_versions(V)
    em.add_cluster("a1", V[0], {"np": V[0]}, project="proj-a", location="europe-west1")
    em.add_cluster("a2", V[0], {"np": V[0]}, project="proj-a", location="us-central1-a")
    em.add_cluster("b1", V[1], {"np": V[1]}, project="proj-b", location="us-east1", labels={"env": "prod"})
    every = GkeProvider("gke", h.settings(projects=["proj-a", "proj-b"]), clock=h.clock).discover()
    assert [c.id for c in every] == ["gke/europe-west1/a1", "gke/us-central1-a/a2", "gke/us-east1/b1"]
    b1 = every[2]
    assert b1.extra["project"] == "proj-b" and b1.labels == {"env": "prod"} and b1.provider_type == "gke"
    assert b1.node_pools[0].nodes == 3 and b1.healthy and not b1.upgrading
    scoped = GkeProvider("gke", h.settings(projects=["proj-a", "proj-b"], locations=["europe-west1", "us-east1"]),
                         clock=h.clock).discover()
    assert [c.id for c in scoped] == ["gke/europe-west1/a1", "gke/us-east1/b1"]
    with pytest.raises(PermanentProviderError):        # a project we may not read: 403
        GkeProvider("gke", h.settings(projects=["proj-a", "other"]), clock=h.clock).discover()


def test_auto_upgrade_is_flagged(h):
    em = h.emulator
    em.set_versions(V)
    em.add_cluster("chan", V[0], {"np": V[0]}, project=PROJECT, location=LOCATION, release_channel="REGULAR",
                   node_auto_upgrade=True)
    em.add_cluster("pools", V[0], {"np": {"version": V[0], "autoUpgrade": True}, "manual": V[0]},
                   project=PROJECT, location=LOCATION)
    em.add_cluster("manual", V[0], {"np": V[0]}, project=PROJECT, location=LOCATION)
    found = {c.name: c for c in h.provider().discover()}
    assert found["chan"].auto_upgrade == "release channel REGULAR; node auto-upgrade on np"
    assert found["pools"].auto_upgrade == "node auto-upgrade on np"
    assert found["manual"].auto_upgrade is None


def test_offers_follow_channel_and_node_skew(h):
    em = h.emulator
    em.set_versions(V, project=PROJECT, channels={"STABLE": V[:3]})
    em.add_cluster("chan", V[1], {"np": V[0]}, project=PROJECT, location=LOCATION, release_channel="STABLE")
    em.add_cluster("plain", V[1], {"np": V[0]}, project=PROJECT, location=LOCATION)
    p = h.provider()
    chan, plain = _find(p, f"gke/{LOCATION}/chan"), _find(p, f"gke/{LOCATION}/plain")
    assert p.offers(chan).control_plane == V[:3]                       # ascending, channel's versions only
    assert p.offers(plain).control_plane == V
    assert p.offers(plain).for_pool("np") == V      # all valid node versions: the planner caps pools


def test_cluster_without_project_hint_is_found(h):
    em = h.emulator
    em.set_versions(V)
    em.add_cluster("c", V[0], {"np": V[0]}, project="proj-b", location=LOCATION)
    em.add_cluster("x", V[0], {"np": V[0]}, project="proj-a", location=LOCATION)
    p = GkeProvider("gke", h.settings(projects=["proj-a", "proj-b"]), clock=h.clock)
    bare = Cluster(provider="gke", location=LOCATION, name="c", control_plane=V[0])   # e.g. from an inventory
    assert p.offers(bare).control_plane == V
    with pytest.raises(PermanentProviderError):
        p.offers(Cluster(provider="gke", location=LOCATION, name="ghost", control_plane=V[0]))


# ---- start / poll -------------------------------------------------------------------------------------
def test_pool_step_is_idempotent_and_other_kinds_wait(h):
    cid = h.seed("idem", V[1], {"np": V[0]}, list(V))
    p = h.provider()
    c = _find(p, cid)
    step = Step(Component.NODE_POOL, to=V[1], from_=V[0], pool="np", max_surge=1, max_unavailable=0)
    op = p.start(c, step)
    st = p.poll(c, op)
    assert st.state is OperationState.RUNNING and st.progress == 0.0 and st.poll_after == 5
    h.clock.advance(timedelta(seconds=130))
    assert 0.0 < p.poll(c, op).progress < 1.0
    again = h.provider().start(_find(h.provider(), cid), step)               # a restarted daemon
    assert again.id == op.id and h.upgrade_calls(cid) == 1
    assert _find(p, cid).pool("np").upgrading
    with pytest.raises(TemporaryProviderError) as info:                      # a control-plane step must wait
        p.start(c, Step(Component.CONTROL_PLANE, to=V[2], from_=V[1]))
    assert info.value.retry_after == 5 and h.upgrade_calls(cid) == 1
    h.finish_operations()
    assert p.poll(c, op).state is OperationState.SUCCEEDED
    done = p.start(_find(p, cid), step)
    assert done.id == op.id and p.poll(c, done).state is OperationState.SUCCEEDED


def test_already_at_version_without_history_completes_without_calls(h):
    cid = h.seed("noop", V[1], {"np": V[1]}, list(V))
    p = h.provider()
    c = _find(p, cid)
    op = p.start(c, Step(Component.CONTROL_PLANE, to=V[1], from_=V[1]))
    assert p.poll(c, op).state is OperationState.SUCCEEDED and h.upgrade_calls(cid) == 0


def test_timeouts_and_missing_pools_are_mapped(h):
    cid = h.seed("slow", V[0], {"np": V[0]}, list(V))
    p = GkeProvider("gke", h.settings(timeoutSeconds=0.2), clock=h.clock)
    c = _find(p, cid)
    h.emulator.server.timeout_delay_s = 0.4
    h.inject("timeout")
    with pytest.raises(TemporaryProviderError):
        p.offers(c)
    with pytest.raises(PermanentProviderError):
        p.start(c, Step(Component.NODE_POOL, to=V[1], from_=V[0], pool="ghost"))
    h.inject("server-error")
    with pytest.raises(TemporaryProviderError):
        p.start(c, Step(Component.CONTROL_PLANE, to=V[1], from_=V[0]))
    assert h.upgrade_calls(cid) == 0


def test_two_pools_patch_first_then_two_minors(h):
    em = h.emulator
    em.set_versions(V, project=PROJECT)
    em.add_cluster("e2e", V[0], {"pool-a": {"version": V[0], "nodes": 3},
                                 "pool-b": {"version": V[0], "nodes": 2, "zones": ["europe-west1-b", "europe-west1-c"]}},
                   project=PROJECT, location=LOCATION)
    cid = f"gke/{LOCATION}/e2e"
    p = h.provider()
    bg = BlueGreen(batch_percentage=0.5, batch_soak_seconds=120, node_pool_soak_seconds=600)
    for target in V[1:]:                                    # 1.29 patch, then 1.30, then 1.31
        c = _find(p, cid)
        assert target in p.offers(c).control_plane
        _drive(h, p, c, Step(Component.CONTROL_PLANE, to=target, from_=c.control_plane))
        c = _find(p, cid)
        assert c.control_plane == target and target in p.offers(c).for_pool("pool-a")
        surge = Step(Component.NODE_POOL, to=target, from_=c.pool("pool-a").version, pool="pool-a", max_surge=2,
                     max_unavailable=1, max_surge_spec="50%")
        assert p.check_step(c, surge) == ["GKE takes an integer maxSurge: policy 50% of 3 nodes is 1.5, rounded to 2"]
        _drive(h, p, c, surge)
        blue_green = Step(Component.NODE_POOL, to=target, from_=c.pool("pool-b").version, pool="pool-b",
                          strategy="blue-green", blue_green=bg)
        assert p.check_step(c, blue_green) == []
        _drive(h, p, _find(p, cid), blue_green)
    final = _find(p, cid)
    assert final.control_plane == V[3] and {n.version for n in final.node_pools} == {V[3]}
    log = em.upgrades_for(LOCATION, "e2e", PROJECT)
    assert [(e["type"], e["nodePool"], e["version"]) for e in log] == [
        row for v in V[1:] for row in (("UPGRADE_MASTER", None, v), ("UPGRADE_NODES", "pool-a", v),
                                       ("UPGRADE_NODES", "pool-b", v))]
    for e in log:
        if e["nodePool"] == "pool-a":
            assert e["upgradeSettings"] == {"maxSurge": 2, "maxUnavailable": 1, "strategy": "SURGE"}
        elif e["nodePool"] == "pool-b":
            assert e["upgradeSettings"] == {"strategy": "BLUE_GREEN", "blueGreenSettings": {
                "standardRolloutPolicy": {"batchPercentage": 0.5, "batchSoakDuration": "120s"},
                "nodePoolSoakDuration": "600s"}}
        else:
            assert e["upgradeSettings"] is None
    stored = em.cluster(PROJECT, LOCATION, "e2e")
    assert stored.node_pools[1].upgrade_settings.blue_green_settings.standard_rollout_policy.batch_percentage == 0.5


def test_entry_point_and_missing_sdk(h, monkeypatch):
    import sys

    from fleet.errors import MissingExtraError
    from fleet.provider import Provider, create_provider

    p = create_provider("gke", "gke", h.settings(), clock=h.clock)
    assert isinstance(p, Provider) and isinstance(p, GkeProvider)
    monkeypatch.setitem(sys.modules, "google.cloud.container_v1", None)      # as if the extra were not installed
    with pytest.raises(MissingExtraError, match=r"fleet-upgrader\[gke\]"):
        GkeProvider("gke", h.settings(), clock=h.clock).discover()


# ---- Autopilot, node counts, drain (issue #14) ----------------------------------------------------------
def test_autopilot_is_discovered_and_gets_control_plane_steps_only(h):
    from fleet.provider import rules_for
    em = h.emulator
    em.set_versions(V)
    em.add_cluster("auto", V[0], {"default-pool": V[0]}, project=PROJECT, location=LOCATION, autopilot=True)
    em.add_cluster("std", V[0], {"np": V[0]}, project=PROJECT, location=LOCATION)
    p = h.provider()
    found = {c.name: c for c in p.discover()}
    auto, std = found["auto"], found["std"]
    assert auto.facts == {"autopilot": True} and auto.pools_follow_control_plane
    assert std.facts == {"autopilot": False} and not std.pools_follow_control_plane
    assert rules_for(GkeProvider, auto).pools_follow_control_plane and not rules_for(GkeProvider, auto).knobs
    assert not rules_for(GkeProvider, std).pools_follow_control_plane
    with pytest.raises(PermanentProviderError, match="Autopilot"):      # refused before anything is sent
        p.start(auto, Step(Component.NODE_POOL, to=V[1], from_=V[0], pool="default-pool"))
    assert [q.method for q in em.log if q.method in ("POST", "PUT")] == []
    _drive(h, p, auto, Step(Component.CONTROL_PLANE, to=V[1], from_=V[0]))
    after = _find(p, auto.id)
    assert after.control_plane == V[1] and after.node_pools[0].version == V[1]


def test_node_counts_follow_resizes(h):
    em = h.emulator
    em.set_versions(V)
    em.add_cluster("one", V[0], {"np": {"version": V[0], "nodes": 2}}, project=PROJECT, location=LOCATION,
                   zones=["europe-west1-b", "europe-west1-c"])
    em.add_cluster("two", V[0], {"a": {"version": V[0], "nodes": 3}, "b": {"version": V[0], "nodes": 1}},
                   project=PROJECT, location=LOCATION)
    p = h.provider()
    before = {c.name: c for c in p.discover()}
    assert before["one"].node_pools[0].nodes == 4                      # 2 per zone x 2 zones
    em.resize(PROJECT, LOCATION, "one", "np", 5)
    em.resize(PROJECT, LOCATION, "two", "a", 9)
    after = {c.name: c for c in p.discover()}
    assert after["one"].node_pools[0].nodes == 10                     # currentNodeCount, not 2 x 2
    assert after["one"].extra["nodeCount"] == "currentNodeCount"
    # 10 shared 3:1 by the pools' own estimates: 7.5 / 2.5, the tie to the first name (approximate)
    assert {n.name: n.nodes for n in after["two"].node_pools} == {"a": 8, "b": 2}
    assert sum(n.nodes for n in after["two"].node_pools) == 10
    assert "approximate" in after["two"].extra["nodeCount"]


def test_drain_timeout_reaches_gke_as_node_drain_config(h):
    em = h.emulator
    em.set_versions(V)
    em.add_cluster("d", V[1], {"np": V[0]}, project=PROJECT, location=LOCATION)
    p = h.provider()
    c = _find(p, f"gke/{LOCATION}/d")
    _drive(h, p, c, Step(Component.NODE_POOL, to=V[1], from_=V[0], pool="np", max_surge=1, max_unavailable=0,
                         drain_timeout_seconds=1800))
    assert em.upgrade_log[-1]["nodeDrainConfig"] == {"pdbTimeoutDuration": "1800s"}
