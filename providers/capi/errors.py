"""The one place where errors of the ``kubernetes`` client (and urllib3 under it) become fleet errors.

    429, 5xx, 409 Conflict, 408/410, no response, connection errors, timeouts -> TemporaryProviderError
        (Retry-After header or Status details.retryAfterSeconds -> retry_after)

A 429 comes in two shapes, both read here: the API server's max-in-flight and API Priority and Fairness
filters answer plain text "Too many requests, please try again later." with ``Retry-After: 1`` (k8s.io/apiserver
pkg/server/filters/maxinflight.go ``tooManyRequests``, used by priority-and-fairness.go too); handlers that
return ``NewTooManyRequests`` answer a Status with reason TooManyRequests and ``details.retryAfterSeconds``
(apimachinery pkg/api/errors; the API conventions' "TooManyRequests" reason) and the same header. The
ThrottledError's ``retry_after`` lets the rate-limit kit pause the management cluster and retry.

    400, 401, 403, 404, 405, 415, 422 and other 4xx, TLS errors, client-side argument errors,
    kubeconfig errors                                                          -> PermanentProviderError

Of those, a 429 is a ``ThrottledError`` (a TemporaryProviderError): the API server answers a request over its
limits (API Priority and Fairness, ``--max-requests-inflight``) with 429 and Retry-After
(kubernetes.io/docs/concepts/cluster-administration/flow-control/; the Status reason ``TooManyRequests``),
the throttle the provider kit pauses the management cluster for and retries. A 5xx (``ServiceUnavailable``,
even with Retry-After) or a 409 is not a quota signal: plain TemporaryProviderError.
"""

from __future__ import annotations

import json
from typing import Any

from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError, ThrottledError

DEFAULT_RETRY_AFTER = {429: 5.0, 409: 1.0}
TEMPORARY_STATUS = {0, 408, 409, 410, 429}


def _status_body(exc: Any) -> dict[str, Any]:
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    try:
        out = json.loads(body) if body else {}
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _retry_after(exc: Any, body: dict[str, Any]) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    value = None
    for k in headers:
        if str(k).lower() == "retry-after":
            value = headers[k]
    if value is None:
        value = (body.get("details") or {}).get("retryAfterSeconds")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the error being translated
        return type(exc).__name__


def translate(exc: BaseException, *, provider: str, operation: str) -> ProviderError | None:
    """The fleet error for ``exc`` raised while doing ``operation``; None when ``exc`` is not an SDK error."""
    from kubernetes.client.exceptions import ApiException, OpenApiException
    from kubernetes.config.config_exception import ConfigException
    from pydantic import ValidationError as PydanticValidationError
    from urllib3.exceptions import HTTPError as Urllib3Error
    from urllib3.exceptions import SSLError

    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        body = _status_body(exc)
        reason = body.get("reason") or getattr(exc, "reason", "") or ""
        message = body.get("message") or reason or "no response"
        text = f"{operation}: {status} {reason}: {message}".strip()
        if status in TEMPORARY_STATUS or status >= 500:
            retry = _retry_after(exc, body) or DEFAULT_RETRY_AFTER.get(status)
            kind = ThrottledError if status == 429 else TemporaryProviderError
            return kind(text, provider=provider, code=str(status), retry_after=retry)
        return PermanentProviderError(text, provider=provider, code=str(status))
    if isinstance(exc, SSLError):
        return PermanentProviderError(f"{operation}: TLS error: {_text(exc)}", provider=provider, code="tls")
    if isinstance(exc, (Urllib3Error, ConnectionError, TimeoutError)):
        return TemporaryProviderError(f"{operation}: {type(exc).__name__}: {_text(exc)}", provider=provider, code="connection",
                                      retry_after=5.0)
    if isinstance(exc, ConfigException):
        return PermanentProviderError(f"{operation}: kubeconfig: {_text(exc)}", provider=provider, code="config")
    if isinstance(exc, (OpenApiException, PydanticValidationError)):
        # ApiTypeError, ApiValueError, ApiKeyError, ApiAttributeError; the generated client also validates its
        # arguments with pydantic (validate_call)
        return PermanentProviderError(f"{operation}: {type(exc).__name__}: {_text(exc)}", provider=provider, code="client")
    return None
