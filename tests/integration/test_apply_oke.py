"""`fleet apply --config` (the installed command) against the OKE emulator on 127.0.0.1: a two-node-pool cluster
goes patch-first then two minors, and the cloud's side shows each upgrade once, in order, with the budget."""

from __future__ import annotations

import json

from fleet.clock import ScaledClock, SystemClock
from providers.oke.adapter import TARGET_TAG
from providers.oke.emulator.server import DEFAULT_COMPARTMENT, DEFAULT_REGION, OkeEmulator
from tests.integration.cloudfleet2 import (
    apply,
    dispatched_steps,
    fleet,
    history,
    run_clusters,
    status,
    write_cloud_fleet,
)
from tests.providers.harness_oke import oke_auth

VERSIONS = ["v1.30.1", "v1.30.10", "v1.31.1", "v1.31.10", "v1.32.1"]
HOPS = ("v1.30.10", "v1.31.10", "v1.32.1")
SIM_MINUTE = 60.0           # the emulator's clock runs 60x real time: one simulated minute is one second


def test_two_pools_patch_first_then_two_minors(tmp_path):
    emu = OkeEmulator(ScaledClock(SystemClock().now(), SIM_MINUTE), cluster_minutes=0.5, node_minutes=0.25,
                      accept_seconds=6.0).start()
    try:
        emu.add_cluster("web", "v1.30.1", {"pool-a": "v1.30.1", "pool-b": "v1.30.1"}, available=VERSIONS, nodes=4,
                        tags={"team": "web"})
        auth = oke_auth()
        (tmp_path / "oci-key.pem").write_text(auth["privateKey"])
        settings = {"compartments": [DEFAULT_COMPARTMENT], "regions": [DEFAULT_REGION], "endpoint": emu.endpoint,
                    "auth": {"tenancy": auth["tenancy"], "user": auth["user"], "fingerprint": auth["fingerprint"],
                             "privateKeyFile": "oci-key.pem"},
                    "timeoutSeconds": 5, "pollIntervalSeconds": 1}
        cfg = write_cloud_fleet(tmp_path, provider="oke", ptype="oke", settings=settings, target="1.32",
                                node_pools={"maxSurge": "50%", "maxUnavailable": 1, "drainTimeout": "10m"})

        r = apply(cfg)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "run-done" in r.stdout and "Traceback" not in r.stderr
        assert auth["privateKey"].splitlines()[5] not in r.stdout + r.stderr

        # the cloud's side: control plane then each pool, per hop, each upgrade requested exactly once
        log = emu.upgrade_log
        assert [(x["kind"], x["nodePoolName"], x["kubernetesVersion"]) for x in log] == [
            (kind, pool, v) for v in HOPS for kind, pool in (("cluster", None), ("nodePool", "pool-a"),
                                                             ("nodePool", "pool-b"))]
        assert len({x["workRequestId"] for x in log}) == len(log) == 9
        # on the wire: exactly those nine PUTs (a duplicate would show here even if OKE refused it with 409)
        pool_ids = {p.name: p.id for p in emu.cluster_by_name("web").pools.values()}
        puts = [r.path.split("/")[-2:] for r in emu.requests if r.method == "PUT"]
        assert puts == [[kind, rid] for _ in HOPS for kind, rid in (
            ("clusters", emu.cluster_by_name("web").id), ("nodePools", pool_ids["pool-a"]),
            ("nodePools", pool_ids["pool-b"]))]
        assert all(emu.work_requests[x["workRequestId"]].status == "SUCCEEDED" for x in log)
        for x in log:
            assert x["body"]["freeformTags"][TARGET_TAG] == x["kubernetesVersion"]
            if x["kind"] == "nodePool":        # the policy's budget as OKE's node pool cycling knobs
                assert x["nodePoolCyclingDetails"] == {"isNodeCyclingEnabled": True, "maximumSurge": "50%",
                                                       "maximumUnavailable": "1"}
                assert x["nodeEvictionNodePoolSettings"] == {"evictionGraceDuration": "PT10M"}
        c = emu.cluster_by_name("web")
        assert c.version == "v1.32.1" and c.tags == {"team": "web", TARGET_TAG: "v1.32.1"}
        for pool in c.pools.values():
            assert pool.version == "v1.32.1" and {n["kubernetesVersion"] for n in pool.nodes} == {"v1.32.1"}
            assert len(pool.nodes) == 4

        # fleet's side: the run is done, and its journal matches what the cloud saw
        cid = f"oke/{DEFAULT_REGION}/web"
        st = status(cfg)
        assert [r["status"] for r in st["runs"]] == ["done"] and st["openSteps"] == []
        assert run_clusters(st)[cid]["status"] == "done"
        events = history(cfg, cid)
        steps = dispatched_steps(events)
        assert len(steps) == len(set(steps)) == 9
        ops = [e["operation_id"] for e in events if e["kind"] == "step-dispatched"]
        assert ops == [x["workRequestId"] for x in log]
        kinds = [e["kind"] for e in events]
        assert kinds.count("step-succeeded") == 9 and kinds[-1] == "cluster-upgraded"
        assert not {"step-failed", "step-retry"} & set(kinds)

        # nothing left to do: a second apply issues nothing
        again = apply(cfg)
        assert again.returncode == 0, again.stdout + again.stderr
        assert len(emu.upgrade_log) == 9
    finally:
        emu.stop()


