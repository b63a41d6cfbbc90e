"""EKS incremental discovery against the emulator over real HTTP: list, then describe only what is new,
busy or due; ``refresh`` reads one cluster."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from fleet import ratelimit
from tests.providers.harness_eks import EksHarness


@pytest.fixture
def eks() -> Iterator[EksHarness]:
    h = EksHarness()
    h.start()
    try:
        yield h
    finally:
        h.stop()


def _eks_calls(h: EksHarness) -> list[str]:
    return [r.headers.get("X-Amz-Target", "") or f"{r.method} {r.path}" for r in h.emulator.log]


def test_second_discovery_lists_only(eks: EksHarness) -> None:
    ids = [eks.seed(f"c{i}", "1.29", {"ng": "1.29.0-20240105"}, ["1.29", "1.30"]) for i in range(3)]
    p = eks.provider(describeEverySeconds=1800)
    first = {c.id for c in p.discover()}
    assert first == set(ids)
    n = len(eks.emulator.server.log)
    eks.clock.advance(timedelta(minutes=10))
    again = p.discover()
    assert {c.id for c in again} == set(ids)
    new = [r for r in eks.emulator.server.log[n:] if "/ssm" not in r.path.lower()]
    assert [r.path for r in new if r.method == "GET" and r.path.startswith("/clusters/")] == []   # no describe
    assert any(r.path == "/clusters" for r in new)                                                # one list
    eks.clock.advance(timedelta(minutes=25))                                                      # 35 min: due
    m = len(eks.emulator.server.log)
    p.discover()
    assert sum(1 for r in eks.emulator.server.log[m:] if r.path.startswith("/clusters/c")) >= 3


def test_new_clusters_are_described_at_once_and_gone_ones_forgotten(eks: EksHarness) -> None:
    eks.seed("a", "1.29", {"ng": "1.29.0-20240105"}, ["1.29", "1.30"])
    p = eks.provider(describeEverySeconds=1800)
    assert [c.name for c in p.discover()] == ["a"]
    eks.seed("b", "1.29", {"ng": "1.29.0-20240105"}, ["1.29", "1.30"])
    assert sorted(c.name for c in p.discover()) == ["a", "b"]


def test_refresh_reads_one_cluster(eks: EksHarness) -> None:
    cid = eks.seed("r", "1.29", {"ng": "1.29.0-20240105"}, ["1.29", "1.30"])
    p = eks.provider(describeEverySeconds=1800)
    (c,) = p.discover()
    n = len(eks.emulator.server.log)
    fresh = p.refresh(c)  # type: ignore[attr-defined]
    assert fresh is not None and fresh.id == cid and fresh.control_plane == "1.29"
    assert not any(r.path == "/clusters" for r in eks.emulator.server.log[n:])      # no list: this cluster only


def test_the_rate_limit_paces_calls_on_the_provider_clock(eks: EksHarness) -> None:
    """The regression that stalled `fleet demo` (docs/scale.md): the token bucket waited on the wall clock
    while the clouds and the daemon ran on a virtual one. On the harness's FakeClock every wait for a token
    moves that clock instead, and the calls go at the configured rate of *its* seconds."""
    for i in range(2):
        eks.seed(f"p{i}", "1.29", {"ng": "1.29.0-20240105"}, ["1.29", "1.30"])
    p = eks.provider(apiRatePerSecond=1, apiBurst=2)
    calls_before = sum(st.calls for (prov, _), st in ratelimit.snapshot().items() if prov == p.name)
    t0, start = time.monotonic(), eks.clock.now()
    for _ in range(3):
        assert len(p.discover()) == 2
    calls = sum(st.calls for (prov, _), st in ratelimit.snapshot().items() if prov == p.name) - calls_before
    assert calls >= 15
    assert eks.clock.now() - start >= timedelta(seconds=calls - 2 - 1)   # all but the burst, 1 per second
    assert time.monotonic() - t0 < (calls - 2) / 2        # far less than those seconds on the wall clock


def test_re_descriptions_are_spread_over_the_period(eks: EksHarness) -> None:
    """A fleet described at once at start-up is not described again all at once every describeEverySeconds:
    each cluster has its own slot in the period, and none goes undescribed longer than the period."""
    names = [f"s{i:02d}" for i in range(30)]
    for n in names:
        eks.seed(n, "1.29", {"ng": "1.29.0-20240105"}, ["1.29", "1.30"])
    p = eks.provider(describeEverySeconds=1800)
    assert len(p.discover()) == 30
    last = {n: eks.clock.now() for n in names}
    per_discovery = []
    for _ in range(12):                                   # two hours of discoveries every 10 minutes
        eks.clock.advance(timedelta(minutes=10))
        m = len(eks.emulator.server.log)
        assert len(p.discover()) == 30
        described = {r.path.rsplit("/", 1)[-1] for r in eks.emulator.server.log[m:]
                     if r.method == "GET" and r.path.startswith("/clusters/s") and r.path.count("/") == 2}
        per_discovery.append(len(described))
        for n in described:
            last[n] = eks.clock.now()
        assert all(eks.clock.now() - t <= timedelta(seconds=1800) for t in last.values())
    assert per_discovery[0] == 0                          # 10 minutes: nothing is half a period old
    assert max(per_discovery) < 30, per_discovery         # before: all 30 at 30, 60, 90 minutes
    assert max(per_discovery[5:]) <= 20, per_discovery    # after the first period: spread over its slots
    assert sum(per_discovery) <= 30 * 5, per_discovery    # about once a period each, as before
