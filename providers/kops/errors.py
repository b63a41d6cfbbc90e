"""The one place where everything the kops adapter can hit is translated into fleet's error types.

``translate(exc)`` maps, in order: fleet ProviderErrors (unchanged); botocore ``ClientError`` by error code,
then HTTP status (Retry-After honoured; the throttling codes, S3's 503 SlowDown included, and 429 are
``ThrottledError``, other 5xx plain temporary); botocore's own exceptions by class (connection and timeout
problems are temporary, configuration problems permanent); a failed kops command by what kops printed
(kops exits 1 for every error, so its message is all there is: AWS throttling text is throttled, 5xx and
network text temporary, anything else permanent); a kops command that overran its timeout (temporary); a missing or
non-executable kops binary (permanent); channel downloads (urllib); a corrupt state store (YAML, permanent).
"""

from __future__ import annotations

import re
import subprocess
import urllib.error
from dataclasses import dataclass, field
from typing import Any

from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError, ThrottledError

# S3 / AWS error codes that mean "over the request quota, slow down" (ThrottledError): botocore's own retry
# handler's throttling codes (botocore/retries/standard.py, ThrottledRetryableChecker._THROTTLED_ERROR_CODES),
# S3's SlowDown among them (a 503: "Please reduce your request rate", Amazon S3 error responses)
THROTTLING_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestThrottledException", "RequestLimitExceeded", "TooManyRequests", "TooManyRequestsException",
    "BandwidthLimitExceeded", "EC2ThrottledException"})
# S3 / AWS error codes that mean "try again later"
TEMPORARY_CODES = THROTTLING_CODES | frozenset({
    "PriorRequestNotComplete", "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure",
    "ServiceUnavailable", "ServiceUnavailableException", "OperationAborted", "IDPCommunicationError"})
# ... and codes that will not get better by waiting
PERMANENT_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden", "InvalidAccessKeyId",
    "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "InvalidClientTokenId", "UnrecognizedClientException",
    "NoSuchBucket", "NoSuchKey", "NoSuchVersion", "NotFound", "InvalidBucketName", "InvalidArgument",
    "InvalidRequest", "InvalidObjectState", "MalformedXML", "AuthorizationHeaderMalformed", "PermanentRedirect",
    "MethodNotAllowed", "AccountProblem", "RequestTimeTooSkewed"})
# botocore exception class names that are transient (network, timeouts, retry quota)
TEMPORARY_BOTOCORE = frozenset({
    "HTTPClientError", "ConnectionError", "EndpointConnectionError", "ConnectionClosedError",
    "ConnectTimeoutError", "ReadTimeoutError", "ProxyConnectionError", "ResponseStreamingError",
    "IncompleteReadError", "CapacityNotAvailableError", "AwsChunkedWrapperError"})
# SSLError is a ConnectionError subclass but a certificate problem does not go away by waiting
PERMANENT_BOTOCORE_OVERRIDES = frozenset({"SSLError"})

# what kops prints when AWS throttled it (aws-sdk-go-v2's "api error <Code>", AWS's "Rate exceeded")
_KOPS_THROTTLED = re.compile(
    r"StatusCode: 429|api error (SlowDown|Throttling\w*|RequestLimitExceeded|TooManyRequests\w*)|Rate exceeded",
    re.IGNORECASE)
# ... and when AWS or the network failed underneath it otherwise
_KOPS_TEMPORARY = re.compile(
    r"StatusCode: 5\d\d|api error (InternalError|ServiceUnavailable\w*|RequestTimeout\w*)|connection refused|"
    r"connection reset|i/o timeout|TLS handshake timeout|context deadline exceeded|Client\.Timeout|no such host|"
    r"send request failed|dial tcp|unexpected EOF", re.IGNORECASE)

DEFAULT_RETRY_THROTTLE = 10.0
DEFAULT_RETRY_SERVER = 30.0


@dataclass
class KopsCommandError(Exception):
    """A kops invocation that exited non-zero."""

    argv: list[str]
    returncode: int
    stderr: str = ""
    stdout: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return kops_message(self.stderr) or f"kops exited {self.returncode}"


