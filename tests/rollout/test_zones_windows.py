"""timezone: cluster: each cluster's windows in its own local time (label, else its region), across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleet.clock import FakeClock
from fleet.planning.planner import compute_plan
from fleet.planning.zones import AWS, AZURE, GCP, OCI, REGION_ZONES, cluster_zone, region_of, zone_from_label
from fleet.provider import Cluster, NodePool, VersionOffers
from fleet.state import open_store
from tests.execution.helpers import drive
from tests.rollout.helpers import engine, multi_cloud, policy


def test_every_region_maps_to_a_real_zone_and_tables_do_not_collide():
    for table in (AWS, GCP, AZURE, OCI):
        for region, zone in table.items():
            ZoneInfo(zone)
            assert region, zone
    assert len(REGION_ZONES) == len(AWS) + len(GCP) + len(AZURE) + len(OCI)


@pytest.mark.parametrize(("location", "labels", "zone"), [
    ("eu-central-1", {}, "Europe/Berlin"),                   # EKS region
    ("prod:us-east-1", {}, "America/New_York"),              # EKS location with an account alias
    ("europe-west3-a", {}, "Europe/Berlin"),                 # GKE zonal cluster
    ("asia-northeast1", {}, "Asia/Tokyo"),                   # GKE regional cluster
    ("West Europe", {}, "Europe/Amsterdam"),                 # AKS display spelling
    ("japaneast", {}, "Asia/Tokyo"),
    ("us-ashburn-1", {}, "America/New_York"),                # OKE
    ("eu-central-1", {"fleet.dev/timezone": "Asia/Tokyo"}, "Asia/Tokyo"),     # the label wins
    ("x", {"fleet.dev/timezone": "america--new_york"}, "America/New_York"),  # GKE-safe label spelling
    ("mars-1", {}, None),
    ("eu-central-1", {"fleet.dev/timezone": "Mars/Olympus"}, None),
])
def test_cluster_zone(location, labels, zone):
    assert cluster_zone(location, labels) == zone
    assert region_of("us-central1-b") == "us-central1"
    assert zone_from_label("Europe/Berlin") == "Europe/Berlin"


def _cluster(name: str, location: str, labels=None) -> Cluster:
    return Cluster(provider="gke", location=location, name=name, control_plane="1.28.3",
                   node_pools=(NodePool("pool", "1.28.3", 3),), labels=labels or {})


SAT_0100 = {"timezone": "cluster", "windows": [{"days": ["Sat"], "start": "01:00", "duration": "2h"}]}


def test_plan_next_window_is_saturday_0100_local_in_each_region():
    clusters = [_cluster("eu", "europe-west3"), _cluster("us", "us-east4"), _cluster("ap", "asia-northeast1"),
                _cluster("lost", "mars-1")]
    now = datetime(2026, 3, 2, tzinfo=UTC)     # a Monday
    plan = compute_plan([policy(target={"version": "1.28"}, maintenance=SAT_0100)], clusters, {"gke": VersionOffers(("1.28.9",))}, now)
    got = {cp.name: cp for cp in plan.clusters}
    assert got["eu"].next_window.start == datetime(2026, 3, 7, 0, 0, tzinfo=UTC)      # 01:00 CET
    assert got["us"].next_window.start == datetime(2026, 3, 7, 6, 0, tzinfo=UTC)      # 01:00 EST
    assert got["ap"].next_window.start == datetime(2026, 3, 6, 16, 0, tzinfo=UTC)     # 01:00 JST
    assert got["eu"].to_dict()["timezone"] == "Europe/Berlin"
    assert got["lost"].status == "blocked" and "fleet.dev/timezone" in got["lost"].reasons[0]


def test_engine_starts_steps_only_at_local_saturday_night_across_dst():
    """US DST starts 2026-03-08, EU DST 2026-03-29, Tokyo has none: over eight weeks every step starts on a
    local Saturday between 01:00 and 01:10 in its cluster's own zone."""
    start = datetime(2026, 3, 2, tzinfo=UTC)
    clock = FakeClock(start)
    fleet = [("gke", "europe-west3", "eu", "prod"), ("aks", "eastus", "us", "prod"),
             ("eks", "ap-northeast-1", "ap", "prod")]
    world = multi_cloud(clock, fleet, available=("1.28.3", "1.28.9", "1.29.8", "1.30.4", "1.31.2"))
    store = open_store("memory://")
    # a 10-minute window: one step starts per Saturday (each lasts longer), so eight steps span both DST changes
    short = {"timezone": "cluster", "windows": [{"days": ["Sat"], "start": "01:00", "duration": "10m"}]}
    eng = engine(store, world, clock, [policy(target={"version": "1.31"}, maintenance=short,
                                              rollout={"maxConcurrentClusters": 3})], None)
    drive(eng, clock, until=start + timedelta(days=60), max_ticks=4000)
    zones = {"eu": "Europe/Berlin", "us": "America/New_York", "ap": "Asia/Tokyo"}
    evs = store.events(kind="step-dispatched", limit=100000)
    assert len({e["cluster_id"] for e in evs}) == 3
    local_days = set()
    for e in evs:
        name = e["cluster_id"].rsplit("/", 1)[1]
        local = e["at"].astimezone(ZoneInfo(zones[name]))
        assert local.weekday() == 5 and local.hour == 1 and local.minute < 10, (e, local)
        local_days.add((name, local.date()))
    # steps happened before and after both DST changes
    assert any(n == "us" and d > datetime(2026, 3, 8).date() for n, d in local_days)
    assert any(n == "us" and d < datetime(2026, 3, 8).date() for n, d in local_days)
    assert any(n == "eu" and d > datetime(2026, 3, 29).date() for n, d in local_days)
    assert any(n == "eu" and d < datetime(2026, 3, 29).date() for n, d in local_days)


def test_daemon_wakes_at_the_first_local_opening_of_any_zone():
    from types import SimpleNamespace

    from fleet.daemon.service import Daemon
    clusters = [_cluster("eu", "europe-west3"), _cluster("ap", "asia-northeast1")]
    now = datetime(2026, 3, 2, tzinfo=UTC)
    pol = policy(target={"version": "1.28"}, maintenance=SAT_0100)
    plan = compute_plan([pol], clusters, {"gke": VersionOffers(("1.28.9",))}, now)
    fake = SimpleNamespace(engine=SimpleNamespace(last_plan=plan, _policy_cache=[pol]))
    # Tokyo's Saturday 01:00 comes first (Friday 16:00 UTC), not UTC's Saturday 01:00
    assert Daemon.next_window_opening(fake, now, timedelta(days=14)) == datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
