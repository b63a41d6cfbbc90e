"""The provider kit's concurrency and rate limits (fleet.ratelimit) and their Prometheus metrics."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from fleet import ratelimit
from fleet.clock import FakeClock, ScaledClock
from fleet.daemon.metrics import Metrics
from fleet.errors import PermanentProviderError, TemporaryProviderError, ThrottledError
from fleet.ratelimit import ScopeLimiter, TokenBucket


def test_token_bucket_burst_then_rate() -> None:
    t = [0.0]
    b = TokenBucket(rate=2, burst=3, now=lambda: t[0])
    assert [b.take() for _ in range(3)] == [0, 0, 0]
    assert b.take() == 0.5                       # empty: the next token in 1/rate s
    t[0] = 0.5
    assert b.take() == 0
    b.pause(10)                                  # Retry-After
    t[0] = 5
    assert b.take() == 5.5
    t[0] = 10.5
    assert b.take() == 0.5                       # refills from empty after the pause, not a full burst
    t[0] = 11
    assert b.take() == 0


def test_a_slow_scope_never_delays_the_others() -> None:
    lim = ScopeLimiter("test-slow", rate=2, burst=1, concurrency=4)
    done: dict[str, float] = {}
    t0 = time.monotonic()

    def call(name: str) -> str:
        done[name] = time.monotonic() - t0
        return name

    calls = [("slow", lambda i=i: call(f"slow{i}")) for i in range(4)]
    calls += [(f"fast{i}", lambda i=i: call(f"fast{i}")) for i in range(8)]    # one call per scope
    out = lim.run(calls)
    assert out == [f"slow{i}" for i in range(4)] + [f"fast{i}" for i in range(8)]
    assert max(done[f"fast{i}"] for i in range(8)) < 0.4          # not behind the slow scope's queue
    assert done["slow3"] >= 1.4                                   # 1 burst + 3 at 2/s


# ---- only a throttle (ThrottledError, decided by the adapter's translation) pauses the scope and is retried --

START = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize("error,retried", [
    (ThrottledError("429 slow down", code="ThrottlingException", retry_after=2.0), True),
    (ThrottledError("429 without Retry-After", code="429"), True),          # paused THROTTLE_PAUSE_S
    # a 5xx with Retry-After is not a quota signal: the adapter gets it back, the step machine retries
    (TemporaryProviderError("503 unavailable", code="503", retry_after=2.0), False),
    (TemporaryProviderError("update in progress", code="ResourceInUseException", retry_after=60.0), False),
    (TemporaryProviderError("read timed out", code="connection"), False),
    (PermanentProviderError("not found", code="404"), False),
], ids=lambda v: getattr(v, "code", str(v)))
def test_only_throttles_pause_their_scope_are_retried_and_counted(error: Exception, retried: bool) -> None:
    clock = FakeClock(START)
    name = f"test-kind-{type(error).__name__}-{getattr(error, 'code', '')}"
    lim = ScopeLimiter(name, rate=100, burst=10, clock=clock)
    tries: list[datetime] = []

    def flaky() -> str:
        tries.append(clock.now())
        if len(tries) == 1:
            raise error
        return "ok"

    out = lim.run([("acct:us-east-1", flaky), ("acct:eu-west-1", lambda: "other")])
    assert out[1] == "other"
    st = ratelimit.snapshot()[(name, "acct:us-east-1")]
    text = Metrics().render().decode()
    throttles = f'fleet_provider_api_throttles_total{{provider="{name}",scope="acct:us-east-1"}}'
    if retried:
        pause = error.retry_after or ratelimit.THROTTLE_PAUSE_S           # type: ignore[attr-defined]
        assert out[0] == "ok" and len(tries) == 2
        assert tries[1] - tries[0] >= timedelta(seconds=pause)           # the scope was paused, on the clock
        assert (st.calls, st.throttles, st.errors) == (2, 1, 1)
        assert f"{throttles} 1.0" in text
    else:
        assert out[0] is error and len(tries) == 1                       # returned in its slot, not retried
        assert (st.calls, st.throttles, st.errors) == (1, 0, 1)
        assert f"{throttles} 0.0" in text
        assert lim.bucket("acct:us-east-1").take() == 0                  # the scope was not paused
        assert clock.now() == START                                      # nothing waited


def test_a_throttle_that_outlasts_the_retries_comes_back_in_its_slot() -> None:
    clock = FakeClock(START)
    lim = ScopeLimiter("test-throttle-out", rate=100, burst=10, retries=2, clock=clock)

    def always() -> None:
        raise ThrottledError("429", code="429", retry_after=5.0)

    out = lim.run([("sub-1", always), ("sub-2", lambda: 2)])
    assert isinstance(out[0], ThrottledError) and out[1] == 2
    st = ratelimit.snapshot()[("test-throttle-out", "sub-1")]
    assert (st.calls, st.throttles) == (3, 3)                            # the call and its 2 retries
    assert clock.now() - START >= timedelta(seconds=10)                  # two pauses of 5 s


def test_errors_come_back_in_their_slot() -> None:
    lim = ScopeLimiter("test-errors", rate=100, burst=10)

    def boom() -> None:
        raise PermanentProviderError("gone", code="404")

    out = lim.run([("a", lambda: 1), ("a", boom), ("b", lambda: 3)])
    assert out[0] == 1 and isinstance(out[1], PermanentProviderError) and out[2] == 3


def test_concurrency_is_bounded() -> None:
    lim = ScopeLimiter("test-bound", rate=1000, burst=1000, concurrency=3)
    active, peak = [0], [0]
    lock = threading.Lock()

    def work() -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1

    lim.run([(f"s{i % 5}", work) for i in range(30)])
    assert peak[0] == 3


def test_metrics_expose_calls_throttles_and_latency_per_scope() -> None:
    ScopeLimiter("test-metrics", rate=100, burst=10).call("sub-1", lambda: None)
    text = Metrics().render().decode()
    assert 'fleet_provider_api_calls_total{provider="test-metrics",scope="sub-1"} 1.0' in text
    assert 'fleet_provider_api_throttles_total{provider="test-metrics",scope="sub-1"} 0.0' in text
    assert 'fleet_provider_api_call_seconds_count{provider="test-metrics",scope="sub-1"} 1.0' in text


# ---- pacing runs on the injected clock (the regression that stalled `fleet demo`: docs/scale.md) --------

def test_buckets_fill_and_waits_pass_on_the_injected_clock() -> None:
    clock = FakeClock(datetime(2026, 11, 23, tzinfo=UTC))
    lim = ScopeLimiter("test-clock", rate=1, burst=1, concurrency=4, clock=clock)
    t0, start = time.monotonic(), clock.now()
    assert lim.run([("acct:eu-west-1", lambda i=i: i) for i in range(6)]) == list(range(6))
    assert clock.now() - start >= timedelta(seconds=5)      # 1 burst + 5 at 1/s, in the clock's seconds
    assert time.monotonic() - t0 < 4                         # not in real seconds (at least 5 on the wall)


def test_a_fast_virtual_clock_is_not_paced_in_real_time() -> None:
    # the demo's clouds run 10,080x real time: 10 calls/s per scope are ~100,000 per real second there
    clock = ScaledClock(datetime(2026, 11, 23, tzinfo=UTC), 10_080)
    lim = ScopeLimiter("test-scaled", rate=10, burst=2, clock=clock)
    t0 = time.monotonic()
    for _ in range(40):
        lim.call("acct:us-east-1", lambda: None)
    assert time.monotonic() - t0 < 2      # on the wall clock: 38 calls over the burst = 3.8 s


def test_a_clock_that_stands_still_lets_calls_through() -> None:
    clock = ScaledClock(datetime(2026, 11, 23, tzinfo=UTC), 10_080, running=False)
    lim = ScopeLimiter("test-frozen", rate=1, burst=1, concurrency=2, clock=clock)
    assert lim.run([("s", lambda i=i: i) for i in range(3)]) == [0, 1, 2]
    assert [lim.call("s", lambda: "x") for _ in range(2)] == ["x", "x"]


def test_the_pool_is_reused_and_a_worker_runs_nested_batches_itself() -> None:
    lim = ScopeLimiter("test-pool", rate=1000, burst=1000, concurrency=2)
    assert lim.run([("a", lambda: 1), ("b", lambda: 2)]) == [1, 2]
    pool = lim._pool
    # a call that itself runs a batch on the same limiter (all workers busy) must not deadlock
    assert lim.run([("a", lambda: lim.run([("c", lambda: 3), ("d", lambda: 4)])), ("b", lambda: 5)]) == [[3, 4], 5]
    assert lim._pool is pool
    lim.close()
