"""Webhook notifications: follow the events table and POST signed JSON (or Slack messages) to endpoints.

::

    engine ──writes──► events table ◄──reads after its cursor── one worker thread per endpoint ──POST──►
                                          (cursor in the control table)

The engine never calls this module: it only writes its journal, as always. Each endpoint has its own
worker thread, its own cursor and its own bounded batch of events in memory, so a slow or hanging receiver
delays only its own notifications, never the engine nor the other endpoints. A delivery is retried on
connection errors, timeouts, 408, 429 and 5xx with exponential backoff and jitter (``Retry-After`` is
honoured), see fleet.notify.retry; waits go through the injected Clock. The cursor moves past an event
only once it was delivered or dropped, so after a restart nothing is lost and at most the in-flight event
is sent again (receivers de-duplicate on the event id).

Only the leader delivers (``is_leader``); cursors live in the shared store, so a new leader resumes
where the old one stopped. Logs name the endpoint, never its URL or secret.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import httpx

from fleet.clock import Clock
from fleet.errors import InputError, Problem, StateError
from fleet.logs import register_secret
from fleet.notify import risk
from fleet.notify.cursor import GAP_GRACE, Gap, compute_safe_upto, mark_cursor, reconcile_cursor
from fleet.notify.payloads import render_body
from fleet.notify.retry import RetryPolicy, compute_wait, is_retryable_status, parse_retry_after
from fleet.notify.signing import DELIVERY_HEADER, EVENT_HEADER, signed_headers
from fleet.policy.models import FleetConfig
from fleet.state.store import SqlStore as Store

log = logging.getLogger("fleet.notify")

USER_AGENT = "fleet-notify/1"
SLEEP_SLICE = 0.25          # seconds: waits are cut into slices so stop() is noticed quickly
POLL_INTERVAL = 1.0         # seconds between looks at the events table when nothing woke a worker
BATCH_SIZE = 200            # events held in memory per endpoint
RISK_QUEUE_SIZE = 1000


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str = field(repr=False)
    format: str = "json"
    secret: str | None = field(default=None, repr=False)
    events: frozenset[str] = frozenset()
    timeout: float = 10.0


class Outcome(Enum):
    DELIVERED = "delivered"
    DROPPED = "dropped"      # rejected (4xx) or out of attempts: the cursor moves on
    STOPPED = "stopped"      # the notifier is stopping: the cursor stays, the event is sent after restart


@dataclass
class Stats:
    delivered: int = 0
    dropped: int = 0
    retries: int = 0
    attempts: int = 0


class _Sender:
    """POSTs one event to one endpoint, with retries. Used by that endpoint's worker thread only."""

    def __init__(self, endpoint: Endpoint, notifier: Notifier):
        self.ep = endpoint
        self.n = notifier
        self.stats = Stats()
        self.client = httpx.Client(timeout=endpoint.timeout, follow_redirects=False,
                                   headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"})

    def deliver(self, event: dict[str, Any]) -> Outcome:
        ep, clock, policy = self.ep, self.n.clock, self.n.retry
        body = render_body(event, ep.format, self.n.fleet)
        where = log_keys(ep.name, event)
        for attempt in range(1, policy.max_attempts + 1):
            if self.n.stopping.is_set():
                return Outcome.STOPPED
            ts = int(clock.now().timestamp())
            headers = {EVENT_HEADER: event["kind"], DELIVERY_HEADER: str(event["id"]),
                       **signed_headers(ep.secret, ts, body)}
            retry_after = None
            self.stats.attempts += 1
            try:
                resp = self.client.post(ep.url, content=body, headers=headers)
            except httpx.RequestError as exc:
                reason = exc.__class__.__name__   # the class only: messages may carry the URL
            else:
                if 200 <= resp.status_code < 300:
                    self.stats.delivered += 1
                    log.debug("webhook delivered", extra=where | {"attempt": attempt})
                    return Outcome.DELIVERED
                reason = f"HTTP {resp.status_code}"
                if not is_retryable_status(resp.status_code):
                    self.stats.dropped += 1
                    log.error("webhook rejected the event; dropped", extra=where | {"reason": reason})
                    return Outcome.DROPPED
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), clock.now())
            if attempt == policy.max_attempts:
                break
            wait = compute_wait(policy, attempt, retry_after)
            self.stats.retries += 1
            log.warning("webhook delivery failed; retrying", extra=where | {
                "attempt": attempt, "reason": reason, "delay": round(wait.total_seconds(), 3)})
            if not self.n.sleep(wait.total_seconds()):
                return Outcome.STOPPED
        self.stats.dropped += 1
        log.error("webhook delivery failed; giving up", extra=where | {"attempt": policy.max_attempts,
                                                                         "reason": reason})
        return Outcome.DROPPED

    def close(self) -> None:
        self.client.close()