def kops_message(stderr: str) -> str:
    """kops' own error text: the last ``Error: ...`` paragraph (cobra's format), else the last line."""
    lines = [ln.rstrip() for ln in stderr.splitlines() if ln.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("Error: "):
            return " ".join([lines[i].removeprefix("Error: ")] + lines[i + 1:])
    return lines[-1] if lines else ""


def _retry_after(headers: dict[str, Any] | None, default: float) -> float:
    raw = (headers or {}).get("retry-after") or (headers or {}).get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else default
    except (TypeError, ValueError):
        return default


def translate(exc: BaseException, *, provider: str = "kops", operation: str = "") -> ProviderError:
    """Return the fleet error for ``exc`` (use as ``raise translate(exc) from exc``)."""
    prefix = f"{operation}: " if operation else ""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, KopsCommandError):
        text = f"{prefix}kops {' '.join(exc.argv[:2])} failed: {exc.message}"
        printed = exc.stderr or exc.message
        if _KOPS_THROTTLED.search(printed):
            return ThrottledError(text, provider=provider, code=f"exit {exc.returncode}",
                                  retry_after=DEFAULT_RETRY_SERVER)
        if _KOPS_TEMPORARY.search(printed):
            return TemporaryProviderError(text, provider=provider, code=f"exit {exc.returncode}",
                                          retry_after=DEFAULT_RETRY_SERVER)
        return PermanentProviderError(text, provider=provider, code=f"exit {exc.returncode}")
    if isinstance(exc, subprocess.TimeoutExpired):
        argv = exc.cmd if isinstance(exc.cmd, list) else [str(exc.cmd)]
        return TemporaryProviderError(f"{prefix}kops {' '.join(map(str, argv[1:3]))} did not finish within "
                                      f"{exc.timeout}s", provider=provider, code="timeout",
                                      retry_after=DEFAULT_RETRY_SERVER)
    if isinstance(exc, (FileNotFoundError, PermissionError)):
        return PermanentProviderError(f"{prefix}cannot run kops: {exc}", provider=provider, code="binary")
    boto = _translate_botocore(exc, provider, prefix)
    if boto is not None:
        return boto
    if isinstance(exc, urllib.error.HTTPError):
        status = exc.code
        if status == 429 or status >= 500:
            kind = ThrottledError if status == 429 else TemporaryProviderError
            return kind(f"{prefix}{exc}", provider=provider, code=str(status),
                        retry_after=_retry_after(dict(exc.headers or {}), DEFAULT_RETRY_SERVER))
        return PermanentProviderError(f"{prefix}{exc}", provider=provider, code=str(status))
    if isinstance(exc, (urllib.error.URLError, TimeoutError, ConnectionError)):
        return TemporaryProviderError(f"{prefix}{exc}", provider=provider, code="network",
                                      retry_after=DEFAULT_RETRY_SERVER)
    if type(exc).__module__.startswith("yaml"):
        return PermanentProviderError(f"{prefix}unreadable kops object: {exc}", provider=provider, code="yaml")
    return PermanentProviderError(f"{prefix}{type(exc).__name__}: {exc}", provider=provider,
                                  code=type(exc).__name__)


def _translate_botocore(exc: BaseException, provider: str, prefix: str) -> ProviderError | None:
    mod = type(exc).__module__
    if not mod.startswith(("botocore", "boto3")):
        return None
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:   # ClientError and the modeled service errors
        code = str(response.get("Error", {}).get("Code") or "")
        meta = response.get("ResponseMetadata") or {}
        status = int(meta.get("HTTPStatusCode") or (code if code.isdigit() else 0) or 0)
        headers = meta.get("HTTPHeaders") or {}
        text = f"{prefix}S3 {code or status}: {response.get('Error', {}).get('Message') or exc}"
        temporary = code in TEMPORARY_CODES or (code not in PERMANENT_CODES and (status == 429 or status >= 500))
        if temporary:
            throttled = status == 429 or code in THROTTLING_CODES
            default = DEFAULT_RETRY_THROTTLE if throttled else DEFAULT_RETRY_SERVER
            kind = ThrottledError if throttled else TemporaryProviderError
            return kind(text, provider=provider, code=code or str(status), retry_after=_retry_after(headers, default))
        return PermanentProviderError(text, provider=provider, code=code or str(status))
    names = {c.__name__ for c in type(exc).__mro__}
    if names & TEMPORARY_BOTOCORE and not names & PERMANENT_BOTOCORE_OVERRIDES:
        return TemporaryProviderError(f"{prefix}{exc}", provider=provider, code=type(exc).__name__,
                                      retry_after=DEFAULT_RETRY_SERVER)
    return PermanentProviderError(f"{prefix}{exc}", provider=provider, code=type(exc).__name__)
