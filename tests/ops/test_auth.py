"""Identity and roles (issue #23): every write endpoint x every role x (tokens file, OIDC) and every bad
credential (none, expired, wrong audience, wrong issuer, forged, alg none, unknown); the audit log names the
principal; reads and /metrics need a viewer once read credentials exist; Host checking; placeholder tokens
refused. Against a real daemon API over HTTP (uvicorn on 127.0.0.1) and a local JWKS issuer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import jwt
import pytest
import uvicorn

from fleet.clock import FakeClock
from fleet.daemon.api import create_app
from fleet.daemon.auth import ROLES, hash_token, verify_token
from fleet.daemon.service import Daemon
from fleet.errors import InputError
from fleet.runtime import build_runtime
from tests.execution.helpers import START
from tests.integration.fleetfiles import free_port, write_fleet
from tests.ops.jwks import Issuer

TOKENS = {role: f"tok-{role}-{'x' * 24}" for role in ROLES}
NEEDS = {"pause": "operator", "resume": "operator", "retry": "operator", "approve": "approver",
         "hold-run": "operator", "release-run": "operator", "hold-cluster": "operator", "release-cluster": "operator",
         "promote": "approver", "override": "approver", "revoke-override": "approver"}
# every write route of the API -> its entry above (test_the_matrix_covers_every_write_route keeps them in step)
ROUTES = {("POST", "/api/v1/pause"): "pause", ("POST", "/api/v1/resume"): "resume",
          ("POST", "/api/v1/rollouts/{run_id}/retry"): "retry",
          ("POST", "/api/v1/rollouts/{run_id}/approve/{wave}"): "approve",
          ("POST", "/api/v1/rollouts/{run_id}/hold"): "hold-run", ("POST", "/api/v1/rollouts/{run_id}/release"): "release-run",
          ("POST", "/api/v1/clusters/{cluster_id:path}/hold"): "hold-cluster",
          ("POST", "/api/v1/clusters/{cluster_id:path}/release"): "release-cluster",
          ("POST", "/api/v1/stages/{stage}/approve/{version}"): "promote",
          ("POST", "/api/v1/overrides"): "override", ("DELETE", "/api/v1/overrides/{override_id}"): "revoke-override"}
GROUPS = {"viewer": "fleet-viewers", "operator": "fleet-ops", "approver": "fleet-approvers", "admin": "fleet-admins"}


def tokens_file(path: Path) -> None:
    lines = ["apiVersion: fleet.dev/v1alpha1", "kind: Tokens", "principals:"]
    for i, (role, tok) in enumerate(TOKENS.items()):
        algo = "scrypt" if i % 2 == 0 else "sha256"
        lines += [f"  - name: {role}-user", f"    role: {role}", f"    tokenHash: {hash_token(tok, algo)}"]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


class Served:
    def __init__(self, daemon: Daemon, port: int):
        self.daemon = daemon
        cfg = uvicorn.Config(create_app(daemon), host="127.0.0.1", port=port, log_config=None, lifespan="off")
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("auth")
    issuer = Issuer()
    port = free_port()
    cfg = write_fleet(d, n=2, port=port)
    tokens_file(d / "tokens.yaml")
    roles = "".join(f"        {g}: {r}\n" for r, g in GROUPS.items())
    cfg.write_text(cfg.read_text().replace("    tokenFile: token\n", (
        "    tokensFile: tokens.yaml\n    allowedHosts: [fleet.example.internal]\n"
        f"    oidc:\n      issuer: {issuer.url}\n      audience: fleet\n      roles:\n{roles}")))
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(cfg, clock), clock)
    assert daemon.tick() is not None
    served = Served(daemon, port)
    yield served, issuer
    served.close()
    daemon.stop()
    issuer.close()


def _call(url: str, what: str, token: str | None) -> httpx.Response:
    path = {"pause": "/api/v1/pause", "resume": "/api/v1/resume", "retry": "/api/v1/rollouts/no-such-run/retry",
            "approve": "/api/v1/rollouts/no-such-run/approve/canary",
            "hold-run": "/api/v1/rollouts/no-such-run/hold?reason=test", "release-run": "/api/v1/rollouts/no-such-run/release",
            "hold-cluster": "/api/v1/clusters/sim/lab/c9/hold?reason=test",
            "release-cluster": "/api/v1/clusters/sim/lab/c9/release",
            "promote": "/api/v1/stages/no-such-stage/approve/1.30.4",
            "override": "/api/v1/overrides", "revoke-override": "/api/v1/overrides/999999"}[what]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if what == "revoke-override":
        return httpx.delete(url + path, headers=headers, timeout=30)
    body = {"cluster": "sim/lab/c9", "gate": "no-such-gate", "until": "1h", "reason": "test"} \
        if what == "override" else None
    return httpx.post(url + path, headers=headers, json=body, timeout=30)


def _rank(role: str) -> int:
    return ROLES.index(role)   # type: ignore[arg-type]


@pytest.mark.parametrize("source", ["tokens-file", "oidc"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("what", sorted(NEEDS))
def test_every_write_endpoint_for_every_role(env, source: str, role: str, what: str):
    served, issuer = env
    token = TOKENS[role] if source == "tokens-file" else issuer.token(f"{role}@example.com", [GROUPS[role], "x"])
    r = _call(served.url, what, token)
    if _rank(role) >= _rank(NEEDS[what]):
        # 404: no such run, stage or override; 422: no such gate (each checked after the role)
        assert r.status_code in (200, 404, 422), (role, what, r.status_code, r.text)
    else:
        assert r.status_code == 403, (role, what, r.status_code, r.text)
        assert NEEDS[what] in r.json()["detail"]
    assert token not in r.text


BAD = ["none", "expired", "wrong-audience", "wrong-issuer", "forged", "alg-none", "unknown-opaque",
       "no-role-groups", "not-yet-valid"]


def _bad_token(issuer: Issuer, kind: str) -> str | None:
    if kind == "none":
        return None
    if kind == "expired":
        return issuer.token("a@example.com", ["fleet-admins"], exp_in=-120)
    if kind == "wrong-audience":
        return issuer.token("a@example.com", ["fleet-admins"], aud="someone-else")
    if kind == "wrong-issuer":
        return issuer.token("a@example.com", ["fleet-admins"], iss="https://evil.example")
    if kind == "forged":
        return issuer.token("a@example.com", ["fleet-admins"], forged=True)
    if kind == "alg-none":
        return jwt.encode({"sub": "a", "groups": ["fleet-admins"], "aud": "fleet", "iss": issuer.url,
                           "exp": int(time.time()) + 300}, None, algorithm="none", headers={"kid": issuer.kid})
    if kind == "not-yet-valid":
        return issuer.token("a@example.com", ["fleet-admins"], nbf=int(time.time()) + 3600)
    if kind == "no-role-groups":
        return issuer.token("a@example.com", ["unrelated"])
    return "not-a-known-token-" + "y" * 20


@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("what", sorted(NEEDS))
def test_bad_credentials_are_refused_on_every_write(env, kind: str, what: str):
    served, issuer = env
    before = len(served.daemon.store.events(limit=100000))
    r = _call(served.url, what, _bad_token(issuer, kind))
    assert r.status_code == (403 if kind == "no-role-groups" else 401), (kind, r.status_code, r.text)
    assert len(served.daemon.store.events(limit=100000)) == before      # nothing written


def test_the_matrix_covers_every_write_route(env):
    """Every route that writes (POST, PUT, PATCH, DELETE) is in the role x credential matrix above."""
    served, _ = env
    writes = {(m, r.path) for r in create_app(served.daemon).routes for m in getattr(r, "methods", ())
              if m in ("POST", "PUT", "PATCH", "DELETE")}
    assert writes == set(ROUTES), writes ^ set(ROUTES)
    assert set(ROUTES.values()) == set(NEEDS)


def test_the_audit_log_names_the_principal(env):
    served, issuer = env
    assert _call(served.url, "pause", TOKENS["operator"]).status_code == 200
    assert _call(served.url, "resume", issuer.token("carol@example.com", ["fleet-approvers"])).status_code == 200
    actors = [e["actor"] for e in served.daemon.store.events(limit=100000) if e["kind"] in ("paused", "resumed")]
    assert actors[-2:] == ["token:operator-user", "oidc:carol@example.com"]


def test_whoami_names_the_principal_and_its_roles(env):
    served, issuer = env
    for role, tok in TOKENS.items():
        r = httpx.get(served.url + "/api/v1/whoami", headers={"Authorization": f"Bearer {tok}"}, timeout=30)
        assert r.status_code == 200 and r.json() == {"principal": f"token:{role}-user",
                                                     "roles": list(ROLES[:_rank(role) + 1])}, r.text
    jwt_ = issuer.token("dave@example.com", ["fleet-ops"])
    assert httpx.get(served.url + "/api/v1/whoami", headers={"Authorization": f"Bearer {jwt_}"}).json() == \
        {"principal": "oidc:dave@example.com", "roles": ["viewer", "operator"]}
    assert httpx.get(served.url + "/api/v1/whoami").status_code == 401          # reads need a viewer here
    assert httpx.get(served.url + "/api/v1/whoami", headers={"Authorization": "Bearer nope-" + "x" * 20}).status_code == 401


def test_reads_and_metrics_need_a_viewer(env):
    served, issuer = env
    for path in ("/api/v1/plan", "/api/v1/rollouts", "/metrics"):
        assert httpx.get(served.url + path).status_code == 401
        r = httpx.get(served.url + path, headers={"Authorization": f"Bearer {TOKENS['viewer']}"})
        assert r.status_code == 200
    assert httpx.get(served.url + "/metrics", headers={
        "Authorization": f"Bearer {issuer.token('p@example.com', ['fleet-viewers'])}"}).status_code == 200
    assert httpx.get(served.url + "/healthz").status_code == 200           # the kubelet has no token


def test_host_header_is_checked(env):
    served, _ = env
    viewer = {"Authorization": f"Bearer {TOKENS['viewer']}"}
    assert httpx.get(served.url + "/api/v1/plan", headers={**viewer, "Host": "attacker.example"}).status_code == 421
    assert httpx.get(served.url + "/healthz", headers={"Host": "attacker.example:8080"}).status_code == 421
    for host in ("fleet.example.internal", "localhost:8080", "127.0.0.1", "[::1]:8080"):
        assert httpx.get(served.url + "/api/v1/plan", headers={**viewer, "Host": host}).status_code == 200, host


@pytest.mark.parametrize("token", ["CHANGE-ME-write-token-for-the-fleet-api", "short", "replace-me-please-now-0123"])
def test_placeholder_tokens_are_refused_at_start(tmp_path: Path, token: str):
    cfg = write_fleet(tmp_path, token=token)
    with pytest.raises(InputError, match="placeholder or short token"):
        Daemon(build_runtime(cfg, FakeClock(START)), FakeClock(START))


def test_token_hashes_verify_and_are_salted():
    a, b = hash_token("same-token-0123456789"), hash_token("same-token-0123456789")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert verify_token("same-token-0123456789", a) and not verify_token("other-token-0123456789", a)
    s = hash_token("t" * 32, "sha256")
    assert verify_token("t" * 32, s) and not verify_token("t" * 31, s)


def test_fleet_token_hash_cli_makes_a_hash_the_daemon_verifies():
    from typer.testing import CliRunner

    from fleet.cli import app
    res = CliRunner().invoke(app, ["token", "hash"], input="my-very-secret-token-value\n")
    assert res.exit_code == 0, res.output
    assert verify_token("my-very-secret-token-value", res.stdout.strip())
    assert CliRunner().invoke(app, ["token", "hash"], input="short\n").exit_code == 2
