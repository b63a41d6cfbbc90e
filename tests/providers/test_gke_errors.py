"""Every known SDK error type (and HTTP status) maps to Temporary or Permanent in providers.gke.errors."""

from __future__ import annotations

import json

import google.api_core.exceptions as gexc
import google.auth.exceptions as auth
import pytest
import requests as requests

from fleet.errors import PermanentProviderError, TemporaryProviderError, ThrottledError
from providers.gke.errors import BUSY_RETRY_AFTER, THROTTLE_RETRY_AFTER, translate

# Th: a throttle (Google APIs answer a request quota exceeded with 429 RESOURCE_EXHAUSTED,
# cloud.google.com/apis/design/errors); T: temporary but not a throttle (5xx, with Retry-After or RetryInfo)
T, P, Th = TemporaryProviderError, PermanentProviderError, ThrottledError

API_CORE = {
    "Aborted": T, "AlreadyExists": P, "BadGateway": T, "BadRequest": P, "Cancelled": T, "ClientError": P,
    "Conflict": T, "DataLoss": T, "DeadlineExceeded": T, "DuplicateCredentialArgs": P, "FailedPrecondition": T,
    "Forbidden": P, "GatewayTimeout": T, "GoogleAPICallError": P, "GoogleAPIError": P, "InternalServerError": T,
    "InvalidArgument": P, "LengthRequired": P, "MethodNotAllowed": P, "MethodNotImplemented": P,
    "MissingStatusHeaderError": P, "MovedPermanently": P, "NotFound": P, "NotModified": P, "OutOfRange": P,
    "PermissionDenied": P, "PreconditionFailed": P, "Redirection": P, "RequestRangeNotSatisfiable": P,
    "ResourceExhausted": Th, "ResumableTransferError": P, "ResumeIncomplete": P, "RetryError": T, "ServerError": T,
    "ServiceUnavailable": T, "TemporaryRedirect": P, "TooManyRequests": Th, "TransferStalledError": P,
    "Unauthenticated": P, "Unauthorized": P, "Unknown": T, "UnseekableStreamError": P, "UploadCancelledError": P,
}
AUTH = {
    "GoogleAuthError": P, "TransportError": T, "TimeoutError": T, "RefreshError": P, "DefaultCredentialsError": P,
    "OSError": P, "MalformedError": P, "ReauthSamlChallengeFailError": P, "ReauthFailError": P, "InvalidValue": P,
    "OAuthError": P, "InvalidOperation": P, "ClientCertError": P, "ResponseError": P, "InvalidResource": P,
    "MutualTLSChannelError": P, "UserAccessTokenError": P, "InvalidType": P,
}
REQUESTS = {
    "RequestException": P, "ConnectionError": T, "ConnectTimeout": T, "ReadTimeout": T, "Timeout": T,
    "SSLError": T, "ProxyError": T, "ChunkedEncodingError": T, "RetryError": T, "ContentDecodingError": T,
    "HTTPError": P, "InvalidHeader": P, "InvalidJSONError": P, "InvalidProxyURL": P, "InvalidSchema": P,
    "InvalidURL": P, "JSONDecodeError": P, "MissingSchema": P, "StreamConsumedError": P, "TooManyRedirects": P,
    "URLRequired": P, "UnrewindableBodyError": P,
}


