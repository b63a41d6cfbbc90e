"""HMAC-SHA256 signatures of webhook deliveries, and the check a receiver runs.

A delivery carries::

    X-Fleet-Timestamp: 1767571200                     (Unix seconds when this attempt was sent)
    X-Fleet-Signature: sha256=<hex>                   HMAC-SHA256(secret, "<timestamp>." + raw body)

The timestamp is inside the signed bytes, so a captured request cannot be replayed later with a fresh
timestamp; receivers reject timestamps older than a tolerance (5 minutes by default) and compare the
signature in constant time. Each retry is signed again with its own timestamp; the body is unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Fleet-Signature"
TIMESTAMP_HEADER = "X-Fleet-Timestamp"
EVENT_HEADER = "X-Fleet-Event"
DELIVERY_HEADER = "X-Fleet-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Fleet-Signature`` value: ``sha256=`` + hex HMAC over ``b"<timestamp>." + body``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str | None, timestamp: int, body: bytes) -> dict[str, str]:
    headers = {TIMESTAMP_HEADER: str(timestamp)}
    if secret:
        headers[SIGNATURE_HEADER] = compute_signature(secret, timestamp, body)
    return headers


def verify_signature(secret: str, headers: Mapping[str, str], body: bytes, now_unix: float,
                     tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """What a receiver does (also usable as a reference implementation in Python receivers).

    ``headers`` must be case-insensitive or use the canonical spellings above; ``now_unix`` is the
    receiver's current time in Unix seconds."""
    ts_text = headers.get(TIMESTAMP_HEADER) or ""
    sig = headers.get(SIGNATURE_HEADER) or ""
    if not ts_text.isdigit() or not sig.startswith("sha256="):
        return False
    ts = int(ts_text)
    if abs(now_unix - ts) > tolerance_seconds:
        return False
    return hmac.compare_digest(compute_signature(secret, ts, body), sig)
