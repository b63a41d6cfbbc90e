"""Sharding: a stable hash assigns every cluster to one shard; shard engines on one store never touch each
other's clusters or runs; each shard has its own lease."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from fleet.clock import FakeClock
from fleet.daemon.leader import DatabaseLease
from fleet.daemon.sharding import Shard, parse_shard, resolve_shard, shard_from_hostname, shard_of
from fleet.state.store import SqlStore as Store
from providers.sim.adapter import SimProvider
from tests.execution.helpers import START, all_at, make_engine, policy, sim_fleet

# Fixed expectations: a change of the hash would silently move clusters between running shards.
STABLE = {("sim/lab/c0000", 3): 2, ("sim/lab/c0001", 3): 2, ("eks/eu-west-1/prod-a", 4): 3,
          ("gke/europe-west4/b", 2): 1, ("aks/westeurope/c", 7): 2}


@pytest.mark.parametrize(("cid", "n"), sorted(STABLE))
def test_assignment_is_a_fixed_sha256_function(cid, n):
    assert shard_of(cid, n) == STABLE[(cid, n)]


def test_assignment_is_balanced_and_total():
    ids = [f"sim/lab/c{i:05d}" for i in range(6000)]
    counts = Counter(shard_of(c, 3) for c in ids)
    assert set(counts) == {0, 1, 2} and all(1800 < v < 2200 for v in counts.values())
    shards = [Shard(i, 3) for i in range(3)]
    assert all(sum(s.owns(c) for s in shards) == 1 for c in ids)      # every cluster has exactly one owner


def test_shard_parsing_and_statefulset_ordinals():
    assert parse_shard("1/3") == Shard(1, 3) and str(Shard(1, 3)) == "1/3"
    for bad in ("3/3", "-1/2", "a/b", "1", "0/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)
    assert shard_from_hostname("fleet-2", 3) == Shard(2, 3)
    assert shard_from_hostname("fleet-upgrader-0.fleet.ns.svc", 2) == Shard(0, 2)
    with pytest.raises(ValueError, match="ordinal"):
        shard_from_hostname("laptop", 3)
    with pytest.raises(ValueError, match="0..2"):
        shard_from_hostname("fleet-3", 3)
    assert resolve_shard(None, 1, "laptop") == Shard(0, 1)
    assert resolve_shard(None, 3, "fleet-1") == Shard(1, 3)
    assert resolve_shard("2/3", 3, "laptop") == Shard(2, 3)
    with pytest.raises(ValueError, match="spec.shards"):
        resolve_shard("0/2", 3, "fleet-0")
    assert Shard(0, 1).lease_name("fleet-leader") == "fleet-leader"
    assert Shard(2, 3).lease_name("fleet-leader") == "fleet-leader-shard-2"


class CountingSim(SimProvider):
    """The sim provider, recording which clusters each engine asked to change."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.started: list[str] = []

    def start(self, cluster, step):
        self.started.append(cluster.id)
        return super().start(cluster, step)


def test_two_shards_on_one_store_never_touch_each_others_clusters(store_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 8, pools=1, cp_minutes=1, pool_minutes=1)
    pol = [policy(rollout={"maxConcurrentClusters": 3})]
    shards, engines, providers, leases = [Shard(0, 2), Shard(1, 2)], [], [], []
    for sh in shards:
        store = Store(store_url)
        prov = CountingSim("sim", clock=clock, world=world)
        eng = make_engine(store, world, clock, pol, provider=prov, owns=sh.owns, shard=sh.index,
                          actor=f"shard-{sh.index}")
        leases.append(DatabaseLease(store, sh.lease_name("fleet-leader"), f"r{sh.index}", timedelta(seconds=30),
                                    clock, engine=eng))
        engines.append(eng)
        providers.append(prov)
    assert all(el.step() for el in leases)                  # one lease per shard: both lead at once
    assert {el.name for el in leases} == {"fleet-leader-shard-0", "fleet-leader-shard-1"}
    for _ in range(300):
        for el, eng in zip(leases, engines, strict=True):
            el.step()
            eng.reconcile()
        if all_at(world, "1.30.4") and not engines[0].store.runs(active_only=True):
            break
        clock.advance(timedelta(seconds=20))
    assert all_at(world, "1.30.4")
    store = engines[0].store
    for sh, prov, eng in zip(shards, providers, engines, strict=True):
        assert prov.started and all(sh.owns(c) for c in prov.started)
        assert {c.id for c in eng.last_plan.clusters} == {c for c in world.clusters if sh.owns(c)}
    runs = store.runs()
    assert {r.shard for r in runs} == {0, 1}
    for r in runs:
        members = store.members(r.id)
        assert members and all(shard_of(m.cluster_id, 2) == r.shard for m in members)
        actors = {e["actor"] for e in store.events(run_id=r.id, limit=100000)}
        assert actors == {f"shard-{r.shard}"}
    assert len(world.upgrade_log) == len(set(world.upgrade_log))


def test_daemon_refuses_a_bad_shard_option(tmp_path):
    import shutil
    import subprocess

    from tests.integration.fleetfiles import write_fleet
    cfg = write_fleet(tmp_path, n=1)
    fleet = shutil.which("fleet") or "fleet"
    for bad, why in (("3/3", "0..2"), ("x", "INDEX/COUNT")):
        r = subprocess.run([fleet, "daemon", "--config", str(cfg), "--shard", bad], capture_output=True, text=True,
                           timeout=60, check=False)
        assert r.returncode == 2 and "--shard: shard:" in r.stderr and why in r.stderr, r.stderr
