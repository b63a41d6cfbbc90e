"""OKE, AKS, GKE and Cluster API on the rate-limit kit (fleet.ratelimit), against their emulators over real HTTP:
discovery requests do not grow with the clusters' count where the API lists in bulk, offers are read once per
location while cached, every read is counted per scope, and (Cluster API) management clusters are read
concurrently, a throttled one waiting out its Retry-After alone (docs/scale.md)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet import ratelimit
from fleet.clock import FakeClock
from fleet.errors import TemporaryProviderError
from fleet.provider import Component, Step
from providers.capi.adapter import CapiProvider
from providers.capi.emulator.kit import TOKEN, oci_image, write_kubeconfig
from providers.capi.emulator.server import CapiEmulator
from providers.capi.settings import parse_settings
from tests.providers.harness import KitHarness, make_harness

SEEDS = {"oke": ("v1.29.1", {"pool1": "v1.29.1"}, ["v1.29.1", "v1.30.1"]),
         "aks": ("1.29.2", {"np": "1.29.2"}, ["1.29.2", "1.30.1"]),
         "gke": ("1.29.2-gke.1000", {"default": "1.29.2-gke.1000"}, ["1.29.2-gke.1000", "1.30.1-gke.1000"]),
         "capi": ("v1.29.2", {}, ["v1.29.2", "v1.30.4"])}     # MachineDeployment names are per namespace


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


# ---- Cluster API: the scope is a management cluster (its API server) -------------------------------------

VERSIONS = ["v1.29.2", "v1.30.4"]


class GateClock(FakeClock):
    """A FakeClock whose ``sleep`` (the limiter's wait for a token or a Retry-After) first waits, in real time,
    until ``ready()`` holds or ``timeout`` real seconds pass, and records each wait and whether it held."""

    def __init__(self) -> None:
        super().__init__()
        self.ready: Callable[[], bool] = lambda: True
        self.timeout = 5.0
        self.waits: list[tuple[float, bool]] = []

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.ready() and time.monotonic() < deadline:
            time.sleep(0.005)
        self.waits.append((seconds, self.ready()))
        super().sleep(seconds)


@pytest.fixture
def mgmts() -> Iterator[tuple[GateClock, dict[str, CapiEmulator], Path]]:
    """Two emulated management clusters (``east``, ``west``) on one GateClock, one workload cluster each."""
    clock = GateClock()
    emus = {name: CapiEmulator(clock, token=TOKEN) for name in ("east", "west")}
    tmp = Path(tempfile.mkdtemp(prefix="capi-kit-"))
    for name, e in emus.items():
        e.start()
        e.add_cluster(f"{name}-1", "v1.29.2", pools={"md-0": 2})
    write_kubeconfig(tmp / "kubeconfig", {name: e.url for name, e in emus.items()})
    yield clock, emus, tmp
    for e in emus.values():
        e.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def _capi(clock: FakeClock, tmp: Path, **extra: Any) -> CapiProvider:
    settings = {"managementClusters": [{"kubeconfig": str(tmp / "kubeconfig"), "context": "east"},
                                       {"kubeconfig": str(tmp / "kubeconfig"), "context": "west"}],
                "images": {"OCIMachineTemplate": {v: oci_image(v) for v in VERSIONS}}, **extra}
    return CapiProvider("capi", settings, clock=clock)


def _calls(scope: str) -> tuple[int, int]:
    st = ratelimit.snapshot().get(("capi", scope))
    return (st.calls, st.throttles) if st else (0, 0)


def _discovery_size(clock: GateClock, emus: dict[str, CapiEmulator], tmp: Path) -> dict[str, int]:
    """Requests a fresh adapter's discovery makes to each management cluster."""
    before = {n: len(e.server.log) for n, e in emus.items()}
    assert len(_capi(clock, tmp).discover()) == 2
    return {n: len(e.server.log) - before[n] for n, e in emus.items()}


def test_capi_a_throttled_management_cluster_waits_alone_and_is_retried(mgmts: Any) -> None:
    clock, emus, tmp = mgmts
    size = _discovery_size(clock, emus, tmp)
    east, west = emus["east"].server, emus["west"].server
    west_done = len(west.log) + size["west"]
    clock.ready = lambda: len(west.log) >= west_done
    before = {n: _calls(n) for n in emus}
    start = clock.now()
    emus["east"].inject("apf-throttle")           # the API server's APF answer: 429, Retry-After: 1
    n_east = len(east.log)
    found = _capi(clock, tmp).discover()
    assert sorted(c.id for c in found) == ["capi/east/default/east-1", "capi/west/default/west-1"]
    # east waited out the Retry-After on the provider's clock, and the whole of west's discovery ran meanwhile
    assert clock.waits and clock.waits[0] == (1.0, True)
    assert (clock.now() - start).total_seconds() >= 1.0
    first, retry = east.log[n_east], east.log[n_east + 1]
    assert (first.method, first.path) == (retry.method, retry.path)       # the throttled read, again
    assert len(east.log) - n_east == size["east"] + 1
    # every read counted in its management cluster's scope, the 429 as a throttle of east only
    assert _calls("east") == (before["east"][0] + size["east"] + 1, before["east"][1] + 1)
    assert _calls("west") == (before["west"][0] + size["west"], before["west"][1])


def test_capi_management_clusters_are_read_one_at_a_time_with_api_concurrency_1(mgmts: Any) -> None:
    clock, emus, tmp = mgmts
    west = emus["west"].server
    clock.ready, clock.timeout = (lambda: len(west.log) > 0), 0.5
    emus["east"].inject("apf-throttle")
    assert len(_capi(clock, tmp, apiConcurrency=1).discover()) == 2
    assert clock.waits[0] == (1.0, False)           # west had not started while east waited


def test_capi_a_throttle_that_outlasts_the_retries_reaches_the_caller(mgmts: Any) -> None:
    clock, emus, tmp = mgmts
    p = _capi(clock, tmp)
    for _ in range(1 + p.limiter.retries):
        emus["east"].inject("throttle")            # the Status shape: details.retryAfterSeconds 2, Retry-After 2
    with pytest.raises(TemporaryProviderError) as info:
        p.discover()
    assert info.value.retry_after == 2.0 and info.value.code == "429"
    assert len(p.discover()) == 2


def test_capi_starts_and_polls_stay_off_the_kit_offers_do_not(mgmts: Any) -> None:
    clock, emus, tmp = mgmts
    p = _capi(clock, tmp)
    c = next(x for x in p.discover() if x.id == "capi/west/default/west-1")
    west = emus["west"].server
    n, calls = len(west.log), _calls("west")[0]
    assert "v1.30.4" in p.offers(c).control_plane
    assert _calls("west")[0] - calls == len(west.log) - n > 0            # offers: every read counted
    n, calls = len(west.log), _calls("west")[0]
    op = p.start(c, Step(Component.CONTROL_PLANE, to="v1.30.4", from_="v1.29.2"))
    p.poll(c, op)
    assert len(west.log) > n and _calls("west")[0] == calls              # start and poll: not on the kit


@pytest.mark.parametrize("flavour", ["kubeadm", "eks"])
def test_capi_discovery_requests_do_not_grow_with_the_clusters(flavour: str) -> None:
    """Clusters, KubeadmControlPlanes, MachineDeployments and MachinePools: one list each per namespace scope
    (a managed control plane, and an infrastructure pool, is still one get each)."""
    h = make_harness("capi", flavour=flavour)
    h.start()
    try:
        for i in range(2):
            h.kit.seed(f"a{i}", "v1.29.2", {f"a{i}-pool": "v1.29.2"}, ["v1.29.2", "v1.30.4"])
        p = h.provider()
        p.discover()                                      # API groups and resources, read once
        few = _discovery_requests(h, p)
        for i in range(6):
            h.kit.seed(f"b{i}", "v1.29.2", {f"b{i}-pool": "v1.29.2"}, ["v1.29.2", "v1.30.4"])
        assert len(p.discover()) == 8
        many = _discovery_requests(h, p)
        per_cluster = 0 if flavour == "kubeadm" else 2    # EKS: its AWSManagedControlPlane, its node group
        assert many == few + 6 * per_cluster
        if flavour == "kubeadm":
            assert few == 4                               # KCPs, MachineDeployments, MachinePools, Clusters
    finally:
        h.stop()


def test_capi_rate_limit_settings() -> None:
    base = {"managementClusters": [{"kubeconfig": "k"}]}
    s = parse_settings(base)
    assert (s.api_rate_per_second, s.api_burst, s.api_concurrency) == (10.0, 20, 8)
    s = parse_settings({**base, "apiRatePerSecond": 5, "apiBurst": 10, "apiConcurrency": 2})
    assert (s.api_rate_per_second, s.api_burst, s.api_concurrency) == (5.0, 10, 2)
    for bad, key in [({"apiRatePerSecond": 0}, "apiRatePerSecond"), ({"apiBurst": 0}, "apiBurst"),
                     ({"apiConcurrency": 0}, "apiConcurrency"), ({"apiConcurrency": 129}, "apiConcurrency"),
                     ({"apiQps": 5}, "apiQps")]:
        with pytest.raises(ValueError, match=key):
            parse_settings({**base, **bad})
    p = CapiProvider("capi", {**base, "apiRatePerSecond": 3, "apiBurst": 4, "apiConcurrency": 2})
    assert (p.limiter.rate, p.limiter.burst, p.limiter.concurrency) == (3, 4, 2)
