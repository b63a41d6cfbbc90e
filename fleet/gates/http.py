"""The HTTP gates: a PromQL query against Prometheus' HTTP API, and a generic webhook (2xx passes).

Every request has a time limit (the gate's ``requestTimeout``); every failure to get an answer (refused
connection, timeout, a non-JSON or error answer) becomes an ERROR outcome with the reason, never a pass.
Evidence is JSON-serialisable and free of header values (they may carry credentials).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from fleet.provider import CheckOutcome, CheckResult

MAX_SAMPLES_IN_EVIDENCE = 10


def _error(reason: str, **evidence: Any) -> CheckOutcome:
    return CheckOutcome(CheckResult.ERROR, reason, evidence)


def _request_error(what: str, exc: httpx.HTTPError, timeout_s: float) -> CheckOutcome:
    if isinstance(exc, httpx.TimeoutException):
        return _error(f"{what}: no answer within {timeout_s:g}s", error="timeout")
    if isinstance(exc, httpx.ConnectError):
        return _error(f"{what}: cannot connect ({exc})", error="connect")
    return _error(f"{what}: {exc.__class__.__name__}: {exc}", error=exc.__class__.__name__)


def read_headers(path: str) -> dict[str, str]:
    """A headers file: ``Name: value`` lines (blank lines and ``#`` comments ignored). ValueError names the
    line of a malformed one, never its value."""
    out: dict[str, str] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"{path}:{n}: expected 'Name: value'")
        out[name.strip()] = value.strip()
    return out


def _sample_value(sample: Any) -> float:
    value: Any = sample.get("value") if isinstance(sample, dict) else sample
    return float(value[1])


def judge_prometheus(data: Mapping[str, Any]) -> CheckOutcome:
    """The answer of ``/api/v1/query`` judged: PASS when the result is non-empty and every sample is
    non-zero (a comparison without ``bool`` filters failing series out; with ``bool`` it yields 0)."""
    if data.get("status") != "success":
        return _error(f"prometheus: {data.get('errorType', 'error')}: {data.get('error', 'query failed')}",
                      status=data.get("status"))
    result = data.get("data", {})
    rtype, value = result.get("resultType"), result.get("result")
    try:
        if rtype == "vector":
            samples = [(dict(s.get("metric", {})), _sample_value(s)) for s in value]
        elif rtype == "scalar":
            samples = [({}, float(value[1]))]
        else:
            return _error(f"prometheus: a {rtype} result cannot be judged (use an instant vector or scalar)")
    except (TypeError, ValueError, IndexError, AttributeError) as exc:
        return _error(f"prometheus: malformed answer ({exc})")
    evidence = {"resultType": rtype, "samples": len(samples),
                "values": [{"metric": m, "value": v if math.isfinite(v) else str(v)}
                           for m, v in samples[:MAX_SAMPLES_IN_EVIDENCE]]}
    if not samples:
        return CheckOutcome(CheckResult.FAIL, "the query returned no samples", evidence)
    bad = [v for _m, v in samples if v == 0 or math.isnan(v)]
    if bad:
        return CheckOutcome(CheckResult.FAIL, f"{len(bad)} of {len(samples)} samples are 0 or NaN", evidence)
    return CheckOutcome(CheckResult.PASS, f"{len(samples)} samples, all non-zero", evidence)


def evaluate_prometheus(url: str, query: str, timeout_s: float) -> CheckOutcome:
    """One instant query (``GET {url}/api/v1/query?query=...``) at the server's current time."""
    endpoint = url.rstrip("/") + "/api/v1/query"
    try:
        with httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=False) as client:
            resp = client.get(endpoint, params={"query": query})
    except httpx.HTTPError as exc:
        return _request_error(f"prometheus {url}", exc, timeout_s)
    try:
        data = resp.json()
    except ValueError:
        return _error(f"prometheus {url}: HTTP {resp.status_code}, not a JSON answer", http_status=resp.status_code)
    if not isinstance(data, dict):
        return _error(f"prometheus {url}: HTTP {resp.status_code}, unexpected answer", http_status=resp.status_code)
    out = judge_prometheus(data)
    return CheckOutcome(out.result, out.reason, {"query": query, "httpStatus": resp.status_code, **out.evidence})


def evaluate_webhook(url: str, method: str, timeout_s: float, headers_file: str | None,
                     body: Mapping[str, Any]) -> CheckOutcome:
    """Call the webhook (JSON ``body`` for POST/PUT); any 2xx passes, any other status fails."""
    try:
        headers = read_headers(headers_file) if headers_file else {}
    except (OSError, ValueError) as exc:
        return _error(f"webhook headers file: {exc}", error="headers-file")
    try:
        with httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=False) as client:
            resp = client.request(method, url, headers=headers,
                                  json=dict(body) if method in ("POST", "PUT") else None)
    except httpx.HTTPError as exc:
        return _request_error(f"webhook {url}", exc, timeout_s)
    evidence = {"method": method, "httpStatus": resp.status_code, "body": resp.text[:500]}
    if 200 <= resp.status_code < 300:
        return CheckOutcome(CheckResult.PASS, f"HTTP {resp.status_code}", evidence)
    return CheckOutcome(CheckResult.FAIL, f"HTTP {resp.status_code}", evidence)
