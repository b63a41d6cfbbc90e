"""Provider kit: bounded concurrency and a token bucket per cloud scope (docs/scale.md).

A *scope* is what a cloud meters its API quota by: an AWS account+region, an Azure subscription, a Google
Cloud project, an OCI tenancy+region, a management cluster, a kOps state store. An adapter opts in with
little code::

    limiter = ScopeLimiter(provider="eks", rate=10, burst=50)      # documented quota of the cloud
    results = limiter.run([(scope_key, lambda: client.describe_cluster(name=n)) for n in names])

``run`` executes the calls on a thread pool of ``concurrency`` workers, never more than ``per_scope`` at
once in one scope, each only when its scope's bucket has a token. A worker never waits on a bucket: a call
whose scope has no token stays queued while calls of other scopes go ahead, so one slow or throttled scope
never delays the others. A call that raises ``ThrottledError`` (the cloud's request quota said "slow down":
429, ThrottlingException, RESOURCE_EXHAUSTED..., as the adapter's error translation decides) pauses its
scope for its ``retry_after`` and is retried (at most ``retries`` times). Every other error, temporary ones
included, is returned in its slot for the adapter, and not retried here: a 5xx (even with Retry-After) or an
operation in progress says nothing about the scope's quota, so it neither pauses the scope nor delays its
other calls; the step machine or the next discovery tries again (with the error's ``retry_after``).

Per-scope call counts, throttles (``ThrottledError`` only) and latency are kept in ``STATS`` (plain
numbers, no dependency); the daemon exports them as Prometheus metrics (fleet.daemon.metrics:
``fleet_provider_api_calls_total``, ``fleet_provider_api_throttles_total``, ``fleet_provider_api_call_seconds``).

Buckets fill, and waits pass, on the provider's injected clock (fleet.clock; the wall clock in production),
like every other time in fleet: a cloud's quota is per second of the time its API runs in. The demo's clouds
and the chaos benches run on virtual time many times faster than real time, so their quotas are per virtual
second; a bucket on the real clock there would pace a week of virtual calls at real-time rates and stall every
tick (the regression of docs/scale.md "Rate limits run on the injected clock"). Only call latency, a
figure for operators, is measured on the real clock. A clock that stands still (a demo's clock before it
starts) cannot pace anything: a call that found no token after a wait that did not move the clock goes ahead.

The workers are one pool per limiter, started on first use and reused (a pool per batch would start and join
threads on every discovery); a batch of one call, and a batch started from one of the limiter's own workers,
runs on the calling thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from fleet.clock import Clock, SystemClock
from fleet.errors import ThrottledError

DEFAULT_CONCURRENCY = 16
WAKE_S = 0.02      # real seconds between looks at the buckets while calls run and others wait for a token
THROTTLE_PAUSE_S = 1.0   # a throttle that names no delay (the adapters' translations default theirs)


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` stored; ``take`` never blocks."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic):
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._now = now
        self._tokens = float(self.burst)
        self._at = now()
        self._paused_until = 0.0

    def _fill(self) -> float:
        t = self._now()
        if t < self._at and t >= self._paused_until:
            self._at = t           # the clock was set back (a test, a virtual clock): no refill, no freeze
        self._tokens = min(self.burst, self._tokens + max(0.0, t - self._at) * self.rate)
        self._at = max(self._at, t)
        return t

    def force(self) -> None:
        """Take a token now whatever the bucket holds (the limiter's clock stands still: nothing can refill)."""
        self._fill()
        self._tokens = max(0.0, self._tokens - 1)

    def take(self) -> float:
        """0 when a token was taken; else the seconds until one may be."""
        t = self._fill()
        if t < self._paused_until:
            return self._paused_until - t
        if self._tokens >= 1 - 1e-9:       # refills computed from epoch seconds may land a hair short of 1
            self._tokens = max(0.0, self._tokens - 1)
            return 0.0
        return (1 - self._tokens) / self.rate if self.rate > 0 else 1.0

    def pause(self, seconds: float) -> None:
        """The cloud said "slow down" (Retry-After): no token before then, and refill from empty after it."""
        t = self._fill()
        self._paused_until = max(self._paused_until, t + seconds)
        self._tokens = 0.0
        self._at = self._paused_until


LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class ScopeStats:
    calls: int = 0
    throttles: int = 0
    errors: int = 0
    seconds: float = 0.0
    latency: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))  # cumulative counts


