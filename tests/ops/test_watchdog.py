"""The watchdog (issue #23): a stuck reconcile makes /readyz answer 503 (and fleet_ready 0) and it recovers; a
wedged leader stops renewing its lease so a standby takes over; a tick past its budget is abandoned at a safe
point; an invalid policy set keeps the last valid one and fails readiness; a leader whose store turned
read-only is not ready until it can write again.

The stuck tick is real: the simulated cloud answers with latency through the daemon's clock, and this test's
clock blocks that sleep until the test lets it go (a cloud API that hangs)."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fleet.clock import FakeClock
from fleet.daemon.api import create_app
from fleet.daemon.service import Daemon
from fleet.runtime import build_runtime
from tests.execution.helpers import START
from tests.ha.helpers import ha_fleet, replica
from tests.integration.fleetfiles import write_fleet


class HangingClock(FakeClock):
    """Virtual time; ``sleep`` (the sim's API latency) blocks while ``hang`` is set, until ``release``."""

    def __init__(self) -> None:
        super().__init__(START)
        self.hang = threading.Event()
        self.release = threading.Event()
        self.hanging = threading.Event()

    def sleep(self, seconds: float) -> None:
        if self.hang.is_set():
            self.hanging.set()
            self.release.wait(60)
        super().sleep(seconds)


def _wedge(daemon: Daemon, clock: HangingClock) -> threading.Thread:
    clock.hang.set()
    daemon.engine.providers["sim"].world.faults.latency_s = 1.0
    t = threading.Thread(target=daemon.tick, daemon=True)
    t.start()
    assert clock.hanging.wait(10), "the tick never reached the cloud"
    return t


def _unwedge(daemon: Daemon, clock: HangingClock, t: threading.Thread) -> None:
    clock.hang.clear()
    daemon.engine.providers["sim"].world.faults.latency_s = 0.0
    clock.release.set()
    t.join(10)
    assert not t.is_alive()


def _fleet(tmp_path: Path, budget: str = "1s") -> Path:
    cfg = write_fleet(tmp_path, interval="1s")
    # discoveryInterval 0s: every tick calls the cloud (the call this test makes hang)
    cfg.write_text(cfg.read_text() + f"  reconcileBudget: {budget}\n  discoveryInterval: 0s\n")
    return cfg


def test_stuck_reconcile_fails_readiness_then_recovers(tmp_path: Path):
    clock = HangingClock()
    daemon = Daemon(build_runtime(_fleet(tmp_path), clock), clock)
    api = TestClient(create_app(daemon), base_url="http://127.0.0.1")
    try:
        assert api.get("/readyz").status_code == 503            # nothing completed yet
        assert daemon.tick() is not None
        assert api.get("/readyz").status_code == 200
        t = _wedge(daemon, clock)
        deadline = time.monotonic() + 10
        while api.get("/readyz").status_code == 200:
            assert time.monotonic() < deadline, "readiness never noticed the stuck reconcile"
            time.sleep(0.1)
        r = api.get("/readyz")
        assert r.status_code == 503 and "has been running" in r.text
        assert daemon.metrics.registry.get_sample_value("fleet_ready") == 0
        assert "fleet_ready 0.0" in api.get("/metrics").text
        # the cloud answers again: the overdue tick is abandoned at its next safe point, the next one completes
        _unwedge(daemon, clock, t)
        assert daemon.metrics.registry.get_sample_value("fleet_reconcile_abandoned_total") == 1
        assert daemon.tick() is not None
        assert api.get("/readyz").status_code == 200
        assert daemon.metrics.registry.get_sample_value("fleet_ready") == 1
    finally:
        clock.release.set()
        daemon.stop()


def test_a_wedged_leader_lets_its_lease_go_and_a_standby_takes_over(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/state.db"
    cfgs = ha_fleet(tmp_path, n=2, state=url, interval="1s", extra="  reconcileBudget: 1s\n  discoveryInterval: 0s\n")
    clock = HangingClock()
    a = replica(cfgs[0], clock, "A", url)
    b = replica(cfgs[1], clock, "B", url)
    try:
        assert a.leader.step() and not b.leader.step()
        assert a.tick() is not None
        t = _wedge(a, clock)
        time.sleep(1.3)                                          # past A's tick budget (1s), the tick still hangs
        assert a.leader.step() is False and not a.is_leader()   # A does not renew: it lets the lease go
        assert a.store.fence[1] == -1                            # and its hung tick can write nothing more
        clock.advance(timedelta(seconds=31))                     # A's lease row expires
        assert b.leader.step() is True and b.leader.epoch == 2
        assert a.leader.step() is False                          # nor does A take it back while wedged
        _unwedge(a, clock, t)
        assert b.tick() is not None
    finally:
        clock.release.set()
        a.stop()
        b.stop()


def test_invalid_policy_set_keeps_the_last_valid_one_and_fails_readiness(tmp_path: Path):
    clock = FakeClock(START)
    cfg = _fleet(tmp_path, budget="30s")
    daemon = Daemon(build_runtime(cfg, clock), clock)
    try:
        assert daemon.tick() is not None and daemon.ready()[0]
        bad = tmp_path / "policies" / "bad.yaml"
        bad.write_text("apiVersion: fleet.dev/v1alpha1\nkind: UpgradePolicy\nmetadata:\n  name: bad\nspec:\n"
                       "  target: {version: '1.30'}\n  maintenance:\n    windows:\n"
                       "      - rrule: FREQ=WEEKLY;INTERVAL=0;BYDAY=SA\n        start: '02:00'\n        duration: 4h\n")
        t0 = time.perf_counter()
        assert daemon.tick() is not None                        # the tick still completes, on the last valid set
        assert time.perf_counter() - t0 < 5
        assert [p.name for p in daemon.engine._policy_cache] == ["all"]
        ok, why = daemon.ready()
        assert not ok and "invalid" in why and f"{bad}:9" in why and "INTERVAL" in why
        assert daemon.metrics.registry.get_sample_value("fleet_policy_set_valid") == 0
        bad.unlink()
        assert daemon.tick() is not None and daemon.ready() == (True, "ok")
    finally:
        daemon.stop()


DROPPED = ["interval-0", "feb-30-daily", "duration-weeks-overflow", "duration-5000-digits", "concurrency-huge",
           "tz-etc-gmt+14"]


def test_hostile_policies_dropped_into_a_running_daemon_keep_the_last_valid_set(tmp_path: Path):
    from tests.ops.test_hostile_inputs import POLICY_CASES
    cases = {c[0]: c for c in POLICY_CASES}
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(_fleet(tmp_path, budget="30s"), clock), clock)
    try:
        assert daemon.tick() is not None and daemon.ready()[0]
        for name in DROPPED:
            _, text, line, word = cases[name]
            bad = tmp_path / "policies" / f"{name}.yaml"
            bad.write_text(text)
            t0 = time.perf_counter()
            assert daemon.tick() is not None, name               # the tick completes on the last valid set
            assert time.perf_counter() - t0 < 5, name
            assert [p.name for p in daemon.engine._policy_cache] == ["all"], name
            ok, why = daemon.ready()
            assert not ok and f"{bad}:{line}" in why and word.lower() in why.lower(), (name, why)
            bad.unlink()
        assert daemon.tick() is not None and daemon.ready() == (True, "ok")
    finally:
        daemon.stop()


@pytest.mark.postgres
def test_readyz_fails_when_the_leader_cannot_write_and_recovers(tmp_path: Path, pg_url: str):
    """The state database turns read-only under a running daemon (as after a fail-over to a standby: new
    sessions get ``default_transaction_read_only``): its ticks have nothing to write, yet /readyz answers 503
    naming the refusal and fleet_ready is 0; writable again, it recovers. A real PostgreSQL, a role of its own."""
    import psycopg
    role = f"fleet_ro_{secrets.token_hex(4)}"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=test"
    schema = pg_url.rpartition("search_path%3D")[2]

    def sql(*stmts: str) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            for s in stmts:
                conn.execute(s)

    def kick() -> None:      # end the role's sessions: the pool reconnects with the role's new defaults
        sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")

    sql(f"CREATE ROLE {role} LOGIN", f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO {role}')
    url = pg_url.replace("postgres@", f"{role}@", 1)
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(write_fleet(tmp_path, state=url, interval="1s"), clock), clock)
    api = TestClient(create_app(daemon), base_url="http://127.0.0.1")
    try:
        assert daemon.tick() is not None
        assert api.get("/readyz").status_code == 200
        sql(f"ALTER ROLE {role} SET default_transaction_read_only = on")
        kick()
        deadline = time.monotonic() + 10
        while (r := api.get("/readyz")).status_code == 200:
            assert time.monotonic() < deadline, "readiness never noticed the read-only store"
            time.sleep(0.2)
        assert r.status_code == 503 and "refuses writes" in r.text and "ReadOnlySqlTransaction" in r.text, r.text
        assert daemon.metrics.registry.get_sample_value("fleet_ready") == 0
        assert "fleet_ready 0.0" in api.get("/metrics").text
        sql(f"ALTER ROLE {role} RESET default_transaction_read_only")
        kick()
        deadline = time.monotonic() + 10
        while (r := api.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, f"readiness never recovered: {r.text}"
            time.sleep(0.2)
        assert daemon.metrics.registry.get_sample_value("fleet_ready") == 1
        assert daemon.tick() is not None
    finally:
        daemon.stop()
        sql(f"DROP OWNED BY {role} CASCADE", f"DROP ROLE {role}")