def log_keys(endpoint: str, event: dict[str, Any]) -> dict[str, Any]:
    """The structured log keys of one delivery: the endpoint's name (never its URL), the event's id and kind,
    and fleet's stable keys (fleet.logs) ``run``, ``cluster`` and ``operation`` where the event has them."""
    out: dict[str, Any] = {"endpoint": endpoint, "event": event["id"], "kind": event["kind"]}
    for key, column in (("run", "run_id"), ("cluster", "cluster_id"), ("operation", "operation_id")):
        if event.get(column):
            out[key] = event[column]
    return out


class _Worker(threading.Thread):
    """Follows the events table for one endpoint: read a batch after the cursor, deliver, mark the cursor."""

    def __init__(self, notifier: Notifier, endpoint: Endpoint):
        super().__init__(name=f"fleet-notify-{endpoint.name}", daemon=True)
        self.n = notifier
        self.ep = endpoint
        self.sender = _Sender(endpoint, notifier)
        self.wake = threading.Event()
        self.cursor: int | None = None
        self.gap: Gap | None = None

    def run(self) -> None:
        n = self.n
        while not n.stopping.is_set():
            self.wake.clear()
            try:
                if not n.is_leader():
                    self.cursor = None          # reload from the store when leadership comes back
                    self.wake.wait(n.poll_interval)
                    continue
                more = self._reconcile_batch()
            except StateError as exc:
                log.warning("notifier cannot use the state store; will retry",
                            extra={"endpoint": self.ep.name, "reason": str(exc)})
                self.cursor = None
                more = False
            except Exception:  # noqa: BLE001 - a worker must outlive any single bad event
                log.exception("notifier worker error", extra={"endpoint": self.ep.name})
                more = False
            if not more:
                self.wake.wait(n.poll_interval)

    def _reconcile_batch(self) -> bool:
        """Deal with one batch; True when there is more to read at once."""
        n, name = self.n, self.ep.name
        if self.cursor is None:
            self.cursor = reconcile_cursor(n.store, name)
        batch = n.store.events(after_id=self.cursor, limit=n.batch_size)
        upto, self.gap = compute_safe_upto(self.cursor, [e["id"] for e in batch], self.gap, n.clock.now(),
                                           n.gap_grace)
        marked = self.cursor
        for ev in batch:
            if ev["id"] > upto or n.stopping.is_set():
                break
            if ev["kind"] in self.ep.events:
                if self.sender.deliver(ev) is Outcome.STOPPED:
                    break
                mark_cursor(n.store, name, ev["id"])
                marked = ev["id"]
            self.cursor = ev["id"]
        if self.cursor != marked:
            mark_cursor(n.store, name, self.cursor)
        if self.gap is not None:
            n.sleep(min(n.poll_interval, n.gap_grace.total_seconds() / 4))
            return True
        return len(batch) >= n.batch_size