def _family(module, base):
    out, todo = {}, [base]
    while todo:
        cls = todo.pop()
        if cls.__module__ == module.__name__:
            out[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return out


def _make(cls):
    for args in (("boom",), ("boom", None), ("boom", "doc", 0)):
        try:
            return cls(*args)
        except TypeError:
            continue
    raise AssertionError(f"cannot construct {cls}")


@pytest.mark.parametrize("module,base,table", [
    (gexc, gexc.GoogleAPIError, API_CORE),
    (auth, auth.GoogleAuthError, AUTH),
    (requests.exceptions, requests.exceptions.RequestException, REQUESTS),
], ids=["api_core", "google.auth", "requests"])
def test_every_known_sdk_error_type_is_mapped(module, base, table):
    classes = _family(module, base)
    unlisted = sorted(set(classes) - set(table))
    assert not unlisted, f"SDK error types without a row in the table: {unlisted}"
    for name, cls in sorted(classes.items()):
        err = translate(_make(cls), provider="gke", operation="test")
        assert type(err) is table[name], f"{module.__name__}.{name} -> {type(err).__name__}"
        assert err.provider == "gke" and "test" in str(err)


@pytest.mark.parametrize("status,expected", [
    (400, P), (401, P), (403, P), (404, P), (405, P), (409, T), (411, P), (412, P), (416, P), (429, Th), (499, T),
    (500, T), (501, P), (502, T), (503, T), (504, T),
])
def test_every_http_status_is_mapped(status, expected):
    assert type(translate(gexc.from_http_status(status, "m"), provider="gke", operation="x")) is expected


def _http_error(status: int, body: dict, headers: dict | None = None):
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps(body).encode()
    resp.headers.update(headers or {})
    resp.request = requests.Request("POST", "http://127.0.0.1/v1/x").prepare()
    return gexc.from_http_response(resp)


def test_operation_in_progress_is_temporary_but_bad_version_is_permanent():
    busy = _http_error(400, {"error": {"code": 400, "status": "FAILED_PRECONDITION", "message":
                                       "Operation operation-1 is currently upgrading cluster c1."}})
    assert isinstance(busy, gexc.BadRequest)
    err = translate(busy, provider="gke", operation="update master")
    assert isinstance(err, T) and err.code == "FAILED_PRECONDITION" and err.retry_after == BUSY_RETRY_AFTER
    bad = _http_error(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                      "message": 'Master version "1.99.0" is unsupported.'}})
    assert isinstance(translate(bad, provider="gke", operation="update master"), P)


def test_retry_after_from_header_and_retry_info():
    hdr = _http_error(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "q"}},
                      {"Retry-After": "7"})
    assert translate(hdr, provider="gke", operation="x").retry_after == 7.0
    info = _http_error(503, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "u", "details": [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]}})
    assert translate(info, provider="gke", operation="x").retry_after == 12.0
    assert type(translate(info, provider="gke", operation="x")) is T        # a retry delay, but not a throttle
    bare = _http_error(429, {"error": {"code": 429, "message": "q"}})
    assert translate(bare, provider="gke", operation="x").retry_after == THROTTLE_RETRY_AFTER


def test_retryable_refresh_error_and_foreign_exceptions():
    assert isinstance(translate(auth.RefreshError("r", retryable=True), provider="gke", operation="x"), T)
    assert isinstance(translate(TimeoutError("t"), provider="gke", operation="x"), T)
    assert translate(KeyError("not an SDK error"), provider="gke", operation="x") is None


ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


@pytest.mark.parametrize("status,error,headers,expected", [
    (429, {"status": "RESOURCE_EXHAUSTED"}, {}, Th),
    (429, {"status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": ERROR_INFO, "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com"}]}, {}, Th),
    # the older JSON error format: a rate limit answered 403 with errors[].reason (e.g. Compute Engine)
    (403, {"status": "PERMISSION_DENIED", "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits"}]},
     {}, Th),
    (403, {"status": "PERMISSION_DENIED", "errors": [{"reason": "userRateLimitExceeded"}]}, {}, Th),
    (403, {"status": "PERMISSION_DENIED", "details": [
        {"@type": ERROR_INFO, "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com"}]}, {}, Th),
    (403, {"status": "PERMISSION_DENIED", "errors": [{"reason": "forbidden"}]}, {}, P),
    (503, {"status": "UNAVAILABLE"}, {"Retry-After": "5"}, T),
    (500, {"status": "INTERNAL"}, {"Retry-After": "5"}, T),
    (400, {"status": "FAILED_PRECONDITION"}, {}, T),
])
def test_throttles_are_told_from_other_temporary_errors(status, error, headers, expected):
    exc = _http_error(status, {"error": {"code": status, "message": "m", **error}}, headers)
    err = translate(exc, provider="gke", operation="list clusters")
    assert type(err) is expected
    if expected is Th:
        assert err.retry_after and err.retry_after > 0