def test_basic_cluster_is_never_reported_upgraded_while_its_nodes_are_old(tmp_path):
    """OKE cycles nodes only on ENHANCED clusters: on a BASIC cluster a pool's version change reaches only new
    nodes, so fleet must not send it and must not report the cluster upgraded (blocked or failed, with why)."""
    emu = OkeEmulator(ScaledClock(SystemClock().now(), SIM_MINUTE), cluster_minutes=0.5, node_minutes=0.25,
                      accept_seconds=6.0).start()
    try:
        emu.add_cluster("basic", "v1.31.1", {"pool-a": "v1.31.1"}, available=VERSIONS, nodes=2,
                        cluster_type="BASIC_CLUSTER")
        auth = oke_auth()
        settings = {"compartments": [DEFAULT_COMPARTMENT], "regions": [DEFAULT_REGION], "endpoint": emu.endpoint,
                    "auth": {"tenancy": auth["tenancy"], "user": auth["user"], "fingerprint": auth["fingerprint"],
                             "privateKey": auth["privateKey"]},
                    "timeoutSeconds": 5, "pollIntervalSeconds": 1}
        cfg = write_cloud_fleet(tmp_path, provider="oke", ptype="oke", settings=settings, target="1.31",
                                node_pools={"maxSurge": 1, "maxUnavailable": 0})
        r = apply(cfg)
        assert "Traceback" not in r.stderr
        assert not [x for x in emu.upgrade_log if x["kind"] == "nodePool"]      # no pool upgrade was sent
        pool = next(iter(emu.cluster_by_name("basic").pools.values()))
        assert {n["kubernetesVersion"] for n in pool.nodes} == {"v1.31.1"}
        cid = f"oke/{DEFAULT_REGION}/basic"
        member = run_clusters(status(cfg)).get(cid)      # planned as blocked: no run takes it at all
        assert member is None or member["status"] != "done"
        h = fleet("history", "--config", str(cfg), cid, "-o", "json")
        if member is None:      # never in a run, nothing journaled: `fleet history` says so and exits 2 (#19)
            assert h.returncode == 2 and "no history" in h.stdout + h.stderr, h.stdout + h.stderr
        else:
            assert h.returncode == 0 and "cluster-upgraded" not in [e["kind"] for e in json.loads(h.stdout)]
        p = fleet("plan", "--config", str(cfg), "--format", "json")
        cp = [c for c in json.loads(p.stdout)["clusters"] if c["id"] == cid][0]
        assert cp["status"] == "blocked"
        assert "ENHANCED" in " ".join(cp["reasons"]), cp["reasons"]
    finally:
        emu.stop()
