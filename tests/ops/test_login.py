"""``fleet login`` (issue #23): the OAuth 2.0 device authorization grant (RFC 8628) against a local test IdP
(keys generated here; discovery, device and token endpoints over real HTTP), the token cached in a 0600 file
under XDG_CONFIG_HOME, then used by ``--server`` commands against a real daemon API (uvicorn): the audit log
names the OIDC principal. Tokens never appear in the output."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.cli import app
from fleet.clock import FakeClock
from fleet.daemon.service import Daemon
from fleet.runtime import build_runtime
from tests.execution.helpers import START
from tests.integration.fleetfiles import free_port, write_fleet
from tests.ops.jwks import Issuer
from tests.ops.test_auth import Served


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("login")
    issuer = Issuer()
    port = free_port()
    cfg = write_fleet(d, n=2, port=port)
    cfg.write_text(cfg.read_text().replace("    tokenFile: token\n", (
        f"    oidc:\n      issuer: {issuer.url}\n      audience: fleet\n"
        "      roles: {fleet-ops: operator, fleet-viewers: viewer}\n")))
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(cfg, clock), clock)
    assert daemon.tick() is not None
    served = Served(daemon, port)
    yield served, issuer
    served.close()
    daemon.stop()
    issuer.close()


def _fleet(args: list[str], home: Path, **env: str):
    return CliRunner().invoke(app, args, env={"XDG_CONFIG_HOME": str(home), "FLEET_TOKEN": "", "FLEET_SERVER": "",
                                              "FLEET_TOKEN_FILE": "", **env})


def test_device_login_caches_a_0600_token_that_server_commands_use(env, tmp_path: Path):
    served, issuer = env
    issuer.deny, issuer.approve_after = False, 3
    res = _fleet(["pause", "--server", served.url], tmp_path)
    assert res.exit_code == 1 and "401" in res.output                   # not logged in yet
    res = _fleet(["login", "--server", served.url, "--issuer", issuer.url, "--client-id", "fleet"], tmp_path)
    assert res.exit_code == 0, res.output
    assert f"open {issuer.url}/activate and enter the code WDJB-MJHT" in res.output
    cache = tmp_path / "fleet" / "tokens.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    entry = json.loads(cache.read_text())[served.url]
    token = entry["token"]
    assert token.count(".") == 2 and token not in res.output and entry["expiresAt"] > 0
    polls = [r for r in issuer.token_requests if r["device_code"] in issuer.codes]
    assert len(polls) >= 3 and all(r["client_id"] == "fleet" for r in polls)     # pending twice, then the token
    for r in polls:
        assert r["device_code"] not in res.output
    # --server commands now act as the person who logged in (FLEET_SERVER works as well as --server)
    res = _fleet(["pause"], tmp_path, FLEET_SERVER=served.url)
    assert res.exit_code == 0, res.output
    res = _fleet(["resume", "--server", served.url], tmp_path)
    assert res.exit_code == 0 and token not in res.output
    actors = [e["actor"] for e in served.daemon.store.events(limit=100000) if e["kind"] in ("paused", "resumed")]
    assert actors[-2:] == ["oidc:dave@example.com", "oidc:dave@example.com"]
    # an explicit token wins over the cached login; --logout forgets it
    res = _fleet(["pause", "--server", served.url], tmp_path, FLEET_TOKEN="not-a-valid-token-" + "z" * 20)
    assert res.exit_code == 1 and "401" in res.output
    assert _fleet(["login", "--server", served.url, "--logout"], tmp_path).exit_code == 0
    assert served.url not in json.loads(cache.read_text())
    assert _fleet(["pause", "--server", served.url], tmp_path).exit_code == 1


def test_a_denied_login_exits_1_and_caches_nothing(env, tmp_path: Path):
    served, issuer = env
    issuer.deny, issuer.approve_after = True, 1
    try:
        res = _fleet(["login", "--server", served.url, "--issuer", issuer.url, "--client-id", "fleet"], tmp_path)
    finally:
        issuer.deny = False
    assert res.exit_code == 1 and "access_denied" in res.output and "the login was denied" in res.output
    assert not (tmp_path / "fleet" / "tokens.json").exists()


def test_login_refuses_a_wrong_issuer_an_unknown_client_and_missing_options(env, tmp_path: Path):
    served, issuer = env
    res = _fleet(["login", "--server", served.url, "--issuer", issuer.url + "/other", "--client-id", "fleet"], tmp_path)
    assert res.exit_code == 1 and "discovery document" in res.output
    res = _fleet(["login", "--server", served.url, "--issuer", issuer.url, "--client-id", "someone-else"], tmp_path)
    assert res.exit_code == 1 and "invalid_client" in res.output
    res = _fleet(["login", "--server", served.url], tmp_path)
    assert res.exit_code == 2 and "issuer" in res.output and "client-id" in res.output


def test_an_expired_cached_login_says_to_log_in_again(env, tmp_path: Path):
    served, issuer = env
    cache = tmp_path / "fleet" / "tokens.json"
    cache.parent.mkdir(mode=0o700)
    old = issuer.token("dave@example.com", ["fleet-ops"], exp_in=-60)
    cache.write_text(json.dumps({served.url: {"token": old, "expiresAt": 1.0}}))
    res = _fleet(["status", "--server", served.url], tmp_path)
    assert res.exit_code == 1 and "has expired" in res.output and "fleet login --server" in res.output
    assert old not in res.output