_stats_lock = threading.Lock()
STATS: dict[tuple[str, str], ScopeStats] = {}   # (provider, scope) -> figures since start


def record(provider: str, scope: str, seconds: float, throttled: bool, failed: bool) -> None:
    with _stats_lock:
        s = STATS.setdefault((provider, scope), ScopeStats())
        s.calls += 1
        s.throttles += throttled
        s.errors += failed
        s.seconds += seconds
        for i, b in enumerate(LATENCY_BUCKETS):
            if seconds <= b:
                s.latency[i] += 1


def snapshot() -> dict[tuple[str, str], ScopeStats]:
    with _stats_lock:
        return {k: ScopeStats(v.calls, v.throttles, v.errors, v.seconds, list(v.latency)) for k, v in STATS.items()}


@dataclass
class _Task:
    index: int
    scope: Hashable
    fn: Callable[[], Any]
    tries: int = 0


class ScopeLimiter:
    """Token buckets per scope (each ``rate``/s, ``burst``), a shared pool of ``concurrency`` workers; time
    from ``clock`` (the provider's; default the wall clock)."""

    def __init__(self, provider: str, rate: float, burst: int, *, concurrency: int = DEFAULT_CONCURRENCY,
                 per_scope: int | None = None, retries: int = 3, max_pause: float = 60.0,
                 clock: Clock | None = None):
        self.provider = provider
        self.rate = rate
        self.burst = burst
        self.concurrency = max(1, concurrency)
        self.per_scope = per_scope or self.concurrency
        self.retries = retries
        self.max_pause = max_pause
        self.clock: Clock = clock or SystemClock()
        self._buckets: dict[Hashable, TokenBucket] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()     # .worker: this thread is one of the pool's

    def _seconds(self) -> float:
        return self.clock.now().timestamp()

    def bucket(self, scope: Hashable) -> TokenBucket:
        with self._lock:
            b = self._buckets.get(scope)
            if b is None:
                b = self._buckets[scope] = TokenBucket(self.rate, self.burst, now=self._seconds)
            return b

    def _workers(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"api-{self.provider}",
                                                initializer=self._mark_worker)
            return self._pool

    def _mark_worker(self) -> None:
        self._local.worker = True

    def close(self) -> None:
        """Stop the workers (calls in progress finish). The limiter starts a new pool if used again."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def call(self, scope: Hashable, fn: Callable[[], Any]) -> Any:
        """One call in ``scope`` on the calling thread (waits for a token; a throttle pauses and retries)."""
        out = self.run([(scope, fn)])[0]
        if isinstance(out, BaseException):
            raise out
        return out

    def spread(self, fns: Sequence[Callable[[], Any]]) -> list[Any]:
        """Run ``fns`` on the pool (at most ``concurrency`` at once), the results in order (an exception in
        its slot). Nothing is metered here: each function makes its requests through ``call`` (one token and
        one count per request, on its worker). For work split by scope (one function per account+region,
        subscription, project, tenancy+region...), so a throttled scope waits on its own worker only."""
        if len(fns) <= 1 or self.concurrency == 1 or getattr(self._local, "worker", False):
            out: list[Any] = []
            for fn in fns:
                try:
                    out.append(fn())
                except Exception as exc:   # noqa: BLE001 - returned in its slot
                    out.append(exc)
            return out
        pool = self._workers()
        futures = [pool.submit(fn) for fn in fns]
        wait(futures)
        return [f.exception() or f.result() for f in futures]

    def _timed(self, task: _Task) -> Any:
        t0 = time.monotonic()     # latency is a figure for operators: real seconds
        try:
            out = task.fn()
        except ThrottledError:
            record(self.provider, str(task.scope), time.monotonic() - t0, True, True)
            raise
        except Exception:
            record(self.provider, str(task.scope), time.monotonic() - t0, False, True)
            raise
        record(self.provider, str(task.scope), time.monotonic() - t0, False, False)
        return out

    def _wait_for_token(self, wait_s: float) -> bool:
        """Wait ``wait_s`` seconds on the clock; False when the clock did not move (it stands still)."""
        before = self.clock.now()
        self.clock.sleep(min(wait_s, self.max_pause))
        return self.clock.now() > before

    def run(self, calls: Sequence[tuple[Hashable, Callable[[], Any]]]) -> list[Any]:
        """Run every ``(scope, fn)``; the results in order (an exception in its slot when the call failed)."""
        results: list[Any] = [None] * len(calls)
        queue = [_Task(i, s, fn) for i, (s, fn) in enumerate(calls)]
        if len(queue) <= 1 or self.concurrency == 1 or getattr(self._local, "worker", False):
            self._run_here(queue, results)
            return results
        pool = self._workers()
        running: dict[Future[Any], _Task] = {}
        per_scope: dict[Hashable, int] = {}
        force = False
        while queue or running:
            wait_s = self._submit_ready(pool, queue, running, per_scope, force)
            force = False
            if not running:
                force = not self._wait_for_token(wait_s)
                continue
            done, _ = wait(list(running), timeout=min(wait_s, WAKE_S) if queue else None,
                           return_when=FIRST_COMPLETED)
            for fut in done:
                task = running.pop(fut)
                per_scope[task.scope] -= 1
                self._settle(fut, task, queue, results)
        return results

    def _run_here(self, queue: list[_Task], results: list[Any]) -> None:
        """The calls one after the other on this thread, each when its scope has a token."""
        while queue:
            task = queue[0]
            bucket = self.bucket(task.scope)
            delay = bucket.take()
            if delay > 0:
                if not self._wait_for_token(delay):
                    bucket.force()
                else:
                    continue
            queue.pop(0)
            fut: Future[Any] = Future()
            try:
                fut.set_result(self._timed(task))
            except Exception as exc:    # noqa: BLE001 - returned in its slot, as from the pool
                fut.set_exception(exc)
            self._settle(fut, task, queue, results)

    def _submit_ready(self, pool: ThreadPoolExecutor, queue: list[_Task], running: dict[Future[Any], _Task],
                      per_scope: dict[Hashable, int], force: bool = False) -> float:
        """Start the queued calls whose scope has a token and a free slot; the seconds until the next may.
        ``force``: the clock stood still through a wait, so the first call that finds no token goes anyway."""
        wait_s = 1.0
        blocked: set[Hashable] = set()
        for task in list(queue):
            if len(running) >= self.concurrency:
                break
            if task.scope in blocked or per_scope.get(task.scope, 0) >= self.per_scope:
                continue
            bucket = self.bucket(task.scope)
            delay = bucket.take()
            if delay > 0 and force:
                bucket.force()
                force = False
            elif delay > 0:
                blocked.add(task.scope)      # keep this scope's order; other scopes go ahead
                wait_s = min(wait_s, delay)
                continue
            queue.remove(task)
            per_scope[task.scope] = per_scope.get(task.scope, 0) + 1
            running[pool.submit(self._timed, task)] = task
        return max(wait_s, 0.001)

    def _settle(self, fut: Future[Any], task: _Task, queue: list[_Task], results: list[Any]) -> None:
        exc = fut.exception()
        if exc is None:
            results[task.index] = fut.result()
        elif isinstance(exc, ThrottledError) and task.tries < self.retries:
            pause = THROTTLE_PAUSE_S if exc.retry_after is None else float(exc.retry_after)
            self.bucket(task.scope).pause(min(pause, self.max_pause))
            task.tries += 1
            queue.insert(0, task)
        else:
            results[task.index] = exc
