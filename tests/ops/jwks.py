"""A local OIDC issuer for tests: RSA keys this test generates (cryptography), their JWKS and discovery
document served over real HTTP on 127.0.0.1, and JWTs signed with them (PyJWT). It also serves the device
authorization grant (RFC 8628): ``/device`` hands out codes, ``/token`` answers ``authorization_pending``
until the code has been polled ``approve_after`` times (the person entering it), then an ID token for
``device_user`` (or ``access_denied`` when ``deny`` is set)."""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


class Issuer:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)   # for forgeries
        self.kid = "test-key-1"
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        self.jwks = {"keys": [jwk]}
        issuer = self
        self.requests = 0
        self.device_user: tuple[str, list[str]] = ("dave@example.com", ["fleet-ops"])
        self.client_id = "fleet"
        self.approve_after = 2
        self.deny = False
        self.codes: dict[str, int] = {}          # device code -> polls so far
        self.token_requests: list[dict[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                issuer.requests += 1
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks.json",
                            "device_authorization_endpoint": issuer.url + "/device",
                            "token_endpoint": issuer.url + "/token"}
                elif self.path == "/jwks.json":
                    body = issuer.jwks
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(n).decode()).items()}
                status, body = issuer.device_post(self.path, form)
                self._answer(status, body)

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def device_post(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The device authorization grant's two endpoints (RFC 8628 3.1-3.5)."""
        if path == "/device":
            if form.get("client_id") != self.client_id:
                return 401, {"error": "invalid_client"}
            code = secrets.token_urlsafe(24)
            self.codes[code] = 0
            return 200, {"device_code": code, "user_code": "WDJB-MJHT", "verification_uri": self.url + "/activate",
                         "expires_in": 60, "interval": 0.2}
        if path != "/token":
            return 404, {"error": "not_found"}
        self.token_requests.append(form)
        code = form.get("device_code", "")
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" or code not in self.codes:
            return 400, {"error": "invalid_grant"}
        self.codes[code] += 1
        if self.codes[code] < self.approve_after:
            return 400, {"error": "authorization_pending"}
        if self.deny:
            return 400, {"error": "access_denied"}
        sub, groups = self.device_user
        return 200, {"id_token": self.token(sub, groups, aud=self.client_id),
                     "access_token": "opaque-" + secrets.token_hex(8), "token_type": "Bearer", "expires_in": 300}

    def token(self, sub: str, groups: list[str], *, aud: str = "fleet", iss: str | None = None,
              exp_in: float = 300, forged: bool = False, alg: str = "RS256", **extra: Any) -> str:
        now = int(time.time())
        claims = {"sub": sub, "groups": groups, "aud": aud, "iss": iss or self.url, "iat": now,
                  "exp": now + int(exp_in), **extra}
        key = self.other if forged else self.key
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": self.kid})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
