"""Table tests of the pure parts: signatures, retry waits, Retry-After parsing, payload summaries."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from fleet.notify.payloads import compute_json_payload, compute_summary, render_body
from fleet.notify.retry import (
    RetryPolicy,
    compute_backoff,
    compute_wait,
    is_retryable_status,
    parse_retry_after,
)
from fleet.notify.signing import compute_signature, signed_headers, verify_signature
from tests.notify.conftest import START
from tests.notify.receiver import verify

NOW = 1767603600  # 2026-01-05T09:00:00Z


def test_signature_matches_an_independent_hmac_and_rejects_changes():
    body = b'{"id":1}'
    h = httpx.Headers(signed_headers("s3cret", NOW, body))
    assert h["x-fleet-signature"] == compute_signature("s3cret", NOW, body)
    assert verify("s3cret", h, body)                             # the receiver recipe from the docs
    assert verify_signature("s3cret", h, body, NOW + 10)
    assert not verify_signature("s3cret", h, body + b" ", NOW)
    assert not verify_signature("other", h, body, NOW)
    assert not verify_signature("s3cret", h, body, NOW + 301)    # too old: a replay
    assert not verify_signature("s3cret", h, body, NOW - 301)
    forged = httpx.Headers({**h, "X-Fleet-Timestamp": str(NOW + 5)})
    assert not verify_signature("s3cret", forged, body, NOW)     # the timestamp is signed too
    assert not verify_signature("s3cret", httpx.Headers({}), body, NOW)
    assert "X-Fleet-Signature" not in signed_headers(None, NOW, body)


@pytest.mark.parametrize("status, retry", [
    (200, False), (301, False), (400, False), (401, False), (404, False), (408, True), (409, False),
    (429, True), (500, True), (502, True), (503, True), (599, True),
])
def test_is_retryable_status(status, retry):
    assert is_retryable_status(status) is retry


@pytest.mark.parametrize("attempt, jitter, want", [
    (1, 0.0, 0.5), (1, 0.5, 0.75), (1, 0.999999, 1.0), (2, 0.0, 1.0), (3, 0.0, 2.0), (4, 1.0, 8.0),
    (9, 0.0, 128.0), (9, 1.0, 256.0), (10, 0.0, 150.0), (20, 1.0, 300.0),   # capped at 5 minutes
])
def test_compute_backoff(attempt, jitter, want):
    got = compute_backoff(RetryPolicy(jitter=lambda: jitter), attempt).total_seconds()
    assert got == pytest.approx(want, abs=1e-5)


@pytest.mark.parametrize("value, want", [
    (None, None), ("", None), ("7", 7), (" 120 ", 120), ("-3", None), ("soon", None), ("1.5", None),
    ("Mon, 05 Jan 2026 09:01:00 GMT", 60), ("Mon, 05 Jan 2026 08:00:00 GMT", 0),
])
def test_parse_retry_after(value, want):
    got = parse_retry_after(value, START)
    assert (None if got is None else got.total_seconds()) == want


def test_retry_after_replaces_the_backoff_and_is_capped():
    p = RetryPolicy(jitter=lambda: 0.0)
    assert compute_wait(p, 3, timedelta(seconds=7)) == timedelta(seconds=7)
    assert compute_wait(p, 3, timedelta(hours=5)) == timedelta(minutes=10)
    assert compute_wait(p, 3, None) == timedelta(seconds=2)


EV = {"id": 9, "at": START, "actor": "engine", "run_id": "r1", "cluster_id": "eks/lab/c0", "step_key": None,
      "operation_id": None, "data": None}


@pytest.mark.parametrize("kind, message, want", [
    ("run-started", "policy all: 3 clusters", "Run r1 started: policy all: 3 clusters"),
    ("wave-done", "wave canary complete", "Run r1: wave canary complete"),
    ("cluster-upgraded", "at 1.30.4", "Cluster eks/lab/c0 upgraded: at 1.30.4"),
    ("cluster-failed", "", "Cluster eks/lab/c0 failed in run r1"),
    ("run-halted", "2 failures reached maxFailures=2", "Run r1 halted: 2 failures reached maxFailures=2"),
    ("run-done", "run finished: done", "Run r1 finished: run finished: done"),
    ("cluster-at-risk", "EOS before forecast", "Cluster eks/lab/c0 entered the risk list: EOS before forecast"),
])
def test_summaries(kind, message, want):
    assert compute_summary({**EV, "kind": kind, "message": message}) == want


def test_json_payload_is_stable_and_compact():
    ev = {**EV, "kind": "run-started", "message": "m", "data": {"clusters": ["a"]}}
    body = render_body(ev, "json", "prod")
    assert json.loads(body) == compute_json_payload(ev, "prod") == {
        "id": 9, "kind": "run-started", "at": "2026-01-05T09:00:00Z", "fleet": "prod", "actor": "engine",
        "run": "r1", "cluster": "eks/lab/c0", "step": None, "operation": None, "message": "m",
        "data": {"clusters": ["a"]}, "summary": "Run r1 started: m"}
    assert body.startswith(b'{"actor":"engine","at":"2026-01-05T09:00:00Z","cluster":')   # sorted keys, no spaces
