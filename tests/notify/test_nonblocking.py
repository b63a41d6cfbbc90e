"""A receiver that hangs never holds up the daemon's ticks: the engine runs a whole rollout in virtual time
while the first webhook is still waiting for an answer."""

from __future__ import annotations

import threading
from datetime import timedelta

from fleet.clock import FakeClock
from fleet.daemon.service import Daemon
from fleet.runtime import build_runtime
from tests.notify.conftest import SECRET, START, write_fleet_with_hook
from tests.notify.receiver import Receiver, verify


def test_hanging_receiver_does_not_block_daemon_ticks(tmp_path):
    hold = threading.Event()
    with Receiver(hold=hold) as rx:
        cfg = write_fleet_with_hook(tmp_path, rx.url, extra="      timeout: 5m\n", n=2, concurrency=2)
        clock = FakeClock(START)
        daemon = Daemon(build_runtime(cfg, clock), clock)
        assert daemon.notifier is not None
        daemon.notifier.poll_interval = 0.05
        daemon.notifier.start()
        store = daemon.store
        ticks: list[int] = []

        def drive() -> None:
            for _ in range(200):
                daemon.tick()
                daemon.notifier.poke()
                ticks.append(1)
                if store.runs() and not store.runs(active_only=True):
                    return
                clock.advance(timedelta(seconds=1))

        try:
            t = threading.Thread(target=drive)
            t.start()
            rx.wait_until(lambda r: r.in_flight == 1)      # the first webhook is stuck at the receiver ...
            t.join(60)                                      # (a safety net only: a blocked tick would hang)
            assert not t.is_alive(), "the ticks did not finish while a webhook hung"
            # ... and meanwhile the engine finished the whole rollout
            kinds = [e["kind"] for e in store.events()]
            assert kinds.count("cluster-upgraded") == 2 and "run-done" in kinds
            assert rx.in_flight == 1 and rx.requests == []
            hold.set()
            want = [e["id"] for e in store.events()
                    if e["kind"] in ("run-started", "wave-done", "cluster-upgraded", "run-done", "cluster-at-risk")]
            rx.wait_until(lambda r: len(r.requests) == len(want))
        finally:
            hold.set()
            daemon.stop()
    assert [r.json()["id"] for r in rx.requests] == want
    assert all(verify(SECRET, r.headers, r.body) for r in rx.requests)
    assert len(ticks) > 3
