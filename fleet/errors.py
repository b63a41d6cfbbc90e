"""The error tree of fleet. Decide the type where the error is raised; branch on type, never on text.

::

    FleetError
     ├── InputError                 bad user input (policy, inventory, config); carries Problems
     │    └── PolicyError           a policy-level problem found while planning (e.g. priority tie)
     ├── PlanningError              the planner could not produce a valid plan (an internal check failed)
     ├── ProviderError              raised by adapters; foreign SDK exceptions are translated to these
     │    ├── TemporaryProviderError   5xx, "operation in progress", timeouts: try later (retry_after)
     │    │    └── ThrottledError        the cloud's request quota said "slow down" (429, ThrottlingException...)
     │    └── PermanentProviderError   not found, forbidden, invalid version: mark failed and stop
     │         └── OperationNotFound    poll: the operation record is gone (expired): re-read the cluster
     ├── ProviderNotFound           an unknown provider type (lists the known ones)
     │    └── MissingExtraError     the provider's SDK is not installed (names the pip extra)
     ├── StateError                 the state store refused an operation
     │    └── FencedError           a write carried an epoch older than the current leader's
     └── NotFoundError              an operator command named a run or wave that does not exist
          └── NothingToApproveError    the wave named needs no approval (its policy does not require it)
"""

from __future__ import annotations

from dataclasses import dataclass


class FleetError(Exception):
    """Base of every error fleet raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem in a user-written file: ``file:line: field: message``."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '<document>'}: {self.message}"


class InputError(FleetError):
    """One or more problems in files the user wrote. Nothing is applied when this is raised."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PolicyError(InputError):
    """A policy problem that is only visible when policies meet clusters."""


class PlanningError(FleetError):
    """A computed path failed its own safety checks (a bug, never the user's fault)."""


class ProviderError(FleetError):
    """Base of errors adapters raise; SDK exceptions are translated into subclasses at the boundary."""

    def __init__(self, message: str, *, provider: str = "", code: str = ""):
        self.provider = provider
        self.code = code
        super().__init__(message)


class TemporaryProviderError(ProviderError):
    """Try again later: 5xx, an operation already in progress, a timeout; throttling is ``ThrottledError``."""

    def __init__(self, message: str, *, provider: str = "", code: str = "", retry_after: float | None = None):
        super().__init__(message, provider=provider, code=code)
        self.retry_after = retry_after


class ThrottledError(TemporaryProviderError):
    """The cloud refused the call for its request quota (429 / TooManyRequests, ThrottlingException,
    RESOURCE_EXHAUSTED, S3 SlowDown...): try after ``retry_after``. Decided by the adapter's error translation,
    from the cloud's own throttling codes. The provider kit (fleet.ratelimit) pauses the call's scope and
    retries only these, and counts only these as throttles; any other temporary error (a 5xx, even one with
    Retry-After; an operation in progress) is not a quota signal and goes back to the adapter."""


class PermanentProviderError(ProviderError):
    """Retrying will not help: not found, forbidden, invalid version, a failed operation."""


class OperationNotFound(PermanentProviderError):
    """Raised by ``poll`` when the cloud no longer knows the operation (its record expired or was purged, e.g.
    a 404 on the operation resource). Not a failure of the step: the engine settles it by re-reading the
    cluster (verify), as if the operation had ended."""


class ProviderNotFound(FleetError):
    """An unknown provider type was asked for."""


class MissingExtraError(ProviderNotFound):
    """The provider exists but its SDK is not installed."""


class StateError(FleetError):
    """The state store refused an operation."""


class FencedError(StateError):
    """A write carried a leader epoch older than the current one; the writer must stop acting."""


class NotFoundError(FleetError):
    """An operator command (approve, retry) named a run or a wave that does not exist."""


class NothingToApproveError(NotFoundError):
    """``fleet approve`` named a wave whose policy does not require approval: nothing was recorded."""
