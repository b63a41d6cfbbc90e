"""The one place where azure-core exceptions become fleet provider errors (the adapter's boundary).

::

    azure.core.exceptions.AzureError
     ├── ServiceRequestError (+ ServiceRequestTimeoutError)     connection failed / timed out   -> Temporary
     ├── ServiceResponseError (+ ServiceResponseTimeoutError)   read failed / timed out         -> Temporary
     ├── HttpResponseError                                      by status code, see below
     │    ├── ClientAuthenticationError (401; identity: CredentialUnavailableError,
     │    │                              AuthenticationRequiredError)                          -> Permanent
     │    ├── ResourceNotFoundError (404)                                                       -> Permanent
     │    ├── ResourceExistsError (409: AKS "operation in progress")                            -> Temporary
     │    ├── ResourceModifiedError (412: etag race)                                            -> Temporary
     │    ├── ResourceNotModifiedError (304)                                                    -> Permanent
     │    ├── TooManyRedirectsError                                                             -> Permanent
     │    ├── ODataV4Error                                                                      by status
     │    └── DecodeError, IncompleteReadError (a garbled/cut response)                         -> Temporary
     ├── StreamConsumedError, StreamClosedError, ResponseNotReadError (client bugs)             -> Permanent
     └── (anything else)                                                                        -> Permanent
    SerializationError, DeserializationError (ValueError)                                       -> Permanent

Status codes: 429 is Throttled (``ThrottledError``: ARM answers its request throttling with 429
TooManyRequests and Retry-After, "Understand how Azure Resource Manager throttles requests",
learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling; the provider kit
pauses the subscription and retries); 408, 409, 412 and every 5xx are Temporary (a 503 with Retry-After
included: not a quota signal); ``Retry-After`` honoured, seconds or an HTTP date; every other 4xx is
Permanent. The ARM error code (e.g. ``OperationNotAllowed``) is kept in
``code`` as ``"<status>/<ARM code>"``.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from fleet.clock import Clock
from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError, ThrottledError

THROTTLED_STATUS = 429
TEMPORARY_STATUS = frozenset({408, 409, 412, THROTTLED_STATUS})
# AKS's deprecated-API upgrade block (400 ValidationError, subcode UpgradeBlockedOnDeprecatedAPIUsage:
# learn.microsoft.com/azure/aks/stop-cluster-upgrade-api-breaking-changes): permanent, and the message says
# what the operator can do
DEPRECATED_API_BLOCK = "UpgradeBlockedOnDeprecatedAPIUsage"
DEPRECATED_API_HINT = (" [AKS blocked the upgrade on recent deprecated-API usage (UpgradeBlockedOnDeprecatedAPIUsage): "
                       "migrate the usage, or override the upgrade-blockers gate, which sends "
                       "upgradeSettings.overrideSettings {forceUpgrade: true, until}]")
DEFAULT_RETRY_AFTER = {409: 60.0, 429: 10.0}


def _retry_after(response: Any, clock: Clock | None) -> float | None:
    headers = getattr(response, "headers", None) or {}
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    if clock is None:
        return None
    try:
        return max(0.0, (parsedate_to_datetime(raw) - clock.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def translate(exc: BaseException, *, provider: str, operation: str, clock: Clock | None = None) -> ProviderError:
    """Translate one SDK exception; the caller does ``raise translate(...) from exc``."""
    from azure.core import exceptions as ae

    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, (ae.ServiceRequestError, ae.ServiceResponseError)):
        kind = "timed out" if isinstance(exc, (ae.ServiceRequestTimeoutError, ae.ServiceResponseTimeoutError)) \
            else "connection failed"
        return TemporaryProviderError(f"{operation}: {kind}: {_first_line(exc)}", provider=provider,
                                      code="connection", retry_after=5.0)
    if isinstance(exc, ae.HttpResponseError):
        status = exc.status_code or getattr(exc.response, "status_code", None)
        arm_code = getattr(getattr(exc, "error", None), "code", None) or ""
        code = f"{status}/{arm_code}" if arm_code else str(status or "")
        message = f"{operation}: {status or ''} {_first_line(exc)}".strip()
        if isinstance(exc, ae.ClientAuthenticationError):
            return PermanentProviderError(message, provider=provider, code=code or "401")
        if isinstance(exc, ae.TooManyRedirectsError):
            return PermanentProviderError(message, provider=provider, code=code or "redirects")
        if isinstance(exc, (ae.ResourceExistsError, ae.ResourceModifiedError)) or (
                status is not None and (status in TEMPORARY_STATUS or status >= 500)):
            retry = _retry_after(exc.response, clock)
            if retry is None:
                retry = DEFAULT_RETRY_AFTER.get(status or 0, 15.0)
            error = ThrottledError if status == THROTTLED_STATUS else TemporaryProviderError
            return error(message, provider=provider, code=code, retry_after=retry)
        if isinstance(exc, ae.DecodeError) and (status is None or status < 400):
            return TemporaryProviderError(message, provider=provider, code=code or "decode", retry_after=5.0)
        if DEPRECATED_API_BLOCK in _body(exc):
            return PermanentProviderError(message + DEPRECATED_API_HINT, provider=provider,
                                          code=f"{code}/{DEPRECATED_API_BLOCK}")
        return PermanentProviderError(message, provider=provider, code=code)
    if isinstance(exc, ae.AzureError):
        return PermanentProviderError(f"{operation}: {type(exc).__name__}: {_first_line(exc)}", provider=provider,
                                      code=type(exc).__name__)
    if isinstance(exc, (ae.SerializationError, ae.DeserializationError)):
        return PermanentProviderError(f"{operation}: {type(exc).__name__}: {_first_line(exc)}", provider=provider,
                                      code=type(exc).__name__)
    return PermanentProviderError(f"{operation}: unexpected {type(exc).__name__}: {_first_line(exc)}",
                                  provider=provider, code="unexpected")


def _body(exc: Any) -> str:
    try:
        return str(exc.response.text()) if exc.response is not None else ""
    except Exception:  # a response whose body cannot be read: no subcode to find
        return ""


def is_sdk_error(exc: BaseException) -> bool:
    from azure.core import exceptions as ae
    return isinstance(exc, (ae.AzureError, ae.SerializationError, ae.DeserializationError))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
