"""The one place where google-cloud-container / google-api-core / google-auth / requests exceptions become
fleet errors. Table (first match wins)::

    api_core RetryError (retry budget spent)                                  Temporary
    429 TooManyRequests / ResourceExhausted, or any call error whose
        reason names a rate limit (THROTTLE_REASONS)                          Throttled, retry_after
    501 MethodNotImplemented                                                  Permanent
    other 5xx (Internal, BadGateway, ServiceUnavailable, GatewayTimeout,
        DeadlineExceeded, Unknown, DataLoss, ServerError; a 503 with
        Retry-After too: not a quota signal)                                  Temporary, retry_after
    409 AlreadyExists                                                         Permanent
    FAILED_PRECONDITION (400 with that status: "Operation ... is currently
        upgrading ..."), 409 Conflict / Aborted, 499 Cancelled                Temporary, retry_after
    any other call error: 4xx (BadRequest/InvalidArgument "version unsupported",
        OutOfRange, Unauthorized, Forbidden, NotFound, ...), 3xx               Permanent
    google.auth TransportError / TimeoutError, a retryable RefreshError      Temporary
    google.auth DefaultCredentialsError, RefreshError, other auth errors      Permanent
    requests ConnectionError / Timeout / ChunkedEncodingError / RetryError /
        ContentDecodingError; builtin TimeoutError / ConnectionError          Temporary
    other requests errors (InvalidURL, ...), other GoogleAPIError             Permanent

Throttled is ``ThrottledError`` (the provider kit pauses the project and retries it): Google APIs answer a
request quota exceeded with 429 RESOURCE_EXHAUSTED (cloud.google.com/apis/design/errors, "Handling errors";
cloud.google.com/docs/quotas), an ErrorInfo reason ``RATE_LIMIT_EXCEEDED`` (google/api/error_reason.proto),
and in the older JSON error format ``errors[].reason`` ``rateLimitExceeded`` / ``userRateLimitExceeded``
(with a 403 on some APIs, e.g. Compute Engine's API rate limits).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError, ThrottledError
from fleet.provider import import_optional

BUSY_RETRY_AFTER = 60.0       # seconds to wait when another operation runs on the cluster
THROTTLE_RETRY_AFTER = 10.0   # when a throttling answer names no delay
THROTTLE_REASONS = frozenset({"RATE_LIMIT_EXCEEDED", "rateLimitExceeded", "userRateLimitExceeded"})


def _payload_status(exc: Any) -> str | None:
    """The canonical status name in a REST error body (``{"error": {"status": "FAILED_PRECONDITION"}}``)
    or a gRPC error's status code."""
    grpc_code = getattr(exc, "grpc_status_code", None)
    if grpc_code is not None and getattr(grpc_code, "name", None) == "FAILED_PRECONDITION":
        return "FAILED_PRECONDITION"
    response = getattr(exc, "response", None)
    if response is None or not hasattr(response, "json"):
        return None
    try:
        body = response.json()
    except Exception:  # noqa: BLE001 - a body that is not JSON names no status
        return None
    err = body.get("error") if isinstance(body, dict) else None
    return err.get("status") if isinstance(err, dict) else None


def _duration_seconds(text: Any) -> float | None:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s?\s*", str(text))
    return float(m.group(1)) if m else None


def _rate_limited(exc: Any) -> bool:
    """The error's reason (ErrorInfo, or the older JSON ``errors[].reason``) names a rate limit."""
    reasons = {getattr(exc, "reason", None)}
    reasons |= {e.get("reason") for e in getattr(exc, "errors", None) or () if isinstance(e, dict)}
    return bool(reasons & THROTTLE_REASONS)


def retry_after_of(exc: Any) -> float | None:
    """A ``Retry-After`` header (seconds), or a google.rpc.RetryInfo ``retryDelay`` in the error details."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None:
        value = headers.get("Retry-After")
        if value is not None and (seconds := _duration_seconds(value)) is not None:
            return seconds
    for detail in getattr(exc, "details", None) or ():
        if (isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo")
                and (seconds := _duration_seconds(detail.get("retryDelay", ""))) is not None):
            return seconds
        delay = getattr(detail, "retry_delay", None)
        if delay is not None and hasattr(delay, "seconds"):
            return float(delay.seconds) + float(getattr(delay, "nanos", 0)) / 1e9
    return None


def translate(exc: BaseException, *, provider: str, operation: str) -> ProviderError | None:
    """Translate an SDK exception raised while doing ``operation``; None when ``exc`` is not an SDK error."""
    gexc = import_optional("google.api_core.exceptions", "gke")
    auth = import_optional("google.auth.exceptions", "gke")
    rexc = import_optional("requests.exceptions", "gke")

    def temporary(code: str, default: float | None = None, *,
                  kind: type[TemporaryProviderError] = TemporaryProviderError) -> TemporaryProviderError:
        return kind(f"GKE {operation}: {exc}", provider=provider, code=code,
                    retry_after=retry_after_of(exc) or default)

    def permanent(code: str) -> PermanentProviderError:
        return PermanentProviderError(f"GKE {operation}: {exc}", provider=provider, code=code)

    if isinstance(exc, gexc.RetryError):
        return temporary("retry-exhausted")
    if isinstance(exc, gexc.GoogleAPICallError):
        return _api_error(exc, gexc, temporary, permanent)
    if isinstance(exc, auth.GoogleAuthError):
        transient = (auth.TransportError, getattr(auth, "TimeoutError", auth.TransportError))
        if isinstance(exc, transient) or getattr(exc, "retryable", False):
            return temporary("auth-transport")
        return permanent("auth")
    if isinstance(exc, (rexc.ConnectionError, rexc.Timeout, rexc.ChunkedEncodingError, rexc.RetryError,
                        rexc.ContentDecodingError)):
        return temporary("connection")
    if isinstance(exc, rexc.RequestException):
        return permanent("request")
    if isinstance(exc, gexc.GoogleAPIError):
        return permanent(type(exc).__name__)
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return temporary("connection")
    return None


def _api_error(exc: Any, gexc: Any, temporary: Callable[..., TemporaryProviderError],
               permanent: Callable[[str], PermanentProviderError]) -> ProviderError:
    """A GoogleAPICallError (an HTTP status from the API), by status and class."""
    status = exc.code if isinstance(exc.code, int) else None
    code = str(status) if status is not None else type(exc).__name__
    if isinstance(exc, (gexc.TooManyRequests, gexc.ResourceExhausted)) or status == 429 or _rate_limited(exc):
        return temporary("429" if status in (429, None) else code, THROTTLE_RETRY_AFTER, kind=ThrottledError)
    if isinstance(exc, gexc.MethodNotImplemented) or status == 501:
        return permanent(code)
    if isinstance(exc, (gexc.ServerError, gexc.DeadlineExceeded)) or (status or 0) >= 500:
        return temporary(code)
    if isinstance(exc, gexc.AlreadyExists):
        return permanent(code)
    if (isinstance(exc, (gexc.FailedPrecondition, gexc.Conflict, gexc.Cancelled))
            or _payload_status(exc) == "FAILED_PRECONDITION"):
        return temporary("FAILED_PRECONDITION" if status == 400 else code, BUSY_RETRY_AFTER)
    return permanent(code)
