"""The notifications config (strict, file:line errors) and secrets that never reach the logs."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from fleet.clock import FakeClock
from fleet.errors import InputError
from fleet.logs import redact
from fleet.notify.retry import RetryPolicy
from fleet.notify.webhooks import build_notifier, compute_endpoints
from fleet.policy.loader import load_config
from fleet.policy.models import NOTIFY_EVENTS
from fleet.state.store import SqlStore as Store
from tests.notify.conftest import START, add_event, wait_cursor, write_fleet_with_hook
from tests.notify.receiver import Receiver


def _problems(cfg) -> list[str]:
    with pytest.raises(InputError) as ei:
        load_config(cfg)
    return [str(p) for p in ei.value.problems]


@pytest.mark.parametrize("extra, line, want", [
    ("      secret: x\n", 26, "spec.notifications[0].secret: unknown field"),
    ("      events: [run-started, cluster-exploded]\n", 26,
     "spec.notifications[0].events[1]: must be 'run-started', 'wave-done', 'cluster-upgraded', 'cluster-failed', "
     "'run-halted', 'run-done', 'cluster-at-risk' or 'wave-awaiting-approval'"),
    ("      events: []\n", 26, "spec.notifications[0].events: Value error, list at least one event kind"),
    ("      format: teams\n", 26, "spec.notifications[0].format: must be 'json' or 'slack'"),
    ("      timeout: 0s\n", 26, "spec.notifications[0].timeout: Value error, must be longer than zero"),
    ("    - name: hook\n      url: http://127.0.0.1:1/x\n      format: slack\n", 22,
     "spec.notifications: Value error, duplicate notification names: hook"),
])
def test_bad_notification_config_is_reported_with_file_and_line(tmp_path, extra, line, want):
    cfg = write_fleet_with_hook(tmp_path, "http://127.0.0.1:9/hook", extra=extra)
    problems = _problems(cfg)
    assert len(problems) == 1
    where, _, rest = problems[0].partition(": ")
    assert where == f"{cfg}:{line}" and rest.startswith(want.replace("Value error, ", "")), problems


def test_url_and_secret_file_rules(tmp_path):
    cfg = write_fleet_with_hook(tmp_path, "ftp://example.com/x")
    assert "spec.notifications[0].url: must be an http:// or https:// URL with a host" in _problems(cfg)[0]
    cfg.write_text(cfg.read_text().replace("ftp://example.com/x", "https://hooks.example.com/x")
                   .replace("      secretFile: hook-secret\n", ""))
    assert "secretFile is required for format json" in _problems(cfg)[0]
    cfg.write_text(cfg.read_text() + "      format: slack\n")
    c = load_config(cfg).spec.notifications[0]
    assert c.format == "slack" and c.secret_file is None and tuple(c.events) == NOTIFY_EVENTS
    assert c.timeout.total_seconds() == 10


def test_unreadable_or_empty_secret_file_fails_start_up_with_file_line(tmp_path):
    cfg = write_fleet_with_hook(tmp_path, "http://127.0.0.1:9/hook")
    (tmp_path / "hook-secret").unlink()
    with pytest.raises(InputError) as ei:
        compute_endpoints(load_config(cfg), cfg)
    text = str(ei.value)
    assert f"{cfg}:25: spec.notifications[0].secretFile: cannot read secret file" in text
    (tmp_path / "hook-secret").write_text("  \n")
    with pytest.raises(InputError, match="is empty"):
        compute_endpoints(load_config(cfg), cfg)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_secret_and_url_never_reach_the_logs(tmp_path, caplog):
    secret = "whsec-LOGCANARY-5d1e0b7a"
    with Receiver([(500, {}), (401, {})]) as rx:
        cfg = write_fleet_with_hook(tmp_path, rx.url, secret=secret)
        dead = f"http://127.0.0.1:{_closed_port()}/token-in-path-CANARY"
        cfg.write_text(cfg.read_text() + f"    - name: dead\n      url: {dead}\n      secretFile: hook-secret\n")
        config = load_config(cfg)
        store = Store(f"sqlite:///{tmp_path}/s.db")
        clock = FakeClock(START)
        n = build_notifier(config, cfg, store, clock, poll_interval=0.05,
                           retry=RetryPolicy(max_attempts=3, jitter=lambda: 0.5))
        assert n is not None
        # both are registered with fleet.logs, so even a careless log line elsewhere would be masked
        assert redact(f"x {secret} y {dead}") == "x *** y ***"
        caplog.set_level(logging.DEBUG)
        try:
            n.start()
            a = add_event(store, "run-started")
            b = add_event(store, "cluster-failed", cluster_id="c0", message="boom")
            n.poke()
            wait_cursor(store, "hook", b)
            wait_cursor(store, "dead", b)
            assert [r.status for r in rx.requests] == [500, 401, 200]
        finally:
            n.stop()
            store.close()
    # caplog's handler has no redacting filter: these are the records exactly as fleet.notify wrote them
    records = [r for r in caplog.records if r.name.startswith("fleet.notify")]
    assert {r.getMessage() for r in records} >= {"webhook delivery failed; retrying",
                                                 "webhook rejected the event; dropped",
                                                 "webhook delivery failed; giving up"}
    dump = json.dumps([{**r.__dict__, "args": str(r.args), "exc_info": str(r.exc_info)} for r in records],
                      default=str)
    assert secret not in dump and "CANARY" not in dump and rx.url not in dump
    assert '"endpoint": "dead"' in dump and '"endpoint": "hook"' in dump and f'"event": {a}' in dump
