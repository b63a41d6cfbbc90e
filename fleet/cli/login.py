"""``fleet login --server URL``: an OIDC login for the CLI through the OAuth 2.0 Device Authorization Grant
(RFC 8628), so ``--server`` commands act as the person who logged in (their groups map to roles on the
daemon; docs/security.md).

1. The issuer's discovery document (``<issuer>/.well-known/openid-configuration``, RFC 8414 / OIDC
   Discovery) names ``device_authorization_endpoint`` and ``token_endpoint``; its ``issuer`` must be the
   one asked for.
2. A device authorization request (``client_id``, ``scope``) answers a ``device_code`` (kept secret), a
   ``user_code`` and a ``verification_uri``: the CLI prints where to go and which code to enter.
3. The CLI polls the token endpoint (``grant_type=urn:ietf:params:oauth:grant-type:device_code``) every
   ``interval`` seconds: ``authorization_pending`` waits, ``slow_down`` adds 5 s (RFC 8628 3.5),
   ``access_denied`` / ``expired_token`` end the login (exit 1), and so does the code's ``expires_in``.
4. The ID token (else the access token) is cached for that server in ``$XDG_CONFIG_HOME/fleet/tokens.json``
   (default ``~/.config``), a 0600 file in a 0700 folder, written atomically; ``--server`` commands use it
   when neither ``--token-file`` nor ``FLEET_TOKEN`` is given, until it expires. ``fleet login --logout``
   forgets it.

Tokens and the device code are never printed nor logged (they are registered as secrets).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.cli.common import err, fail_input, now, run_guarded
from fleet.errors import FleetError, Problem
from fleet.logs import register_secret

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_WAIT_S = 1800.0          # never poll longer than this, whatever expires_in says


class LoginError(FleetError):
    """The login did not complete (denied, expired, the issuer refused or cannot be reached)."""


def cache_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "fleet" / "tokens.json"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LoginError(f"cannot read the login cache {path}: {exc.__class__.__name__}") from None
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, data: dict[str, Any]) -> None:
    """Atomically, as a 0600 file in a 0700 folder (created so; never readable by others, even briefly)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tokens.", dir=path.parent)   # mkstemp: 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _key(server: str) -> str:
    return server.rstrip("/")


def cached_token(server: str) -> str | None:
    """The token ``fleet login`` cached for ``server`` (None when there is none); an expired one is an error
    that says to log in again."""
    entry = _read_cache(cache_file()).get(_key(server))
    if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
        return None
    token: str = entry["token"]
    register_secret(token)
    exp = entry.get("expiresAt")
    if isinstance(exp, int | float) and exp <= now().timestamp():
        raise LoginError(f"the login for {_key(server)} has expired: run `fleet login --server {_key(server)}`")
    return token


