"""Start-up warnings about what the daemon exposes (issue #23): token files and the SQLite state readable by
every local user, and an API that answers reads without a token on a non-loopback address."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any

log = logging.getLogger("fleet.daemon")


def world_readable(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & stat.S_IROTH)
    except OSError:
        return False


def _files(config: Any, base: Path) -> list[tuple[str, Path]]:
    http = config.spec.http
    out = []
    for what, value in (("tokenFile", http.token_file), ("readOnlyTokenFile", http.read_only_token_file),
                        ("tokensFile", http.tokens_file), ("tlsKeyFile", http.tls_key_file)):
        if value:
            p = Path(value)
            out.append((what, p if p.is_absolute() else base / p))
    url = config.spec.state.url
    if url.startswith("sqlite:///") and ":memory:" not in url:
        p = Path(url[len("sqlite:///"):])
        out.append(("state", p if p.is_absolute() else base / p))
    return out


def exposure_warnings(config: Any, base: Path, reads_need_auth: bool) -> list[str]:
    warnings = [f"{what} {path} is readable by every local user (chmod 600 it)"
                for what, path in _files(config, base) if world_readable(path)]
    http = config.spec.http
    host = http.listen.rpartition(":")[0].strip("[]")
    if not reads_need_auth and host not in ("127.0.0.1", "::1", "localhost"):
        warnings.append(f"the API answers reads without a token on {http.listen}: set http.readOnlyTokenFile, "
                        "http.tokensFile or http.oidc")
    return warnings


def warn_exposure(config: Any, base: Path, auth: Any) -> list[str]:
    warnings = exposure_warnings(config, base, auth.reads_need_auth)
    for w in warnings:
        log.warning("exposure", extra={"reason": w})
    return warnings
