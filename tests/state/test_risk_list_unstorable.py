"""The risk list never fails whole on one cluster id the store cannot hold (#22): that id is left out."""

from __future__ import annotations

from datetime import UTC, datetime

from fleet.state import open_store
from fleet.state.risks import RISK_KIND, RiskEntry, RiskListChange

AT = datetime(2026, 3, 1, tzinfo=UTC)
NUL_ID = "eks/eu/bad\x00name"
LONG_ID = "gke/p/" + "x" * 600


def test_unstorable_ids_are_left_out_and_the_rest_is_written(state_url):
    store = open_store(state_url)
    try:
        ids = ["aks/s/ok-1", NUL_ID, LONG_ID, "oke/t/ok-2"]
        entries = [RiskEntry(c, "support ends first", AT) for c in ids]
        written = store.apply_risk_list(lambda stored: RiskListChange(sorted(ids), entries))
        assert store.risk_list() == ["aks/s/ok-1", "oke/t/ok-2"]
        assert sorted(e["cluster_id"] for e in store.events(kind=RISK_KIND)) == ["aks/s/ok-1", "oke/t/ok-2"]
        assert [e.cluster_id for e in written] == ["aks/s/ok-1", "oke/t/ok-2"]
    finally:
        store.close()
