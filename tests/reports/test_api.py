"""The daemon's /api/v1/clusters carries each cluster's compliance status and, independently, its upgrade
state, filters on both server-side, and answers unknown filter values with 400."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from fleet.clock import FakeClock
from fleet.daemon.api import create_app
from fleet.daemon.service import Daemon
from fleet.runtime import build_runtime
from tests.integration.fleetfiles import write_fleet

START = datetime(2026, 1, 5, 10, tzinfo=UTC)
TOKEN = "s3cr3t-canary-token"


def test_clusters_carry_compliance_and_upgrade_state(tmp_path):
    cfg = write_fleet(tmp_path, n=3, concurrency=2)
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(cfg, clock), clock)
    try:
        daemon.tick()
        client = TestClient(create_app(daemon), base_url="http://127.0.0.1")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        every = client.get("/api/v1/clusters", headers=auth).json()
        assert every["total"] == 3
        for c in every["clusters"]:
            # eks 1.28 left every support before 2026: out of support AND being upgraded, both shown
            assert c["compliance"]["status"] == "end-of-extended-support"
            assert c["upgradeState"]["state"] in ("upgrading", "pending")
        states = sorted(c["upgradeState"]["state"] for c in every["clusters"])
        assert states == ["pending", "upgrading", "upgrading"]  # maxConcurrentClusters: 2
        up = client.get("/api/v1/clusters?upgradeState=upgrading", headers=auth).json()
        assert up["total"] == 2 and {c["upgradeState"]["state"] for c in up["clusters"]} == {"upgrading"}
        eos = client.get("/api/v1/clusters?compliance=end-of-extended-support&limit=1", headers=auth).json()
        assert eos["total"] == 3 and len(eos["clusters"]) == 1
        for bad in ("status=bogus", "upgradeState=bogus", "compliance=bogus"):
            r = client.get(f"/api/v1/clusters?{bad}", headers=auth)
            assert r.status_code == 400, bad
            assert "bogus" in r.json()["detail"] and "is not one of" in r.json()["detail"]
        for bad in ("/api/v1/clusters?limit=0", "/api/v1/clusters?offset=x", "/api/v1/events?after=-1",
                    "/api/v1/events?limit=abc"):
            r = client.get(bad, headers=auth)
            assert r.status_code == 400, (bad, r.status_code)
            assert r.json()["detail"][0]["loc"][0] == "query"
    finally:
        daemon.stop()
