"""kOps on the rate-limit kit (fleet.ratelimit; docs/scale.md), against the kops emulator over real HTTP (moto's
S3 behind the emulator's proxy): each state store is read on its own worker, every object read is one token
and one count of its store's scope (a channel: of its own location), S3's 503 SlowDown on one store pauses
that store only and is retried, the buckets run on the provider's clock, starts and polls stay off the kit."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from fleet import ratelimit
from fleet.clock import FakeClock
from fleet.provider import Component, OperationState, Step
from providers.kops.adapter import KopsProvider
from providers.kops.errors import DEFAULT_RETRY_THROTTLE
from providers.kops.settings import parse_settings
from tests.providers.harness_kops import CONTROL_PLANE_IG, KopsHarness

GROUPS = {CONTROL_PLANE_IG: {"role": "ControlPlane"}, "nodes": {"role": "Node", "size": 2}}


@pytest.fixture(scope="module")
def h() -> Iterator[KopsHarness]:
    harness = KopsHarness()
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


def _store(h: KopsHarness, team: str, clusters: int) -> str:
    """A state store ``s3://<bucket>/<team>`` holding ``clusters`` clusters."""
    url = f"{h.emu.state_store}/{team}"
    for i in range(clusters):
        h.emu.seed_cluster(f"{team}{i}.k8s.local", "1.29.2", GROUPS, available=["1.29.2", "1.29.8"], store=url)
    return url


def _provider(h: KopsHarness, name: str, stores: list[str], clock: FakeClock, **settings: Any) -> KopsProvider:
    return KopsProvider(name, h.settings(stateStore=stores, **settings), clock=clock)


def _scope_of(h: KopsHarness, target: str, stores: list[str]) -> str:
    """The scope a request for ``bucket/key`` belongs to: its state store's URL, else (a channel) its URL."""
    for url in stores:
        if f"s3://{target}".startswith(url + "/"):
            return url
    return f"s3://{target}"


def _requests(h: KopsHarness, since: int, stores: list[str]) -> Counter[str]:
    """The adapter's S3 requests since ``since`` that the emulator's proxy received, counted per scope."""
    return Counter(_scope_of(h, h.emu.object_of(r), stores) for r in h.emu.proxy.log[since:])


def _calls(name: str) -> dict[str, tuple[int, int]]:
    return {scope: (s.calls, s.throttles) for (prov, scope), s in ratelimit.snapshot().items() if prov == name}


