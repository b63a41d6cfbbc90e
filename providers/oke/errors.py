"""The one place where oci SDK exceptions become fleet provider errors.

::

    oci.exceptions.ServiceError (and TransientServiceError)   by HTTP status / OCI error code:
        429 TooManyRequests                      -> Throttled (Retry-After, else DEFAULT_THROTTLE_S)
        409 IncorrectState / Conflict / ...      -> Temporary (an update is already running)
        409 NotAuthorizedOrResourceAlreadyExists -> Permanent
        412 NoEtagMatch                          -> Temporary (someone else changed the resource)
        408, 5xx, and status -1 (no response)    -> Temporary (a 503 with Retry-After too)
        400, 401, 403, 404, other 4xx            -> Permanent (bad version, forbidden, not found)
    oci.exceptions.ConnectTimeout, RequestException, requests' Timeout/ConnectionError -> Temporary
    oci.exceptions.MaximumWaitTimeExceeded, circuitbreaker.CircuitBreakerError        -> Temporary
    oci.exceptions.ClientError (InvalidConfig, ConfigFileNotFound, ProfileNotFound, InvalidPrivateKey,
        InvalidKeyFilePath, MissingPrivateKeyPassphrase, WaitUntilNotSupported, ...),
        CompositeOperationError, MissingEndpointForNonRegionalServiceClientError,
        any other class from an ``oci.*`` module                                      -> Permanent

Throttled is ``ThrottledError`` (the provider kit pauses the tenancy+region and retries it): OCI answers a
request rate exceeded with 429 ``TooManyRequests`` (OCI API Errors, docs.oracle.com/iaas/Content/API/
References/apierrors.htm; docs/fidelity/oke.md); a 5xx says nothing about the quota, with Retry-After or not.

Anything else is not an SDK error (a bug): ``translate`` returns None and the caller re-raises it.
Messages carry the action, status, OCI code and the service's message: never a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.errors import (
    MissingExtraError,
    PermanentProviderError,
    ProviderError,
    TemporaryProviderError,
    ThrottledError,
)
from fleet.provider import import_optional

DEFAULT_THROTTLE_S = 10.0
DEFAULT_BUSY_S = 60.0
BUSY_CODES = frozenset({"IncorrectState", "Conflict", "ConcurrentModification", "InvalidatedRetryToken"})


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    for k, v in (headers or {}).items():
        if str(k).lower() == "retry-after":
            try:
                return max(0.0, float(v))
            except (TypeError, ValueError):
                return None
    return None


def translate(exc: BaseException, *, provider: str, operation: str) -> ProviderError | None:
    oci = import_optional("oci", "oke")
    ex = oci.exceptions
    if isinstance(exc, ex.ServiceError):
        status, code = int(exc.status or -1), str(exc.code or "")
        msg = f"{operation}: OKE returned {status} {code}: {exc.message}"
        retry = _retry_after(exc.headers)
        if status == 429:
            return ThrottledError(msg, provider=provider, code=code or "429",
                                  retry_after=retry if retry else DEFAULT_THROTTLE_S)
        if status == 409 and code != "NotAuthorizedOrResourceAlreadyExists":
            return TemporaryProviderError(msg, provider=provider, code=code or "409",
                                          retry_after=retry if retry else DEFAULT_BUSY_S)
        if status in (408, 412, -1) or status >= 500:
            return TemporaryProviderError(msg, provider=provider, code=code or str(status), retry_after=retry)
        return PermanentProviderError(msg, provider=provider, code=code or str(status))
    transport = (ex.ConnectTimeout, ex.RequestException, oci._vendor.requests.exceptions.RequestException,
                 ex.MaximumWaitTimeExceeded)
    if isinstance(exc, transport) or _is_circuit_open(exc):
        return TemporaryProviderError(f"{operation}: {type(exc).__name__} talking to OKE: {exc}", provider=provider,
                                      code=type(exc).__name__)
    if isinstance(exc, ex.ClientError | ex.CompositeOperationError | ex.MissingEndpointForNonRegionalServiceClientError):
        return PermanentProviderError(f"{operation}: {type(exc).__name__}: {_safe(exc)}", provider=provider,
                                      code=type(exc).__name__)
    if type(exc).__module__.startswith("oci."):   # any other SDK error (e.g. transfer errors): do not retry
        return PermanentProviderError(f"{operation}: {type(exc).__name__}: {_safe(exc)}", provider=provider,
                                      code=type(exc).__name__)
    return None


def _is_circuit_open(exc: BaseException) -> bool:
    try:
        cb = import_optional("circuitbreaker", "oke")
    except MissingExtraError:
        return False
    return isinstance(exc, cb.CircuitBreakerError)


def _safe(exc: BaseException) -> str:
    """Client errors name config keys (e.g. InvalidConfig({'key_file': 'missing'})), never key material."""
    text = str(exc)
    return text if "PRIVATE KEY" not in text else "(details withheld: they contain key material)"
