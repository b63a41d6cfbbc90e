"""OIDC bearer JWTs (``spec.http.oidc``): PyJWT verifies the signature against the issuer's JWKS (fetched
from ``jwksUrl``, or the ``jwks_uri`` of ``<issuer>/.well-known/openid-configuration``, and cached), and the
``iss``, ``aud``, ``exp`` (required) and ``nbf``/``iat`` claims with a small leeway. The principal is the
``usernameClaim``; its role is the highest role that ``roles`` maps one of its groups (``groupsClaim``) to.
A token whose groups map to no role authenticates but may do nothing (403)."""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

import jwt

from fleet.daemon.auth import _RANK, AuthError, Principal, Role

_ALLOWED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class OidcVerifier:
    def __init__(self, cfg: Any, *, timeout: float = 5.0):
        self.cfg = cfg
        self.timeout = timeout
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def _client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._jwks is None:
                url = self.cfg.jwks_url or self._discover()
                self._jwks = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=int(self.timeout))
            return self._jwks

    def _discover(self) -> str:
        url = self.cfg.issuer.rstrip("/") + "/.well-known/openid-configuration"
        with urllib.request.urlopen(url, timeout=self.timeout) as resp:  # noqa: S310 - http(s) checked by the config model
            doc = json.loads(resp.read(1_000_000))
        jwks_uri = doc.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise AuthError("the issuer's discovery document has no jwks_uri")
        return jwks_uri

    def verify(self, token: str) -> Principal:
        cfg = self.cfg
        try:
            key = self._client().get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=[a for a in cfg.algorithms if a in _ALLOWED_ALGS],
                                audience=cfg.audience, issuer=cfg.issuer, leeway=cfg.leeway.total_seconds(),
                                options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as exc:
            raise AuthError(f"the bearer token is not valid: {exc.__class__.__name__}") from None
        except OSError as exc:
            raise AuthError(f"cannot fetch the issuer's keys: {exc.__class__.__name__}") from None
        name = claims.get(cfg.username_claim)
        if not isinstance(name, str) or not name or len(name) > 200:
            raise AuthError(f"the token has no usable {cfg.username_claim!r} claim")
        groups = claims.get(cfg.groups_claim, [])
        if isinstance(groups, str):
            groups = [groups]
        roles: list[Role] = [cfg.roles[g] for g in groups if isinstance(g, str) and g in cfg.roles]
        if not roles:
            return _NoRole(name)
        role = max(roles, key=_RANK.__getitem__)
        return Principal("".join(c for c in name if c.isprintable()), role, "oidc")


class _NoRole(Principal):
    """Authenticated, but no group maps to a role: may do nothing (403), not even read."""

    def __init__(self, name: str):
        super().__init__("".join(c for c in name if c.isprintable()), "viewer", "oidc")

    def can(self, role: Role) -> bool:
        return False
