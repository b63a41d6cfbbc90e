"""fleet.execution.engine.compute_new_runs: which planned clusters a new run takes (a table, no store)."""

from __future__ import annotations

import pytest

from fleet.execution.engine import compute_new_runs
from fleet.execution.model import Member, MemberStatus
from fleet.planning.plan import ClusterPlan


def cp(cid: str, status: str = "needs-upgrade", policy: str | None = "p") -> ClusterPlan:
    return ClusterPlan(cid, "sim", "sim", cid, "lab", {}, policy, status, "1.28.3", {})


def member(cid: str, status: MemberStatus) -> Member:
    return Member("old", cid, "sim", "default", 0, status)


@pytest.mark.parametrize(("planned", "latest", "in_runs", "want"), [
    ([cp("a"), cp("b", policy="q")], {}, set(), {"p": ["a"], "q": ["b"]}),
    ([cp("a", "up-to-date"), cp("b", "blocked"), cp("c", policy=None)], {}, set(), {}),
    ([cp("a"), cp("b")], {}, {"a"}, {"p": ["b"]}),                                   # already in an active run
    ([cp("a"), cp("b")], {"a": member("a", MemberStatus.FAILED)}, set(), {"p": ["b"]}),   # waits for `fleet retry`
    ([cp("a")], {"a": member("a", MemberStatus.DONE)}, set(), {"p": ["a"]}),          # upgraded before: again
])
def test_new_runs(planned, latest, in_runs, want):
    got = compute_new_runs(planned, latest, in_runs)
    assert {p: [c.id for c in cps] for p, cps in got.items()} == want


def test_a_policy_with_an_active_run_starts_no_second_one():
    got = compute_new_runs([cp("a"), cp("b", policy="q")], {}, set(), {"p"})
    assert {p: [c.id for c in cps] for p, cps in got.items()} == {"q": ["b"]}
