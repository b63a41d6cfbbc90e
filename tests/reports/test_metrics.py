"""The daemon's compliance metrics come from the same classification as the report."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from fleet.daemon.metrics import Metrics
from fleet.reports.compliance import Membership

from .helpers import AT, lifecycle, plan_of, planned


def _samples(m: Metrics) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(m.render().decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_observe_compliance():
    m = Metrics()
    plan = plan_of(planned("1.34.2", cid="a"), planned("1.32.4", cid="b"), planned("1.36.1", cid="c"))
    m.observe_compliance(plan, lifecycle(), AT, {"a": Membership("r1", "failed")})
    s = _samples(m)
    info = {dict(k[1])["cluster"]: dict(k[1]) for k in s if k[0] == "fleet_cluster_compliance_info"}
    assert info["a"]["status"] == "compliant" and info["b"]["status"] == "end-of-standard-support"
    assert info["c"] == {"cluster": "c", "provider": "eks", "version": "1.36.1", "minor": "1.36", "status": "compliant"}
    days = {(dict(k[1])["cluster"], dict(k[1])["support"]): v for k, v in s.items() if k[0] == "fleet_cluster_support_days"}
    assert days[("a", "standard")] == 104 and days[("b", "standard")] == -150 and days[("b", "extended")] == 215
    assert ("c", "standard") not in days  # unknown: no series rather than a guess
    by = {dict(k[1])["status"]: v for k, v in s.items() if k[0] == "fleet_clusters_by_compliance"}
    assert len(by) == 7 and by["compliant"] == 2 and by["behind-minor"] == 0
    states = {dict(k[1])["state"]: v for k, v in s.items() if k[0] == "fleet_clusters_by_upgrade_state"}
    assert len(states) == 8 and states["failed"] == 1 and states["none"] == 2 and states["blocked"] == 0
    assert s[("fleet_clusters_support_unknown", ())] == 1
    assert s[("fleet_lifecycle_as_of_timestamp_seconds", ())] == 1785542400  # 2026-08-01

    m.observe_compliance(plan_of(planned("1.34.2", cid="a")), lifecycle(), AT)  # clusters that left disappear
    s = _samples(m)
    assert {dict(k[1])["cluster"] for k in s if k[0] == "fleet_cluster_compliance_info"} == {"a"}


def test_active_lifecycle_falls_back_to_the_shipped_data(tmp_path, monkeypatch):
    broken = tmp_path / "lifecycle.yaml"
    broken.write_text("apiVersion: fleet.dev/v1alpha1\nkind: LifecycleData\n")
    monkeypatch.setenv("FLEET_LIFECYCLE_FILE", str(broken))
    m = Metrics()
    assert m.active_lifecycle().source == "builtin"


def test_memberships_from_a_store(tmp_path):
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from fleet.state import schema as S
    from fleet.state.store import SqlStore as Store
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    t = datetime(2026, 8, 1, tzinfo=UTC)
    with store.write() as conn:
        conn.execute(insert(S.runs).values(id="r1", policy="p", policy_snapshot={}, status="running", failures=0,
                                           approved_waves=[], wave_done_at={}, created_at=t, updated_at=t))
        conn.execute(insert(S.run_clusters).values(run_id="r1", cluster_id="a", provider="eks", wave="w",
                                                   wave_index=0, status="active", message=""))
    m = Metrics()
    m.observe_compliance(plan_of(planned("1.34.2", cid="a")), lifecycle(), AT, store=store)
    store.close()
    assert 'fleet_clusters_by_upgrade_state{state="upgrading"} 1.0' in m.render().decode()
