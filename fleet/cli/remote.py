"""The CLI through the daemon's API (issue #23): with ``--server URL`` (or ``FLEET_SERVER``) a command talks to
a running daemon instead of opening the state store, so operators need an API token, not database
credentials. The token comes from ``--token-file`` / ``FLEET_TOKEN_FILE``, else ``FLEET_TOKEN``, else the
OIDC login ``fleet login --server URL`` cached (fleet.cli.login; an OIDC ID token works as well as a
tokens-file token).

Adding a command: give it ``server: ServerOpt = None, token_file: TokenFileOpt = None`` and, when
``connect(server, token_file)`` returns a client, call ``client.get(path, **query)`` / ``client.post(...)``.
Errors become the CLI's usual exits: 400/404/422 exit 2 (bad input: an unknown run, wave or reason), 401/403
and an unreachable server exit 1 with the server's reason; the token is never printed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from fleet.cli.common import fail_input
from fleet.errors import FleetError, Problem

ServerOpt = Annotated[str | None, typer.Option(
    "--server", envvar="FLEET_SERVER", help="the daemon's API (https://fleet.example:8080): act through it, "
                                            "not on the state store")]
OptConfig = Annotated[Path | None, typer.Option("--config", "-c", envvar="FLEET_CONFIG",
                                                help="FleetConfig file (its state store)")]
TokenFileOpt = Annotated[Path | None, typer.Option(
    "--token-file", envvar="FLEET_TOKEN_FILE", help="file holding the API token (default: $FLEET_TOKEN)")]


class ApiError(FleetError):
    """The daemon refused (401/403/5xx) or could not be reached."""


class ApiClient:
    def __init__(self, server: str, token: str | None, *, timeout: float = 30.0, verify: bool | str = True):
        import httpx
        if not server.startswith(("http://", "https://")):
            raise ApiError(f"--server must be an http:// or https:// URL, not {server!r}")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.server = server.rstrip("/")
        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout, verify=verify)

    def _send(self, method: str, path: str, params: dict[str, Any], body: Any = None) -> Any:
        import httpx
        query = {k: v for k, v in params.items() if v is not None}
        try:
            resp = self._http.request(method, path, params=query, json=body)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach {self.server}: {exc.__class__.__name__}") from None
        detail = _detail(resp)
        if resp.status_code in (400, 404, 422):
            fail_input([Problem(f"{method} {path}", None, "", detail)])
        if resp.status_code >= 400:
            raise ApiError(f"{self.server} answered {resp.status_code}: {detail}")
        return resp.json() if resp.headers.get("content-type", "").startswith("application/json") else resp.text

    def get(self, path: str, **params: Any) -> Any:
        return self._send("GET", path, params)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        """POST with query ``params`` and, when given, a JSON ``body``."""
        return self._send("POST", path, params, body)

    def delete(self, path: str, **params: Any) -> Any:
        return self._send("DELETE", path, params)


def _detail(resp: Any) -> str:
    try:
        d = resp.json().get("detail", resp.text)
    except (ValueError, AttributeError):
        d = resp.text
    if isinstance(d, list):      # a validation error: "field: message" per entry
        d = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ()) if x != 'body')}: {e.get('msg', '')}"
                      if isinstance(e, dict) else str(e) for e in d)
    return str(d)[:500]


def seg(value: str) -> str:
    """One path segment (a run id, a wave name), escaped."""
    return quote(value, safe="")


def read_token(token_file: Path | None) -> str | None:
    if token_file is not None:
        try:
            tok = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            fail_input([Problem(str(token_file), None, "", f"cannot read the token file: {exc.strerror}")])
        if not tok:
            fail_input([Problem(str(token_file), None, "", "the token file is empty")])
        return tok
    return os.environ.get("FLEET_TOKEN") or None


def connect(server: str | None, token_file: Path | None) -> ApiClient | None:
    """A client when ``--server``/FLEET_SERVER is set, else None (the command acts on the state store). The
    token: ``--token-file``, else ``FLEET_TOKEN``, else the one ``fleet login`` cached for that server."""
    if not server:
        return None
    token = read_token(token_file)
    if token is None:
        from fleet.cli.login import cached_token
        token = cached_token(server)
    return ApiClient(server, token)


def need_config(config: Path | None, command: str) -> Path:
    if config is None:
        fail_input([Problem(f"fleet {command}", None, "", "give --config FILE (the state store) or --server URL "
                            "(a running daemon's API)")])
    return config