def _delta(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    zero = (0, 0)
    out = {k: (v[0] - before.get(k, zero)[0], v[1] - before.get(k, zero)[1]) for k, v in after.items()}
    return {k: v for k, v in out.items() if v != zero}


class HeldClock(FakeClock):
    """The provider's clock. A wait on it (the limiter waiting out a throttled scope's pause) blocks until the
    test releases it, then passes in virtual time like any FakeClock's: the test sees what goes on meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()
        self.release = threading.Event()
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.waiting.set()
        assert self.release.wait(30), "the test never released the clock"
        super().sleep(seconds)


def test_a_throttled_store_waits_alone_while_the_other_is_read_and_its_read_is_retried(h: KopsHarness) -> None:
    a, b = _store(h, "slowteam", 1), _store(h, "fastteam", 2)
    clock = HeldClock()
    p = _provider(h, "kops-held", [a, b], clock)
    clock.release.set()
    n0 = len(h.emu.proxy.log)
    assert len(p.discover()) == 3                      # a discovery without faults: what each store takes
    plain = _requests(h, n0, [a, b])
    clock.release.clear()

    before = _calls("kops-held")
    n1 = len(h.emu.proxy.log)
    h.emu.slow_down(a)                                 # S3: the next read of store a answers 503 SlowDown
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(p.discover()), daemon=True)
    worker.start()
    try:
        assert clock.waiting.wait(10), "the throttled store's read was not paused and retried by the kit"
        # store a's worker now waits out the SlowDown; store b is read meanwhile, to the end
        for _ in range(500):
            if _requests(h, n1, [a, b])[b] >= plain[b]:
                break
            threading.Event().wait(0.02)
        seen = _requests(h, n1, [a, b])
        assert seen[b] == plain[b], "store b's discovery waited for the throttled store a"
        assert seen[a] == 1 and worker.is_alive()      # a: only the throttled read, still waiting
    finally:
        clock.release.set()
        worker.join(30)
    assert out, "discovery failed"
    assert sorted(c.name for c in out[0]) == ["fastteam0.k8s.local", "fastteam1.k8s.local", "slowteam0.k8s.local"]
    # the store paused for S3's SlowDown (no Retry-After from S3: errors.py's default), then its bucket refilled
    # from empty, so its reads from there on (the retried one included) went at the store's rate, 100/s
    assert clock.waits[0] == DEFAULT_RETRY_THROTTLE
    assert sum(clock.waits[1:]) == pytest.approx(plain[a] / 100, abs=1e-6)
    assert h.emu.slowed_down[-1].startswith(f"{h.emu.bucket}/slowteam/")
    after = _requests(h, n1, [a, b])
    assert after[a] == plain[a] + 1                    # the throttled read, retried
    counted = _delta(before, _calls("kops-held"))
    assert counted[a] == (plain[a] + 1, 1)             # one count per read, the throttle counted in its scope
    assert counted[b] == (plain[b], 0)


def test_every_read_is_counted_in_its_store_or_channel_scope(h: KopsHarness) -> None:
    a, b = _store(h, "counta", 2), _store(h, "countb", 1)
    p = _provider(h, "kops-count", [a, b], FakeClock())
    before = _calls("kops-count")
    n0 = len(h.emu.proxy.log)
    clusters = p.discover()
    made = _requests(h, n0, [a, b])
    channels = {str(c.extra["channel"]) for c in clusters}
    assert len(channels) == 3 and all(made[ch] == 1 for ch in channels)   # each channel once, its own scope
    assert made[a] == 1 + 2 * 7 and made[b] == 1 + 7   # a listing, then per cluster 3 listings and 4 GETs
    assert _delta(before, _calls("kops-count")) == {k: (v, 0) for k, v in made.items()}
    # offers reads are metered the same way: the cluster's objects in its store, its channel in its own scope
    c = next(c for c in clusters if c.name == "countb0.k8s.local")
    before, n1 = _calls("kops-count"), len(h.emu.proxy.log)
    assert p.offers(c).control_plane == ("1.29.8",)       # the channel recommends the newest of the minor
    assert _delta(before, _calls("kops-count")) == {b: (7, 0), str(c.extra["channel"]): (1, 0)}
    assert _requests(h, n1, [a, b]) == {b: 7, str(c.extra["channel"]): 1}


def test_reads_are_paced_per_store_on_the_provider_clock(h: KopsHarness) -> None:
    a = _store(h, "paced", 2)
    clock = FakeClock()
    p = _provider(h, "kops-paced", [a], clock, apiRatePerSecond=2, apiBurst=1)
    start, n0 = clock.now(), len(h.emu.proxy.log)
    assert len(p.discover()) == 2
    reads = _requests(h, n0, [a])[a]
    assert reads == 15
    # one token per read at 2/s after a burst of 1: the store's reads wait (reads - 1) / 2 s of the provider's
    # virtual clock (the channel reads have their own buckets and wait for none)
    assert (clock.now() - start).total_seconds() == pytest.approx((reads - 1) / 2)


def test_starts_and_polls_stay_off_the_kit(h: KopsHarness) -> None:
    a = _store(h, "offkit", 1)
    p = _provider(h, "kops-offkit", [a], h.clock)
    (c,) = p.discover()
    before, n0 = _calls("kops-offkit"), len(h.emu.proxy.log)
    op = p.start(c, Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.29.2"))
    for _ in range(20):
        if p.poll(c, op).state is not OperationState.RUNNING:
            break
        h.clock.advance(timedelta(hours=1))
    assert p.poll(c, op).state is OperationState.SUCCEEDED
    assert _requests(h, n0, [a])[a] > 0                # start read the state store ...
    assert _calls("kops-offkit") == before             # ... but neither it nor the polls went through the kit


@pytest.mark.parametrize("key,value,message", [
    ("apiRatePerSecond", 0, "greater than 0"), ("apiRatePerSecond", -1, "greater than 0"),
    ("apiRatePerSecond", "fast", "valid number"), ("apiBurst", 0, "greater than or equal to 1"),
    ("apiBurst", 2.5, "valid integer"), ("apiConcurrency", 0, "greater than or equal to 1"),
    ("apiConcurrency", 129, "less than or equal to 128"), ("apiConcurrency", "many", "valid integer"),
])
def test_kit_settings_are_validated(key: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"{key}: Input should be .*{message}"):
        parse_settings({"stateStore": "s3://b", key: value})


def test_kit_settings_defaults_and_the_limiter_they_make() -> None:
    s = parse_settings({"stateStore": "s3://b"})
    assert (s.apiRatePerSecond, s.apiBurst, s.apiConcurrency) == (100.0, 200, 8)
    with pytest.raises(ValueError, match="apiRate"):
        parse_settings({"stateStore": "s3://b", "apiRate": 5})
    clock = FakeClock()
    p = KopsProvider("kops-settings", {"stateStore": ["s3://b", "s3://c/x"], "apiRatePerSecond": 5, "apiBurst": 7,
                                       "apiConcurrency": 3}, clock=clock)
    lim = p.limiter
    assert (lim.provider, lim.rate, lim.burst, lim.concurrency, lim.clock) == ("kops-settings", 5, 7, 3, clock)