def _post_form(http: Any, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    import httpx
    try:
        resp = http.post(url, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise LoginError(f"cannot reach {url}: {exc.__class__.__name__}") from None
    try:
        body = resp.json()
    except ValueError:
        body = {}
    return resp.status_code, body if isinstance(body, dict) else {}


def discover(http: Any, issuer: str) -> tuple[str, str]:
    """(device_authorization_endpoint, token_endpoint) from the issuer's discovery document."""
    import httpx
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        resp = http.get(url)
        doc = resp.json() if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        raise LoginError(f"cannot read the issuer's discovery document {url}: {exc.__class__.__name__}") from None
    if not isinstance(doc, dict):
        raise LoginError(f"the issuer's discovery document {url} answered {resp.status_code}")
    if str(doc.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise LoginError(f"the discovery document at {url} is for issuer {doc.get('issuer')!r}, not {issuer!r}")
    device, token = doc.get("device_authorization_endpoint"), doc.get("token_endpoint")
    if not isinstance(device, str) or not isinstance(token, str):
        raise LoginError(f"the issuer {issuer} offers no device authorization (RFC 8628): its discovery document "
                         "has no device_authorization_endpoint or token_endpoint")
    for u in (device, token):
        if not u.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")):
            raise LoginError(f"refusing a non-https endpoint from the discovery document: {u}")
    return device, token


def device_login(issuer: str, client_id: str, scope: str, *, timeout: float = 30.0) -> dict[str, Any]:
    """Run the device flow; the token endpoint's successful answer."""
    import httpx

    from fleet.clock import SystemClock
    clock = SystemClock()
    with httpx.Client(timeout=timeout, follow_redirects=False) as http:
        device_url, token_url = discover(http, issuer)
        status, auth = _post_form(http, device_url, {"client_id": client_id, "scope": scope})
        if status != 200 or not isinstance(auth.get("device_code"), str) or not isinstance(auth.get("user_code"), str):
            raise LoginError(f"the device authorization request was refused ({status}): "
                             f"{auth.get('error', '')} {auth.get('error_description', '')}".strip())
        device_code = auth["device_code"]
        register_secret(device_code)
        where = auth.get("verification_uri_complete") or auth.get("verification_uri")
        err.print(f"To log in, open {where} and enter the code {auth['user_code']}", markup=False,
                  highlight=False)
        interval = float(auth.get("interval", 5) or 5)
        deadline = clock.monotonic() + min(float(auth.get("expires_in", 600) or 600), MAX_WAIT_S)
        while True:
            status, body = _post_form(http, token_url, {"grant_type": DEVICE_GRANT, "device_code": device_code,
                                                        "client_id": client_id})
            if status == 200 and (body.get("id_token") or body.get("access_token")):
                return body
            error = body.get("error", "")
            if error == "slow_down":
                interval += 5
            elif error != "authorization_pending":
                detail = body.get("error_description") or {"access_denied": "the login was denied",
                                                           "expired_token": "the code expired"}.get(error, "")
                raise LoginError(f"login failed ({status} {error or 'no token'}){': ' + detail if detail else ''}")
            if clock.monotonic() + interval > deadline:
                raise LoginError("login failed: the code expired before it was entered")
            clock.sleep(interval)


def _expiry(token: str, body: dict[str, Any]) -> float | None:
    """When the cached token stops being useful: its JWT ``exp`` (not verified here: the daemon verifies),
    else ``expires_in`` from the token response."""
    import jwt
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        if isinstance(exp, int | float):
            return float(exp)
    except jwt.PyJWTError:
        pass
    if isinstance(body.get("expires_in"), int | float):
        return now().timestamp() + float(body["expires_in"])
    return None


def login(server: Annotated[str, typer.Option("--server", envvar="FLEET_SERVER", help="the daemon's API")],
          issuer: Annotated[str | None, typer.Option("--issuer", envvar="FLEET_OIDC_ISSUER",
                                                     help="the OIDC issuer URL (the daemon's spec.http.oidc.issuer)")] = None,
          client_id: Annotated[str | None, typer.Option("--client-id", envvar="FLEET_OIDC_CLIENT_ID",
                                                        help="the OAuth client registered for fleet's CLI (its ID "
                                                             "tokens' audience: the daemon's oidc.audience)")] = None,
          scope: Annotated[str, typer.Option("--scope", help="scopes to ask for")] = "openid profile email groups",
          logout: Annotated[bool, typer.Option("--logout", help="forget the cached login for --server")] = False) -> None:
    """Log in to the daemon's OIDC issuer with the device authorization grant (RFC 8628): open the printed
    address, enter the code; `--server` commands then act as you (your groups' role)."""
    def body() -> None:
        path = cache_file()
        cache = _read_cache(path)
        if logout:
            existed = cache.pop(_key(server), None) is not None
            _write_cache(path, cache)
            err.print(f"logged out of {_key(server)}" if existed else f"no login for {_key(server)}",
                      markup=False, highlight=False)
            return
        if not server.startswith(("http://", "https://")):
            fail_input([Problem("--server", None, "server", "must be an http:// or https:// URL")])
        missing = [Problem("fleet login", None, n, "required (or its environment variable)")
                   for n, v in (("issuer", issuer), ("client-id", client_id)) if not v]
        if missing:
            fail_input(missing)
        assert issuer and client_id
        answer = device_login(issuer, client_id, scope)
        token = str(answer.get("id_token") or answer.get("access_token"))
        register_secret(token)
        cache[_key(server)] = {"token": token, "issuer": issuer, "clientId": client_id,
                               "expiresAt": _expiry(token, answer)}
        _write_cache(path, cache)
        err.print(f"logged in to {_key(server)}; the token is cached in {path}", markup=False, highlight=False)
    run_guarded(body)
