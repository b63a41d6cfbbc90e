from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleet.clock import FakeClock
from fleet.notify.retry import RetryPolicy
from fleet.notify.webhooks import Endpoint, Notifier
from fleet.policy.models import NOTIFY_EVENTS
from fleet.state.store import SqlStore as Store

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SECRET = "whsec-canary-7f3a9c1e"


def add_event(store: Store, kind: str, *, at: datetime = START, run_id: str | None = "r1",
              cluster_id: str | None = None, message: str = "") -> int:
    with store.write("test event") as conn:
        store.add_event(conn, at, kind, run_id=run_id, cluster_id=cluster_id, message=message)
    return store.events(kind=kind, limit=100000)[-1]["id"]


def endpoint(url: str, *, name: str = "hook", fmt: str = "json", secret: str | None = SECRET,
             events: tuple[str, ...] = NOTIFY_EVENTS, timeout: float = 10.0) -> Endpoint:
    return Endpoint(name, url, fmt, secret, frozenset(events), timeout)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path}/state.db")
    yield s
    s.close()


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def notifiers():
    """Build notifiers with a fast idle poll and a deterministic jitter; every one is stopped afterwards."""
    made: list[Notifier] = []

    def make(store: Store, endpoints: list[Endpoint], clock: FakeClock, **kw) -> Notifier:
        kw.setdefault("retry", RetryPolicy(max_attempts=5, jitter=lambda: 0.5))
        kw.setdefault("poll_interval", 0.05)
        n = Notifier(store, endpoints, clock, fleet="test", **kw)
        made.append(n)
        return n

    yield make
    for n in made:
        n.stop()


def wait_cursor(store: Store, name: str, event_id: int) -> None:
    """Wait (real threads) until the endpoint's cursor reached ``event_id``; fails after a safety timeout."""
    import time

    from fleet.notify.cursor import observe_cursor
    for _ in range(600):
        if (observe_cursor(store, name) or 0) >= event_id:
            return
        time.sleep(0.05)
    raise AssertionError(f"cursor of {name} stuck at {observe_cursor(store, name)}, waiting for {event_id}")


def write_fleet_with_hook(d, url: str, *, secret: str = SECRET, extra: str = "", **kw):
    """The integration tests' sim fleet plus a notifications entry (and its secret file)."""
    from tests.integration.fleetfiles import write_fleet
    cfg = write_fleet(d, **kw)
    (d / "hook-secret").write_text(secret + "\n")
    cfg.write_text(cfg.read_text() + "  notifications:\n    - name: hook\n"
                   f"      url: {url}\n      secretFile: hook-secret\n{extra}")
    return cfg