class Notifier:
    """Delivers events to webhook endpoints from background threads. ``start``/``stop`` from the daemon."""

    def __init__(self, store: Store, endpoints: Sequence[Endpoint], clock: Clock, *, fleet: str = "fleet",
                 retry: RetryPolicy | None = None, is_leader: Callable[[], bool] | None = None,
                 poll_interval: float = POLL_INTERVAL, batch_size: int = BATCH_SIZE,
                 gap_grace: timedelta = GAP_GRACE, risk_queue_size: int = RISK_QUEUE_SIZE):
        self.store = store
        self.endpoints = list(endpoints)
        self.clock = clock
        self.fleet = fleet
        self.retry = retry or RetryPolicy()
        self.is_leader = is_leader or (lambda: True)
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.gap_grace = gap_grace
        self.stopping = threading.Event()
        self._workers: list[_Worker] = []
        self._risk_q: queue.Queue[Any] = queue.Queue(maxsize=risk_queue_size)
        self._intake: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Set every new endpoint's cursor (synchronously, so no event written after this is missed), then
        start the worker threads."""
        if self._workers:
            return
        self.stopping.clear()
        workers = [_Worker(self, ep) for ep in self.endpoints]
        if self.is_leader():
            for w in workers:
                w.cursor = reconcile_cursor(self.store, w.ep.name)
        self._workers = workers
        for w in workers:
            w.start()
        self._intake = threading.Thread(target=self._run_intake, name="fleet-notify-risk", daemon=True)
        self._intake.start()
        risk.bind(self)
        log.info("notifier started", extra={"endpoints": ",".join(ep.name for ep in self.endpoints)})

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads within about ``timeout`` seconds in all; a delivery still in flight then is
        abandoned (its event is sent again after a restart)."""
        risk.unbind(self)
        self.stopping.set()
        for w in self._workers:
            w.wake.set()
        if self._intake is not None:
            try:
                self._risk_q.put_nowait(None)
            except queue.Full:
                pass
        threads = [*self._workers, *([self._intake] if self._intake else [])]
        for t in threads:
            t.join(timeout / max(1, len(threads)))
            if t.is_alive():
                log.warning("notifier thread still busy at stop; abandoned", extra={"reason": t.name})
        for w in self._workers:
            if not w.is_alive():
                w.sender.close()
        self._workers = []
        self._intake = None

    def poke(self) -> None:
        """Look at the events table now (e.g. right after a reconcile); never blocks."""
        for w in self._workers:
            w.wake.set()

    def sleep(self, seconds: float) -> bool:
        """Wait on the injected clock, in slices; False when stopping cut the wait short."""
        remaining = seconds
        while remaining > 0:
            if self.stopping.is_set():
                return False
            step = min(remaining, SLEEP_SLICE)
            self.clock.sleep(step)
            remaining -= step
        return not self.stopping.is_set()

    def stats(self) -> dict[str, Stats]:
        return {w.ep.name: w.sender.stats for w in self._workers}

    # ---- the risk list --------------------------------------------------------------------------------
    def enqueue_risk(self, item: risk.RiskTransition | risk.RiskList) -> bool:
        try:
            self._risk_q.put_nowait(item)
            return True
        except queue.Full:
            log.warning("risk notification queue full; dropped", extra={"reason": type(item).__name__})
            return False

    def _run_intake(self) -> None:
        while True:
            item = self._risk_q.get()
            if item is None:
                return
            try:
                entering = risk.record_risk(self.store, item)
            except Exception:  # noqa: BLE001 - keep the intake alive; the daemon sends the list again
                log.exception("cannot record risk-list entries")
                continue
            for t in entering:
                log.info("cluster entered the risk list", extra={"cluster": t.cluster_id, "reason": t.reason})
            if entering:
                self.poke()


# ---- construction from the FleetConfig ----------------------------------------------------------------

def _line_of(config_file: Path, loc: tuple[str | int, ...]) -> int | None:
    from fleet.policy.source import load_documents
    try:
        docs = load_documents(config_file)
    except InputError:
        return None
    return docs[0].line_of(loc) if docs else None


def compute_endpoints(config: FleetConfig, config_file: Path) -> list[Endpoint]:
    """Resolve the FleetConfig's notifications: read (and register as secrets) each secretFile. Raises
    InputError (file:line: field: message) when a secret file cannot be read or is empty."""
    problems: list[Problem] = []
    out: list[Endpoint] = []
    base = Path(config_file).resolve().parent
    for i, nc in enumerate(config.spec.notifications):
        register_secret(nc.url)   # webhook URLs often carry a token (Slack): treat them as credentials
        secret = None
        if nc.secret_file:
            p = Path(nc.secret_file).expanduser()
            p = p if p.is_absolute() else base / p
            try:
                secret = p.read_text(encoding="utf-8").strip()
                if not secret:
                    raise ValueError(f"secret file {p} is empty")
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                why = str(exc) if isinstance(exc, ValueError) else f"cannot read secret file {p}: {exc.__class__.__name__}"
                loc: tuple[str | int, ...] = ("spec", "notifications", i, "secretFile")
                problems.append(Problem(str(config_file), _line_of(Path(config_file), loc),
                                        f"spec.notifications[{i}].secretFile", why))
                continue
            register_secret(secret)
        out.append(Endpoint(nc.name, nc.url, nc.format, secret, frozenset(nc.events), nc.timeout.total_seconds()))
    if problems:
        raise InputError(problems)
    return out


def build_notifier(config: FleetConfig, config_file: Path, store: Store, clock: Clock, *,
                   is_leader: Callable[[], bool] | None = None, **kw: Any) -> Notifier | None:
    """The daemon's notifier, or None when the FleetConfig lists no notifications."""
    if not config.spec.notifications:
        return None
    endpoints = compute_endpoints(config, config_file)
    return Notifier(store, endpoints, clock, fleet=config.metadata.name, is_leader=is_leader, **kw)
