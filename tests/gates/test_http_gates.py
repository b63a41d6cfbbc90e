"""The Prometheus gate against a REAL Prometheus process (Debian's package) scraping an exporter the test
serves, and the webhook gate against a local HTTP server. No function-level mocks: real sockets, real HTTP."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from fleet.gates.checks import NO_PROVIDER_CHECKS, evaluate
from fleet.gates.settle import Seen, compute_progress
from fleet.policy.gates import Gate
from fleet.provider import CheckResult
from tests.gates.servers import Exporter, Webhook, closed_port_url, prometheus, silent_socket, wait_for_value


def gate(**kw):
    return Gate.model_validate({"name": "g", **kw})


def check(g):
    return evaluate(g, NO_PROVIDER_CHECKS, {"cluster": "sim/lab/c0", "phase": "post-step"})


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    exporter = Exporter()
    with prometheus(tmp_path_factory.mktemp("prom"), exporter.port) as url:
        wait_for_value(url, 1.0)
        yield exporter, url
    exporter.close()


def test_prometheus_pass_and_fail(prom):
    exporter, url = prom
    ok = gate(type="prometheus", url=url, query="fleet_test_ok == 1")
    out = check(ok)
    assert out.result is CheckResult.PASS, out
    assert out.evidence["samples"] == 1 and out.evidence["values"][0]["value"] == 1.0
    exporter.value = 0
    wait_for_value(url, 0.0)
    out = check(ok)
    assert (out.result, out.reason) == (CheckResult.FAIL, "the query returned no samples")
    raw = check(gate(type="prometheus", url=url, query="fleet_test_ok"))   # a 0 sample fails too
    assert raw.result is CheckResult.FAIL and "0 or NaN" in raw.reason
    exporter.value = 1
    wait_for_value(url, 1.0)


def test_prometheus_bad_query_is_an_error(prom):
    _exporter, url = prom
    out = check(gate(type="prometheus", url=url, query="sum(("))
    assert out.result is CheckResult.ERROR and "bad_data" in out.reason


def test_prometheus_settle_is_reset_by_a_flap(prom):
    """The gate must hold for its settle period: a failing evaluation in between starts the count again."""
    exporter, url = prom
    g = gate(type="prometheus", url=url, query="fleet_test_ok == 1", settle="3s", timeout="60s")
    started = datetime.now(UTC)
    seen: list[Seen] = []

    def look() -> str:
        out = check(g)
        now = datetime.now(UTC)
        seen.append(Seen(now, out.result.value, out.reason))
        return compute_progress(seen, g.settle, g.timeout, started, now).state

    assert look() == "waiting"                 # passing, but not yet for 3 s
    time.sleep(1)
    exporter.value = 0                         # the flap
    wait_for_value(url, 0.0)
    assert look() == "waiting"
    flap_ended = datetime.now(UTC)
    exporter.value = 1
    wait_for_value(url, 1.0)
    states = []
    while not states or states[-1] == "waiting":
        states.append(look())
        time.sleep(0.5)
        assert (datetime.now(UTC) - started).total_seconds() < 30
    assert states[-1] == "satisfied"
    assert (seen[-1].at - flap_ended).total_seconds() >= 3       # counted from after the flap, not from the start


def test_prometheus_unreachable_and_timeout_are_errors():
    out = check(gate(type="prometheus", url=closed_port_url(), query="up"))
    assert out.result is CheckResult.ERROR and out.evidence["error"] == "connect"
    with silent_socket() as url:
        t0 = time.monotonic()
        out = check(gate(type="prometheus", url=url, query="up", requestTimeout="1s"))
        assert time.monotonic() - t0 < 5
    assert out.result is CheckResult.ERROR and out.evidence["error"] == "timeout" and "within 1s" in out.reason


def test_post_step_timeout_fails_a_gate_that_never_holds(prom):
    exporter, url = prom
    g = gate(type="prometheus", url=url, query="fleet_test_ok == 2", settle="1s", timeout="2s")
    started = datetime.now(UTC)
    seen: list[Seen] = []
    while True:
        out = check(g)
        now = datetime.now(UTC)
        seen.append(Seen(now, out.result.value, out.reason))
        p = compute_progress(seen, g.settle, g.timeout, started, now)
        if p.state != "waiting":
            break
        time.sleep(0.3)
    assert p.state == "failed" and "did not pass within 2s" in p.reason and "no samples" in p.reason


@pytest.fixture
def hook():
    h = Webhook()
    yield h
    h.close()


def test_webhook_2xx_passes_500_fails(hook, tmp_path):
    headers = tmp_path / "headers"
    headers.write_text("# smoke test credentials\nAuthorization: Bearer s3cret\nX-Team: platform\n")
    out = check(gate(type="webhook", url=f"{hook.url}/ok", method="POST", headersFile=str(headers)))
    assert out.result is CheckResult.PASS and out.evidence["httpStatus"] == 200
    req = hook.requests[-1]
    assert req["method"] == "POST" and req["headers"]["Authorization"] == "Bearer s3cret"
    assert json.loads(req["body"])["cluster"] == "sim/lab/c0"
    assert "s3cret" not in repr(out)                           # header values never reach the evidence
    out = check(gate(type="webhook", url=f"{hook.url}/fail"))
    assert (out.result, out.reason) == (CheckResult.FAIL, "HTTP 500")
    assert out.evidence["body"] == "smoke test failed"


def test_webhook_timeout_and_refused_are_errors(hook):
    out = check(gate(type="webhook", url=f"{hook.url}/slow", requestTimeout="1s"))
    assert out.result is CheckResult.ERROR and out.evidence["error"] == "timeout"
    out = check(gate(type="webhook", url=closed_port_url()))
    assert out.result is CheckResult.ERROR and out.evidence["error"] == "connect"


def test_webhook_unreadable_headers_file_is_an_error(hook, tmp_path):
    bad = tmp_path / "h"
    bad.write_text("no colon here\n")
    out = check(gate(type="webhook", url=f"{hook.url}/ok", headersFile=str(bad)))
    assert out.result is CheckResult.ERROR and "expected 'Name: value'" in out.reason and hook.requests == []
