"""The one place where boto3/botocore exceptions become fleet errors (EKS, STS AssumeRole, SSM GetParameters).

Throttled (``ThrottledError``: the provider kit pauses the account+region and retries): the throttling codes
(``THROTTLING_CODES``) and any other 429. Temporary (try later): 5xx (a 503 ``ServiceUnavailableException``
with Retry-After included: not a quota signal), ``ResourceInUseException`` (an update is already in
progress), ``ResourcePropagationDelayException``, expired session tokens, timeouts and connection errors.
Permanent: not found, forbidden, invalid version / bad request, quota, missing credentials or bad
configuration. Unknown codes fall back on the HTTP status: 429 is throttled, 5xx temporary, everything else
permanent.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError, ThrottledError

# the codes AWS answers when a request quota is exceeded: those of botocore's own retry handler
# (botocore/retries/standard.py, ThrottledRetryableChecker._THROTTLED_ERROR_CODES) that EKS, STS and SSM use
# (EKS and SSM: ThrottlingException; STS's query protocol: Throttling), and S3's SlowDown
THROTTLING_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException", "SlowDown",
})
TEMPORARY_CODES = THROTTLING_CODES | frozenset({
    # EKS
    "ServerException", "ServiceUnavailableException", "ResourceInUseException",
    "ResourcePropagationDelayException",
    # generic AWS / SSM / STS
    "InternalServerError", "InternalFailure", "InternalError", "ServiceUnavailable", "RequestTimeout",
    "RequestTimeoutException", "IDPCommunicationError", "ExpiredToken", "ExpiredTokenException",
})
PERMANENT_CODES = frozenset({
    # EKS
    "AccessDeniedException", "BadRequestException", "ClientException", "InvalidParameterException",
    "InvalidRequestException", "InvalidStateException", "NotFoundException", "ResourceNotFoundException",
    "ResourceLimitExceededException", "UnsupportedAvailabilityZoneException",
    # STS AssumeRole
    "MalformedPolicyDocument", "MalformedPolicyDocumentException", "PackedPolicyTooLarge",
    "PackedPolicyTooLargeException", "RegionDisabledException", "AccessDenied",
    # SSM GetParameter(s)
    "InvalidKeyId", "ParameterNotFound", "ParameterVersionNotFound",
    # generic AWS auth / validation
    "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature",
    "MissingAuthenticationToken", "UnauthorizedOperation", "OptInRequired", "ValidationException",
    "InvalidAction", "AuthFailure",
})
# what fleet's operator can do about a refusal, appended to the error's message
HINTS = {"InvalidStateException": " (EKS upgrade insights block this version: see the upgrade-blockers gate; an "
                                  "operator override of that gate sends UpdateClusterVersion force=true)"}
DEFAULT_RETRY_AFTER = {"throttle": 5.0, "ResourceInUseException": 60.0}

# botocore exceptions that are not ClientError: transport trouble is temporary, the rest is configuration.
TEMPORARY_BOTOCORE = ("ConnectionError", "HTTPClientError", "ConnectTimeoutError", "ReadTimeoutError",
                      "EndpointConnectionError", "ConnectionClosedError", "IncompleteReadError",
                      "ResponseStreamingError", "CredentialRetrievalError", "MetadataRetrievalError")
PERMANENT_BOTOCORE = ("SSLError", "ProxyConnectionError", "NoCredentialsError", "PartialCredentialsError",
                      "ProfileNotFound", "NoRegionError", "ParamValidationError", "UnknownServiceError",
                      "UnknownEndpointError", "InvalidRegionError", "InvalidEndpointConfigurationError")


def _retry_after(headers: dict[str, Any], code: str, status: int) -> float | None:
    raw = headers.get("retry-after") or headers.get("Retry-After")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:   # an HTTP date: the delay is the distance from the response's own Date header
                when = parsedate_to_datetime(raw)
                sent = parsedate_to_datetime(headers["date"]) if headers.get("date") else None
                if sent is not None:
                    return max(0.0, (when - sent).total_seconds())
            except (TypeError, ValueError, KeyError):
                pass
    if _throttled(code, status):
        return DEFAULT_RETRY_AFTER["throttle"]
    return DEFAULT_RETRY_AFTER.get(code)


def _throttled(code: str, status: int) -> bool:
    return code in THROTTLING_CODES or status == 429


def _classes(module: Any, names: tuple[str, ...]) -> tuple[type, ...]:
    return tuple(c for c in (getattr(module, n, None) for n in names) if isinstance(c, type))


def translate(exc: BaseException, *, provider: str = "eks", operation: str = "") -> ProviderError:
    """Translate one SDK exception. Callers ``raise translate(exc, ...) from exc``."""
    from botocore import exceptions as bex  # type: ignore[import-untyped]  # botocore ships no types

    where = f"{operation}: " if operation else ""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, bex.ClientError):
        err = exc.response.get("Error", {}) or {}
        meta = exc.response.get("ResponseMetadata", {}) or {}
        code = str(err.get("Code") or "")
        status = int(meta.get("HTTPStatusCode") or 0)
        message = f"{where}{code or status}: {err.get('Message') or exc}{HINTS.get(code, '')}"
        temporary = code in TEMPORARY_CODES or (code not in PERMANENT_CODES and (status == 429 or status >= 500))
        if temporary:
            kind = ThrottledError if _throttled(code, status) else TemporaryProviderError
            return kind(message, provider=provider, code=code or str(status),
                        retry_after=_retry_after(meta.get("HTTPHeaders") or {}, code, status))
        return PermanentProviderError(message, provider=provider, code=code or str(status))
    if isinstance(exc, bex.BotoCoreError):
        name = type(exc).__name__
        if isinstance(exc, _classes(bex, PERMANENT_BOTOCORE)):
            return PermanentProviderError(f"{where}{name}: {exc}", provider=provider, code=name)
        if isinstance(exc, _classes(bex, TEMPORARY_BOTOCORE)):
            return TemporaryProviderError(f"{where}{name}: {exc}", provider=provider, code=name)
        return PermanentProviderError(f"{where}{name}: {exc}", provider=provider, code=name)
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return TemporaryProviderError(f"{where}{type(exc).__name__}: {exc}", provider=provider,
                                      code=type(exc).__name__)
    return PermanentProviderError(f"{where}unexpected {type(exc).__name__}: {exc}", provider=provider,
                                  code=type(exc).__name__)
