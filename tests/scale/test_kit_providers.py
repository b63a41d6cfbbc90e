"""OKE, AKS and GKE on the rate-limit kit (fleet.ratelimit), against their emulators over real HTTP: discovery
requests do not grow with the clusters' count where the API lists in bulk, offers are read once per location
while cached, and every read is counted per scope (docs/scale.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleet import ratelimit
from tests.providers.harness import KitHarness, make_harness

SEEDS = {"oke": ("v1.29.1", {"pool1": "v1.29.1"}, ["v1.29.1", "v1.30.1"]),
         "aks": ("1.29.2", {"np": "1.29.2"}, ["1.29.2", "1.30.1"]),
         "gke": ("1.29.2-gke.1000", {"default": "1.29.2-gke.1000"}, ["1.29.2-gke.1000", "1.30.1-gke.1000"])}


def _server(h: KitHarness) -> Any:
    return getattr(h.kit, "emulator", h.kit).server


def _started(kind: str) -> Iterator[KitHarness]:
    harness = make_harness(kind)
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture(params=sorted(SEEDS))
def h(request: pytest.FixtureRequest) -> Iterator[KitHarness]:
    yield from _started(request.param)


@pytest.fixture(params=["aks", "gke"])
def by_location(request: pytest.FixtureRequest) -> Iterator[KitHarness]:
    """The clouds whose offers() reads a per-location list (AKS ListKubernetesVersions, GKE GetServerConfig)."""
    yield from _started(request.param)


@pytest.fixture
def oke() -> Iterator[KitHarness]:
    yield from _started("oke")


def _seed(h: KitHarness, n: int, prefix: str) -> None:
    cp, pools, available = SEEDS[h.type]
    for i in range(n):
        h.seed(f"{prefix}{i}", cp, pools, available)


def _discovery_requests(h: KitHarness, p: Any) -> int:
    srv = _server(h)
    before = len(srv.log)
    p.discover()
    return len(srv.log) - before


def test_oke_discovery_requests_do_not_grow_with_the_clusters(oke: KitHarness) -> None:
    h = oke
    _seed(h, 2, "a")
    p = h.provider()
    few = _discovery_requests(h, p)
    _seed(h, 8, "b")
    assert len(p.discover()) == 10
    assert _discovery_requests(h, p) == few      # ListClusters, ListNodePools, GetClusterOptions


def test_offers_of_one_location_are_read_once_while_cached(by_location: KitHarness) -> None:
    h = by_location
    _seed(h, 3, "c")
    ttl = {"aks": "versionsEverySeconds", "gke": "serverConfigEverySeconds"}[h.type]
    cached, uncached = h.provider(**{ttl: 3600}), h.provider()
    srv = _server(h)

    def offer_requests(p: Any) -> list[str]:
        clusters = p.discover()
        n = len(srv.log)
        for c in clusters:
            p.offers(c)
        return [r.path for r in srv.log[n:]]

    per_location = {"aks": "kubernetesVersions", "gke": "serverConfig"}[h.type]
    with_cache = [x for x in offer_requests(cached) if per_location in x]
    without = [x for x in offer_requests(uncached) if per_location in x]
    assert len(with_cache) == 1 and len(without) == 3
    h.clock.advance(3601)                                  # the cache expires on the provider's clock
    assert len([x for x in offer_requests(cached) if per_location in x]) == 1


def test_every_read_is_counted_per_scope(h: KitHarness) -> None:
    _seed(h, 2, "d")
    p = h.provider()
    name = getattr(p, "name", h.type)
    before = {k: v.calls for k, v in ratelimit.snapshot().items() if k[0] == name}
    n = len(_server(h).log)
    p.discover()
    made = len(_server(h).log) - n
    after = {k: v.calls for k, v in ratelimit.snapshot().items() if k[0] == name}
    counted = sum(after.values()) - sum(before.values())
    assert made >= 1 and counted == made
