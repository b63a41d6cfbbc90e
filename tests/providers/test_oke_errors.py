"""Every oci SDK error type (and every status code OKE uses) maps to a fleet provider error."""

from __future__ import annotations

import inspect

import circuitbreaker
import oci
import pytest
from oci._vendor.requests import exceptions as rex

from fleet.errors import PermanentProviderError, TemporaryProviderError, ThrottledError
from providers.oke.errors import DEFAULT_BUSY_S, DEFAULT_THROTTLE_S, translate

# Th: OCI's throttle, 429 TooManyRequests (OCI API Errors, docs.oracle.com/iaas/Content/API/References/
# apierrors.htm); T: temporary but not a throttle (5xx, with Retry-After or not; 409 busy)
T, P, Th = TemporaryProviderError, PermanentProviderError, ThrottledError


def _service(status: int, code: str, headers: dict | None = None, cls=oci.exceptions.ServiceError):
    return cls(status, code, headers or {}, f"{code} message")


SERVICE_TABLE = [
    (400, "InvalidParameter", P), (400, "MissingParameter", P), (400, "CannotParseRequest", P),
    (400, "LimitExceeded", P), (400, "QuotaExceeded", P), (401, "NotAuthenticated", P),
    (402, "SignUpRequired", P), (403, "NotAllowed", P), (403, "Forbidden", P),
    (404, "NotAuthorizedOrNotFound", P), (404, "NotFound", P), (405, "MethodNotAllowed", P),
    (408, "RequestTimeout", T), (409, "IncorrectState", T), (409, "Conflict", T),
    (409, "NotAuthorizedOrResourceAlreadyExists", P), (412, "NoEtagMatch", T), (413, "PayloadTooLarge", P),
    (422, "UnprocessableEntity", P), (429, "TooManyRequests", Th), (431, "RequestHeaderFieldsTooLarge", P),
    (500, "InternalServerError", T), (501, "MethodNotImplemented", T), (502, "BadGateway", T),
    (503, "ServiceUnavailable", T), (504, "GatewayTimeout", T), (-1, "RequestException", T),
]


@pytest.mark.parametrize("status,code,expected", SERVICE_TABLE)
def test_service_errors_by_status_and_code(status, code, expected):
    for cls in (oci.exceptions.ServiceError, oci.exceptions.TransientServiceError):
        err = translate(_service(status, code, cls=cls), provider="oke", operation="get cluster")
        assert type(err) is expected, (cls, status, code)
        assert err.code == code and err.provider == "oke" and "get cluster" in str(err)


def test_retry_after_is_honoured_and_defaulted():
    assert translate(_service(429, "TooManyRequests", {"Retry-After": "7"}), provider="o",
                           operation="a").retry_after == 7.0
    assert translate(_service(429, "TooManyRequests", {"retry-after": "3"}), provider="o",
                           operation="a").retry_after == 3.0
    assert translate(_service(429, "TooManyRequests"), provider="o", operation="a").retry_after == DEFAULT_THROTTLE_S
    assert translate(_service(409, "IncorrectState"), provider="o", operation="a").retry_after == DEFAULT_BUSY_S
    unavailable = translate(_service(503, "ServiceUnavailable", {"Retry-After": "5"}), provider="o", operation="a")
    assert unavailable.retry_after == 5.0 and type(unavailable) is T      # Retry-After, but not a throttle


def _instance(cls: type[BaseException]) -> BaseException:
    if issubclass(cls, oci.exceptions.ServiceError):
        return cls(500, "InternalServerError", {}, "boom")
    special = {
        "InvalidConfig": lambda: cls({"key_file": "missing"}),
        "MultipartUploadError": lambda: cls(),
        "CompositeOperationError": lambda: cls(partial_results=[], cause=ValueError("x")),
        "ResumableDownloadException": lambda: cls("ns", "bucket", "obj", []),
        "DownloadFailedIncorrectDownloadSize": lambda: cls(1, 2),
        "ChecksumVerificationError": lambda: cls("a", "b"),
    }
    return special.get(cls.__name__, lambda: cls("simulated"))()


SDK_ERRORS = sorted((c for c in vars(oci.exceptions).values()
                     if inspect.isclass(c) and issubclass(c, BaseException)), key=lambda c: c.__name__)
TEMPORARY_TYPES = {"BaseConnectTimeout", "BaseRequestException", "ConnectTimeout", "RequestException",
                   "MaximumWaitTimeExceeded", "ServiceError", "TransientServiceError"}


def test_the_table_covers_the_whole_sdk():
    assert len(SDK_ERRORS) >= 20          # the SDK's exception module, not an empty list


@pytest.mark.parametrize("cls", SDK_ERRORS, ids=lambda c: c.__name__)
def test_every_sdk_exception_type_is_mapped(cls):
    err = translate(_instance(cls), provider="oke", operation="list clusters")
    assert err is not None, f"{cls.__name__} is not mapped"
    assert isinstance(err, T if cls.__name__ in TEMPORARY_TYPES else P), cls.__name__


@pytest.mark.parametrize("exc", [rex.ReadTimeout("read"), rex.ConnectionError("refused"), rex.Timeout("t"),
                                 rex.ChunkedEncodingError("c"), circuitbreaker.CircuitBreakerError(
                                     circuitbreaker.CircuitBreaker(name="oke-test"))],
                         ids=lambda e: type(e).__name__)
def test_transport_errors_are_temporary(exc):
    assert isinstance(translate(exc, provider="oke", operation="poll"), T)


def test_non_sdk_errors_are_not_swallowed():
    assert translate(TypeError("a bug"), provider="oke", operation="x") is None
    assert translate(KeyError("k"), provider="oke", operation="x") is None


def test_client_error_messages_never_carry_key_material():
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecret\n-----END RSA PRIVATE KEY-----"
    err = translate(oci.exceptions.InvalidPrivateKey(pem), provider="oke", operation="load API key")
    assert "MIIEsecret" not in str(err) and isinstance(err, P)
