"""The step machine: what happens to one journaled step, given what the provider or the fleet said. Pure.

    intent ──start──> running ──poll: succeeded──> verifying ──observed at the target──> succeeded
       │                 │                             │
       │ temporary error │ poll: running / temporary   │ not there yet (up to VERIFY_ATTEMPTS more looks)
       └── retry later   └── poll again later          └── look again later
    any permanent error, a failed operation, or a verify that never matches ──> failed
    poll: OperationNotFound (the operation's record vanished) ──> verifying (the cluster says how it ended)

Each function takes the step as journaled, the outcome (an OperationRef / OperationStatus, or the provider
error raised instead, or the observed cluster) and ``now``, and returns a transition value; the engine hands
it to the matching ``fleet.execution.journal.mark_*`` function. Retryable versus final is decided by the
error's type (TemporaryProviderError / PermanentProviderError), never by its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fleet.errors import OperationNotFound, PermanentProviderError, TemporaryProviderError
from fleet.execution.model import StepRecord
from fleet.provider import Cluster, Component, OperationRef, OperationState, OperationStatus
from fleet.versions import parse_version

MIN_POLL = timedelta(seconds=5)
MAX_POLL = timedelta(minutes=5)
FIRST_POLL = timedelta(seconds=30)
DEFAULT_RETRY = timedelta(seconds=60)     # after a temporary error that names no retry_after
VERIFY_ATTEMPTS = 5                       # looks at the fleet after the operation ended, before giving up
BACKOFF_DOUBLINGS = 6                     # the poll interval doubles at most this many times


@dataclass(frozen=True, slots=True)
class PollTiming:
    """The engine's poll intervals (shortened to its reconcile interval where that is shorter)."""
    first_poll: timedelta = FIRST_POLL
    min_poll: timedelta = MIN_POLL
    max_poll: timedelta = MAX_POLL

    @classmethod
    def for_interval(cls, interval: timedelta, max_poll: timedelta = MAX_POLL) -> PollTiming:
        return cls(first_poll=min(FIRST_POLL, interval), min_poll=min(MIN_POLL, interval), max_poll=max_poll)


# ---- transitions ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Retry:
    """provider.start refused for now: stay ``intent``, start again at ``next_action_at`` (a step-retry event)."""
    next_action_at: datetime
    message: str
    attempts: int
    provider_calls: int


@dataclass(frozen=True, slots=True)
class Started:
    """provider.start accepted the step: ``running`` with its operation, first poll at ``next_action_at``."""
    operation: OperationRef
    next_action_at: datetime
    attempts: int
    provider_calls: int


@dataclass(frozen=True, slots=True)
class Wait:
    """Nothing final yet: look again at ``next_action_at`` (no event). Fields left None are unchanged."""
    next_action_at: datetime
    message: str
    provider_calls: int | None = None
    polls: int | None = None
    attempts: int | None = None


@dataclass(frozen=True, slots=True)
class Verify:
    """The operation ended: ``verifying`` against the next observation (which may postdate its end)."""
    next_action_at: datetime
    polls: int
    provider_calls: int


@dataclass(frozen=True, slots=True)
class Succeeded:
    """The fleet shows the step's version, healthy."""
    version: str


@dataclass(frozen=True, slots=True)
class Failed:
    """Final: the step (and its member) failed."""
    message: str
    provider_calls: int
    polls: int | None = None


StartTransition = Retry | Started | Failed
PollTransition = Wait | Verify | Failed
VerifyTransition = Succeeded | Wait | Failed


def retry_delay(exc: TemporaryProviderError) -> timedelta:
    return timedelta(seconds=exc.retry_after) if exc.retry_after else DEFAULT_RETRY


def compute_start(step: StepRecord, outcome: OperationRef | TemporaryProviderError | PermanentProviderError,
                  now: datetime, timing: PollTiming) -> StartTransition:
    """After ``provider.start`` returned an operation or raised."""
    calls = step.provider_calls + 1
    if isinstance(outcome, TemporaryProviderError):
        return Retry(now + retry_delay(outcome), str(outcome), step.attempts + 1, calls)
    if isinstance(outcome, PermanentProviderError):
        return Failed(f"start failed: {outcome}", calls)
    return Started(outcome, now + timing.first_poll, step.attempts + 1, calls)


def poll_delay(polls: int, status: OperationStatus, timing: PollTiming) -> timedelta:
    """The provider's poll_after if it gave one, else exponential backoff; always within [min, max] poll."""
    if status.poll_after is not None:
        delay = timedelta(seconds=status.poll_after)
    else:
        delay = timing.first_poll * (2 ** min(polls, BACKOFF_DOUBLINGS))
    return min(timing.max_poll, max(timing.min_poll, delay))


def compute_poll(step: StepRecord, outcome: OperationStatus | TemporaryProviderError | PermanentProviderError,
                 now: datetime, timing: PollTiming) -> PollTransition:
    """After ``provider.poll`` returned a status or raised."""
    calls = step.provider_calls + 1
    if isinstance(outcome, TemporaryProviderError):
        return Wait(now + retry_delay(outcome), str(outcome), provider_calls=calls)
    if isinstance(outcome, OperationNotFound):
        return Verify(now, step.polls + 1, calls)   # the record vanished: the cluster says how it ended
    if isinstance(outcome, PermanentProviderError):
        return Failed(f"poll failed: {outcome}", calls)
    polls = step.polls + 1
    if outcome.state is OperationState.RUNNING:
        return Wait(now + poll_delay(polls, outcome, timing), outcome.message, provider_calls=calls, polls=polls)
    if outcome.state is OperationState.FAILED:
        return Failed(f"operation {step.operation_id} failed: {outcome.message}", calls, polls)
    return Verify(now, polls, calls)


def observe_version(step: StepRecord, cluster: Cluster) -> tuple[str, bool]:
    """(the version the step's component runs now, whether it and the cluster are healthy)."""
    spec = step.step
    if spec.component is Component.CONTROL_PLANE:
        return cluster.control_plane, cluster.healthy
    pool = cluster.pool(spec.pool or "")
    return (pool.version, pool.healthy and cluster.healthy) if pool else ("", False)


def compute_verify(step: StepRecord, have: str, healthy: bool, now: datetime, timing: PollTiming) -> VerifyTransition:
    """After looking at the cluster (``observe_version``) once its operation ended."""
    to = step.step.to
    if have and parse_version(have).same_release(parse_version(to)) and healthy:
        return Succeeded(have)
    attempts = step.attempts + 1
    why = f"health gate: expected {to}, found {have or 'nothing'}" + ("" if healthy else ", unhealthy")
    if attempts >= VERIFY_ATTEMPTS + 1:
        return Failed(why, step.provider_calls)
    return Wait(now + timing.min_poll * attempts, why, attempts=attempts)
