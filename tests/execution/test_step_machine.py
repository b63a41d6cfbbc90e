"""fleet.execution.step_machine: table tests (pure functions, no provider, no store)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from fleet.errors import OperationNotFound, PermanentProviderError, TemporaryProviderError
from fleet.execution import step_machine as sm
from fleet.execution.model import StepRecord, StepState
from fleet.provider import Cluster, Component, NodePool, OperationRef, OperationState, OperationStatus, Step

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
T = sm.PollTiming()                     # 30 s first poll, 5 s min, 5 min max
OP = OperationRef("op-1", "sim/lab/a", "cp@1.29.8")
CP = Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.28.3")
POOL = Step(Component.NODE_POOL, to="1.29.8", from_="1.28.3", pool="ng")


def record(step: Step = CP, *, attempts: int = 0, polls: int = 0, calls: int = 0,
           state: StepState = StepState.RUNNING) -> StepRecord:
    return StepRecord(1, "r", "sim/lab/a", step, True, state, OP if state is not StepState.INTENT else None,
                      attempts, polls, calls, None, "", 0, NOW)


def s(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_timing_follows_a_short_reconcile_interval():
    assert sm.PollTiming.for_interval(timedelta(seconds=2)) == sm.PollTiming(
        timedelta(seconds=2), timedelta(seconds=2), sm.MAX_POLL)
    assert sm.PollTiming.for_interval(timedelta(minutes=5), timedelta(days=1)) == sm.PollTiming(
        sm.FIRST_POLL, sm.MIN_POLL, timedelta(days=1))


@pytest.mark.parametrize(("outcome", "want"), [
    (OP, sm.Started(OP, s(30), 3, 5)),
    (TemporaryProviderError("throttled", retry_after=20), sm.Retry(s(20), "throttled", 3, 5)),
    (TemporaryProviderError("busy"), sm.Retry(s(60), "busy", 3, 5)),                  # DEFAULT_RETRY
    (PermanentProviderError("no such version"), sm.Failed("start failed: no such version", 5)),
])
def test_start(outcome, want):
    assert sm.compute_start(record(attempts=2, calls=4, state=StepState.INTENT), outcome, NOW, T) == want


@pytest.mark.parametrize(("polls", "status", "want"), [
    # backoff: first_poll * 2**polls, within [min, max]; the provider's poll_after wins when given
    (0, OperationStatus(OperationState.RUNNING, "10%"), sm.Wait(s(60), "10%", provider_calls=8, polls=1)),
    (2, OperationStatus(OperationState.RUNNING), sm.Wait(s(240), "", provider_calls=8, polls=3)),
    (3, OperationStatus(OperationState.RUNNING), sm.Wait(s(300), "", provider_calls=8, polls=4)),     # MAX_POLL
    (9, OperationStatus(OperationState.RUNNING), sm.Wait(s(300), "", provider_calls=8, polls=10)),
    (0, OperationStatus(OperationState.RUNNING, poll_after=1), sm.Wait(s(5), "", provider_calls=8, polls=1)),
    (0, OperationStatus(OperationState.RUNNING, poll_after=90), sm.Wait(s(90), "", provider_calls=8, polls=1)),
    (1, OperationStatus(OperationState.SUCCEEDED), sm.Verify(NOW, 2, 8)),
    (1, OperationStatus(OperationState.FAILED, "quota"), sm.Failed("operation op-1 failed: quota", 8, 2)),
    (1, TemporaryProviderError("5xx", retry_after=7), sm.Wait(s(7), "5xx", provider_calls=8)),
    (1, PermanentProviderError("gone"), sm.Failed("poll failed: gone", 8)),
    # the operation's record vanished (the cloud's 404 for it): verify against the cluster, not a failure
    (1, OperationNotFound("operation op-1 not found"), sm.Verify(NOW, 2, 8)),
])
def test_poll(polls, status, want):
    assert sm.compute_poll(record(polls=polls, calls=7), status, NOW, T) == want


def test_poll_backoff_never_exceeds_max_poll():
    long = sm.PollTiming(max_poll=timedelta(days=1))
    got = sm.compute_poll(record(polls=20), OperationStatus(OperationState.RUNNING), NOW, long)
    assert got == sm.Wait(NOW + T.first_poll * 2 ** sm.BACKOFF_DOUBLINGS, "", provider_calls=1, polls=21)


def cluster(cp: str = "1.29.8", pool: str = "1.29.8", healthy: bool = True, pool_healthy: bool = True) -> Cluster:
    return Cluster(provider="sim", location="lab", name="a", control_plane=cp, healthy=healthy,
                   node_pools=(NodePool("ng", pool, 3, healthy=pool_healthy),))


@pytest.mark.parametrize(("step", "c", "want"), [
    (CP, cluster(), ("1.29.8", True)),
    (CP, cluster(healthy=False), ("1.29.8", False)),
    (POOL, cluster(pool="1.28.3"), ("1.28.3", True)),
    (POOL, cluster(pool_healthy=False), ("1.29.8", False)),
    (POOL, cluster(healthy=False), ("1.29.8", False)),
    (replace(POOL, pool="gone"), cluster(), ("", False)),
])
def test_observe_version(step, c, want):
    assert sm.observe_version(record(step), c) == want


@pytest.mark.parametrize(("attempts", "have", "healthy", "want"), [
    (0, "1.29.8", True, sm.Succeeded("1.29.8")),
    (0, "1.29.9", True, sm.Wait(s(5), "health gate: expected 1.29.8, found 1.29.9", attempts=1)),  # same release only
    (0, "1.28.3", True, sm.Wait(s(5), "health gate: expected 1.29.8, found 1.28.3", attempts=1)),
    (2, "1.29.8", False, sm.Wait(s(15), "health gate: expected 1.29.8, found 1.29.8, unhealthy", attempts=3)),
    (4, "", False, sm.Wait(s(25), "health gate: expected 1.29.8, found nothing, unhealthy", attempts=5)),
    (5, "1.28.3", True, sm.Failed("health gate: expected 1.29.8, found 1.28.3", 6)),   # VERIFY_ATTEMPTS used up
])
def test_verify(attempts, have, healthy, want):
    step = record(attempts=attempts, calls=6, state=StepState.VERIFYING)
    assert sm.compute_verify(step, have, healthy, NOW, T) == want
