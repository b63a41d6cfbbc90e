"""The daemon's API for the fleet rollout: GET /api/v1/stages (qualification per version and stage) and
POST /api/v1/stages/{stage}/approve/{version} (an approval the engine's next tick uses)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fleet.clock import FakeClock
from fleet.daemon.api import create_app
from fleet.daemon.service import Daemon
from fleet.runtime import build_runtime
from tests.execution.helpers import START
from tests.integration.fleetfiles import write_fleet

TOKEN = "s3cr3t-canary-token"
ROLLOUT = """\
apiVersion: fleet.dev/v1alpha1
kind: RolloutStrategy
metadata: {name: gate}
spec:
  stages:
    - {name: test, selector: {matchLabels: {env: test}}, approval: required}
"""


def test_stages_endpoint_and_approval(tmp_path):
    cfg = write_fleet(tmp_path, n=2, token=TOKEN)
    (tmp_path / "policies" / "rollout.yaml").write_text(ROLLOUT)
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(cfg, clock), clock)
    try:
        assert daemon.tick() is not None
        client = TestClient(create_app(daemon), base_url="http://127.0.0.1")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        ro = client.get("/api/v1/stages", headers=auth).json()["rollout"]
        assert ro["name"] == "gate" and [s["name"] for s in ro["stages"]] == ["test", "unstaged"]
        version, by_stage = next(iter(ro["versions"].items()))
        assert "needs approval" in by_stage["test"]
        assert daemon.store.events(kind="step-dispatched") == []          # nothing starts unapproved
        r = client.post(f"/api/v1/stages/test/approve/v{version}", headers=auth)
        assert r.status_code == 200 and r.json() == {"approved": version, "stage": "test"}
        assert client.post("/api/v1/stages/nope/approve/1.29.1", headers=auth).status_code == 404
        assert client.post("/api/v1/stages/test/approve/banana", headers=auth).status_code == 404
        daemon.tick()
        ro = client.get("/api/v1/stages", headers=auth).json()["rollout"]
        assert ro["versions"][version]["test"] == "may start"
        assert daemon.store.events(kind="step-dispatched")
    finally:
        daemon.stop()
