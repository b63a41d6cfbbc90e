"""Retry rules for webhook deliveries: which answers are worth retrying, and how long to wait.

- 2xx: delivered.  408, 429 and 5xx, and connection errors/timeouts: retry.  Anything else: dropped (a
  receiver answering 400/401/404 will not change its mind by being asked again).
- Wait before attempt n+1 = ``min(cap, base * 2**(n-1))`` scaled by a jitter factor in [0.5, 1.0)
  ("equal jitter": never less than half the exponential step, so a flapping receiver is not hammered).
- A ``Retry-After`` header (delta-seconds or an HTTP date) replaces that wait, capped at
  ``max_retry_after``.
- After ``max_attempts`` attempts the event is dropped for that endpoint and an error is logged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from fleet.clock import utc

RETRYABLE_STATUS = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=5)
    max_attempts: int = 10
    max_retry_after: timedelta = timedelta(minutes=10)
    jitter: Callable[[], float] = field(default=random.random, compare=False)  # uniform [0, 1)


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or 500 <= status <= 599


def compute_backoff(policy: RetryPolicy, attempt: int) -> timedelta:
    """Wait after failed attempt number ``attempt`` (1-based)."""
    step = min(policy.cap.total_seconds(), policy.base.total_seconds() * (2 ** max(0, attempt - 1)))
    factor = 0.5 + 0.5 * min(max(policy.jitter(), 0.0), 1.0)
    return timedelta(seconds=step * factor)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After: 120`` or ``Retry-After: Wed, 21 Oct 2026 07:28:00 GMT``; None when absent or invalid."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(timedelta(0), utc(when) - now)


def compute_wait(policy: RetryPolicy, attempt: int, retry_after: timedelta | None) -> timedelta:
    if retry_after is not None:
        return min(retry_after, policy.max_retry_after)
    return compute_backoff(policy, attempt)
