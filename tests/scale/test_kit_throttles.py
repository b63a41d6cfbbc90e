"""A cloud's throttle against a 5xx on the rate-limit kit (fleet.ratelimit), over real HTTP: each emulator
meters its requests on the harness's clock (``EmulatorServer.meter(..., clock=)``), the clock the adapter waits
on, so every 429 and every pause is exact (docs/scale.md "Bounded concurrency and rate limits per cloud
scope")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleet import ratelimit
from fleet.errors import TemporaryProviderError, ThrottledError
from tests.providers.harness import KitHarness, make_harness

SEEDS = {"aks": ("1.29.2", {"np": "1.29.2"}, ["1.29.2", "1.30.1"]),
         "eks": ("1.29", {"ng": "1.29.0-20240105"}, ["1.29", "1.30"]),
         "gke": ("1.29.2-gke.1000", {"default": "1.29.2-gke.1000"}, ["1.29.2-gke.1000", "1.30.1-gke.1000"]),
         "oke": ("v1.29.1", {"pool1": "v1.29.1"}, ["v1.29.1", "v1.30.1"])}
SEQUENTIAL = {"eks": {"apiConcurrency": 1}}     # EKS runs a stage's calls of a scope at once: one at a time here


@pytest.fixture(params=sorted(SEEDS))
def h(request: pytest.FixtureRequest) -> Iterator[KitHarness]:
    harness = make_harness(request.param)
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


def _server(h: KitHarness) -> Any:
    return getattr(h.kit, "emulator", h.kit).server


def _throttles(name: str) -> int:
    return sum(v.throttles for k, v in ratelimit.snapshot().items() if k[0] == name)


def test_the_clouds_429_pauses_the_scope_and_is_retried_but_a_503_is_handed_back(h: KitHarness) -> None:
    cp, pools, available = SEEDS[h.type]
    for i in range(3):
        h.seed(f"t{i}", cp, pools, available)
    p = h.provider(**SEQUENTIAL.get(h.type, {}))
    name = getattr(p, "name", h.type)
    srv = _server(h)
    # the emulator meters 1 request/s (burst 1) on the harness's clock: a request over it is answered 429 +
    # Retry-After (2 s), the kit pauses the scope 2 s on that clock and retries, and the request goes through
    srv.meter(rate_limit=1, burst=1, clock=h.clock)
    before, start = _throttles(name), h.clock.now()
    for _ in range(2):                                             # GKE lists a project in one request
        assert sorted(c.name for c in p.discover()) == ["t0", "t1", "t2"]
    throttled = srv.throttled
    assert throttled >= 1
    assert _throttles(name) - before == throttled                 # each 429 counted once, as a throttle
    assert (h.clock.now() - start).total_seconds() >= srv.retry_after * throttled
    # a 503 with Retry-After is temporary but no quota signal: the kit hands it back at once, not retried,
    # not counted as a throttle, the scope not paused
    srv.meter()
    before, start, n = _throttles(name), h.clock.now(), len(srv.log)
    h.inject("server-error")
    with pytest.raises(TemporaryProviderError) as info:
        p.discover()
    assert not isinstance(info.value, ThrottledError) and info.value.retry_after == srv.retry_after
    assert len(srv.log) - n == 1                                   # the one request, no retry
    assert _throttles(name) == before
    assert (h.clock.now() - start).total_seconds() < srv.retry_after      # no pause (at most a wait for a token)
    assert len(p.discover()) == 3
