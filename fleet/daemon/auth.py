"""Who is calling the API, and what they may do (issue #23; docs/security.md).

Roles, each including the ones before it:

* ``viewer``   - every read (plan, clusters, rollouts, events, leader, /metrics when reads need a token)
* ``operator`` - pause, resume, retry a run, hold and release runs and clusters
* ``approver`` - approve a wave (and what operator may do)
* ``admin``    - everything

Principals come from

* a **tokens file** (``spec.http.tokensFile``): named principals with a role and a *hashed* token
  (``scrypt$N$r$p$SALT$HASH`` or ``sha256$SALT$HASH``, base64 salt and hash; ``fleet token hash`` makes them);
* **OIDC bearer JWTs** (``spec.http.oidc``): signature checked against the issuer's JWKS, ``iss``, ``aud`` and
  ``exp`` required and checked, the groups claim mapped to roles (the highest mapped role wins);
* the legacy single tokens: ``tokenFile`` (principal ``write-token``, role admin) and ``readOnlyTokenFile``
  (principal ``read-token``, role viewer).

A request without credentials, or with credentials that do not verify, gets 401; a known principal without
the role gets 403. Tokens are compared in constant time, never logged; verified tokens are remembered by
their SHA-256 (not the token) so scrypt runs once per token, not per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fleet.errors import InputError, Problem
from fleet.logs import register_secret

Role = Literal["viewer", "operator", "approver", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "approver", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# placeholder tokens the daemon refuses to start with (deploy/secret.yaml ships none; these catch copies)
_PLACEHOLDER = re.compile(r"change[-_ ]?me|placeholder|replace[-_ ]?me|example|^(token|secret|password)$", re.I)
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    via: str           # "token" (tokens file), "oidc", "legacy"

    def can(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    @property
    def actor(self) -> str:
        """How the audit log names this principal: ``token:alice``, ``oidc:alice@example.com``."""
        return f"{self.via}:{self.name}"


class AuthError(Exception):
    """401: no credentials, or credentials that do not verify (the message never contains the token)."""


# ---- token hashes ------------------------------------------------------------------------------------

def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def hash_token(token: str, algorithm: Literal["scrypt", "sha256"] = "scrypt") -> str:
    salt = secrets.token_bytes(16)
    if algorithm == "sha256":
        return f"sha256${_b64(salt)}${_b64(hashlib.sha256(salt + token.encode()).digest())}"
    dk = hashlib.scrypt(token.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(dk)}"


def _parse_hash(value: str) -> tuple[str, tuple[int, ...], bytes, bytes]:
    parts = value.split("$")
    try:
        if parts[0] == "sha256" and len(parts) == 3:
            return "sha256", (), base64.b64decode(parts[1], validate=True), base64.b64decode(parts[2], validate=True)
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = (int(x) for x in parts[1:4])
            if not (2**10 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
                raise ValueError("scrypt parameters out of range")
            return "scrypt", (n, r, p), base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid token hash: {exc}") from None
    raise ValueError("invalid token hash: expected scrypt$N$r$p$SALT$HASH or sha256$SALT$HASH (fleet token hash)")


def verify_token(token: str, stored: str) -> bool:
    algo, params, salt, want = _parse_hash(stored)
    if algo == "sha256":
        got = hashlib.sha256(salt + token.encode()).digest()
    else:
        n, r, p = params
        got = hashlib.scrypt(token.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=len(want))
    return hmac.compare_digest(got, want)


# ---- the tokens file ----------------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class TokenEntry(_Strict):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
    role: Role
    tokenHash: str

    @field_validator("tokenHash")
    @classmethod
    def _hash(cls, v: str) -> str:
        _parse_hash(v)
        return v


class TokensFile(_Strict):
    apiVersion: Literal["fleet.dev/v1alpha1"]
    kind: Literal["Tokens"]
    principals: list[TokenEntry] = Field(min_length=1, max_length=10_000)

    @field_validator("principals")
    @classmethod
    def _unique(cls, v: list[TokenEntry]) -> list[TokenEntry]:
        names = [p.name for p in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate principal names: {', '.join(dup)}")
        return v


def load_tokens_file(path: Path) -> TokensFile:
    from fleet.policy.source import format_path, load_documents
    docs = load_documents(path)
    if len(docs) != 1:
        raise InputError([Problem(str(path), None, "", "expected one Tokens document")])
    doc = docs[0]
    try:
        return TokensFile.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError([Problem(str(path), doc.line_of(tuple(e["loc"])), format_path(tuple(e["loc"])), e["msg"])
                          for e in exc.errors()]) from None


def check_not_placeholder(token: str, where: str) -> None:
    """Refuse a shipped or obviously made-up token: the daemon must not start with one."""
    if _PLACEHOLDER.search(token) or len(token) < MIN_TOKEN_CHARS:
        raise InputError([Problem(where, None, "token", f"refusing a placeholder or short token (at least "
                                  f"{MIN_TOKEN_CHARS} random characters, e.g. `openssl rand -base64 32`)")])


# ---- the authenticator ---------------------------------------------------------------------------------

class Authenticator:
    """Bearer token -> Principal. ``reads_need_auth``: whether reads (and /metrics) need a viewer."""

    def __init__(self, *, entries: list[TokenEntry] | None = None, legacy: dict[str, Principal] | None = None,
                 oidc: Any = None):
        self.entries = list(entries or [])
        self.legacy = dict(legacy or {})     # token -> principal (already compared in constant time below)
        self.oidc = oidc                     # fleet.daemon.oidc.OidcVerifier or None
        self.reads_need_auth = bool(self.entries or self.oidc or any(
            p.role == "viewer" for p in self.legacy.values()))
        self._cache: OrderedDict[bytes, Principal] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.entries or self.legacy or self.oidc)

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise AuthError("a bearer token is required")
        if len(token) > 16384:
            raise AuthError("the bearer token is too long")
        if self.oidc is not None and token.count(".") == 2:
            return self.oidc.verify(token)
        for known, principal in self.legacy.items():
            if hmac.compare_digest(token.encode(), known.encode()):
                return principal
        return self._from_tokens_file(token)

    def _from_tokens_file(self, token: str) -> Principal:
        key = hashlib.sha256(token.encode()).digest()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        for e in self.entries:
            if verify_token(token, e.tokenHash):
                p = Principal(e.name, e.role, "token")
                with self._lock:
                    self._cache[key] = p
                    if len(self._cache) > 1024:
                        self._cache.popitem(last=False)
                return p
        raise AuthError("the bearer token is not valid")


def _read_secret(path: Path) -> str:
    tok = path.read_text(encoding="utf-8").strip()
    if not tok:
        raise InputError([Problem(str(path), None, "", "the token file is empty")])
    register_secret(tok)
    return tok


def build_authenticator(http: Any, base: Path) -> Authenticator:
    """From ``spec.http`` (an HttpConfig) of a FleetConfig in folder ``base``; files are read now."""
    def at(p: str) -> Path:
        return Path(p) if Path(p).is_absolute() else base / p

    legacy: dict[str, Principal] = {}
    if http.token_file:
        tok = _read_secret(at(http.token_file))
        check_not_placeholder(tok, str(at(http.token_file)))
        legacy[tok] = Principal("write-token", "admin", "legacy")
    if http.read_only_token_file:
        tok = _read_secret(at(http.read_only_token_file))
        check_not_placeholder(tok, str(at(http.read_only_token_file)))
        legacy[tok] = Principal("read-token", "viewer", "legacy")
    entries = load_tokens_file(at(http.tokens_file)).principals if http.tokens_file else []
    oidc = None
    if http.oidc is not None:
        from fleet.daemon.oidc import OidcVerifier
        oidc = OidcVerifier(http.oidc)
    return Authenticator(entries=entries, legacy=legacy, oidc=oidc)
