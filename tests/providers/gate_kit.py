"""Scaffolding the per-cloud safety-gate tests (test_<cloud>_gates.py) share: the started harness, the
cluster under test, the steps, running an operation to its end, and the table of cloud faults every check
must turn into an ERROR outcome (temporary or not) rather than a pass or a crash."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from fleet.provider import (
    CheckOutcome,
    CheckResult,
    Cluster,
    Component,
    OperationState,
    OperationStatus,
    Step,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)

# (fault the emulator injects, whether the ERROR outcome must say temporary): 5xx and timeouts are retried,
# a refusal (403) is not
FAULTS = [("server-error", True), ("forbidden", False), ("timeout", True)]


def started(harness: Any, seed: Callable[[Any], None]) -> Iterator[Any]:
    """Body of a harness fixture: start, seed, hand over, stop."""
    harness.start()
    seed(harness)
    yield harness
    harness.stop()


def cluster(p: Any, name: str | None = None, *, cid: str | None = None) -> Cluster:
    """The discovered cluster named ``name`` (or with id ``cid``)."""
    return next(c for c in p.discover() if (c.id == cid if cid is not None else c.name == name))


def cp_step(to: str, from_: str, **kw: Any) -> Step:
    return Step(Component.CONTROL_PLANE, to=to, from_=from_, **kw)


def pool_step(to: str, from_: str, pool: str, **kw: Any) -> Step:
    """A node-pool step with the budget every gate test uses (surge 1, unavailable 0)."""
    return Step(Component.NODE_POOL, to=to, from_=from_, pool=pool, max_surge=1, max_unavailable=0, **kw)


def finish(h: Any, p: Any, c: Cluster, op: Any, limit: int = 40,
           advance: Callable[[OperationStatus], None] | None = None) -> OperationStatus:
    """Poll ``op`` until it is no longer RUNNING, letting the emulator move on between polls (by default
    ``h.finish_operations()``)."""
    for _ in range(limit):
        st = p.poll(c, op)
        if st.state is not OperationState.RUNNING:
            return st
        if advance is None:
            h.finish_operations()
        else:
            advance(st)
    raise AssertionError("never finished")


def assert_error_outcome(out: CheckOutcome, temporary: bool) -> None:
    """A cloud fault is an ERROR outcome that says whether it is temporary."""
    assert out.result is CheckResult.ERROR
    assert out.evidence["temporary"] is temporary, out.reason


def assert_fault_is_error(h: Any, p: Any, c: Cluster, check: str, step: Step, fault: str, temporary: bool, *,
                          params: dict[str, Any] | None = None, now: datetime = NOW,
                          delay_s: float | None = None) -> None:
    """Inject ``fault`` (a ``timeout`` answers after ``delay_s``, longer than the provider's timeout) and check
    that ``check`` comes back an ERROR outcome saying whether it is temporary."""
    if delay_s is not None:
        h.emulator.server.timeout_delay_s = delay_s
    h.inject(fault)
    assert_error_outcome(p.run_check(c, check, step, params or {}, now), temporary)


def assert_unreachable_is_error(bad: Any, c: Cluster, check: str, step: Step, *,
                                params: dict[str, Any] | None = None, now: datetime = NOW) -> None:
    """A provider pointed at a closed port: ``check`` is a temporary ERROR outcome."""
    out = bad.run_check(c, check, step, params or {}, now)
    assert out.result is CheckResult.ERROR and out.evidence["temporary"] is True, out.reason
