"""The HTTP API under attack: schemathesis fuzzes every operation of its own OpenAPI document (in process,
through ASGI) with no token, the read-only token and the write token - no 5xx, and no write without the write
token, no read without a token; request size limits."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from fleet.clock import FakeClock
from fleet.daemon.api import create_app
from fleet.daemon.service import Daemon
from fleet.runtime import build_runtime
from tests.execution.helpers import START
from tests.integration.fleetfiles import write_fleet

WRITE = "w-canary-7f3a9c1e5b"
READ = "r-canary-2d8e4f6a0c"
MAX_BODY = 2048
OPEN = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")


@pytest.fixture(scope="module")
def api_daemon(tmp_path_factory):
    d = tmp_path_factory.mktemp("api")
    cfg = write_fleet(d, n=3, token=WRITE)
    cfg.write_text(cfg.read_text().replace(
        "    tokenFile: token\n", f"    tokenFile: token\n    readOnlyTokenFile: read-token\n    maxBodyBytes: {MAX_BODY}\n"
        "    allowedHosts: [testserver]\n"))   # the in-process client's Host (names must be allowed, #23)
    (d / "read-token").write_text(READ + "\n")
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(cfg, clock), clock)
    assert daemon.tick() is not None                      # a plan and a run exist: reads return real data
    yield daemon
    daemon.stop()


@pytest.fixture
def api_schema(api_daemon):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(api_daemon))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_fuzz_no_5xx_and_no_auth_bypass(case):
    path, write = case.path, case.method.upper() != "GET"
    for token in (None, READ, WRITE):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = case.call(headers=headers)
        assert resp.status_code < 500, (case.method, case.formatted_path, token, resp.status_code, resp.text)
        if path in OPEN or resp.status_code == 405:     # 405: a method the route does not serve at all
            continue
        if token is None or (write and token == READ):
            # refused: 401 (403: the read-only principal lacks the role), or rejected before auth as malformed
            # (400 NUL in the URL, 413 too large)
            assert resp.status_code in (400, 401, 403, 413), (case.method, case.formatted_path, token, resp.status_code)
        else:
            assert resp.status_code != 401, (case.method, case.formatted_path, token, resp.status_code)
        assert WRITE not in resp.text and READ not in resp.text


def test_every_write_operation_is_in_the_fuzzed_document(api_daemon):
    """The fuzz covers what the app serves: each write route appears in /openapi.json."""
    client = TestClient(create_app(api_daemon))
    doc = client.get("/openapi.json").json()
    writes = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if m != "get"}
    assert writes == {("POST", "/api/v1/pause"), ("POST", "/api/v1/resume"),
                      ("POST", "/api/v1/rollouts/{run_id}/approve/{wave}"), ("POST", "/api/v1/rollouts/{run_id}/retry"),
                      ("POST", "/api/v1/stages/{stage}/approve/{version}"),
                      ("POST", "/api/v1/rollouts/{run_id}/hold"), ("POST", "/api/v1/rollouts/{run_id}/release"),
                      ("POST", "/api/v1/clusters/{cluster_id}/hold"), ("POST", "/api/v1/clusters/{cluster_id}/release"),
                      ("POST", "/api/v1/overrides"), ("DELETE", "/api/v1/overrides/{override_id}")}


def test_request_size_limit(api_daemon):
    client = TestClient(create_app(api_daemon))
    auth = {"Authorization": f"Bearer {WRITE}"}
    big = b"x" * (MAX_BODY + 1)
    r = client.post("/api/v1/pause", content=big, headers=auth)
    assert r.status_code == 413 and r.json() == {"detail": "request body too large"}
    assert client.post("/api/v1/pause", content=b"x" * MAX_BODY, headers=auth).status_code == 200
    assert client.post("/api/v1/resume", headers={**auth, "Content-Length": "12x"}).status_code == 413
    assert client.request("GET", "/api/v1/rollouts", content=big,
                          headers={"Authorization": f"Bearer {READ}"}).status_code == 413
    assert client.get("/healthz").status_code == 200


def test_nul_in_filters_is_a_client_error_on_every_store(tmp_path, store_url):
    """PostgreSQL text cannot hold NUL: such a filter or run id is refused with 400, never a 500."""
    cfg = write_fleet(tmp_path, n=1, token=WRITE, state=f'"{store_url}"')
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(cfg, clock), clock)
    try:
        client = TestClient(create_app(daemon), base_url="http://127.0.0.1")
        auth = {"Authorization": f"Bearer {WRITE}"}
        for url in ("/api/v1/events?cluster=a%00b", "/api/v1/events?run=%00", "/api/v1/clusters?status=x%00"):
            assert client.get(url, headers=auth).status_code == 400
        assert client.post("/api/v1/rollouts/a%00b/retry", headers=auth).status_code == 400
        assert client.post("/api/v1/rollouts/nope/retry", headers=auth).status_code == 404
    finally:
        daemon.stop()
