"""Every azure-core / azure-identity exception type, and the status codes, map to the right fleet error."""

from __future__ import annotations

import inspect
import json
from datetime import timedelta

import azure.mgmt.containerservice  # noqa: F401  (the SDK must be installed: pip install -e ".[dev]")
import pytest
from azure.core import exceptions as ae
from azure.identity import _exceptions as identity_exceptions

from fleet.clock import FakeClock
from fleet.errors import PermanentProviderError, TemporaryProviderError, ThrottledError
from providers.aks.errors import translate

CLOCK = FakeClock()


class Resp:
    """The minimal response an azure-core HttpResponseError reads (status, reason, headers, text)."""

    def __init__(self, status: int, code: str = "Code", headers: dict[str, str] | None = None):
        self.status_code = status
        self.reason = "reason"
        self.headers = headers or {}
        self.content_type = "application/json"
        self._body = json.dumps({"error": {"code": code, "message": f"{code} happened"}})
        self.request = None

    def text(self, encoding: str | None = None) -> str:
        return self._body


def http(cls: type, status: int, code: str = "Code", **headers: str):
    return lambda: cls(response=Resp(status, code, {k.replace("_", "-"): v for k, v in headers.items()}))


# Th: a throttle (ARM answers request throttling with 429 TooManyRequests + Retry-After, "Understand how Azure
# Resource Manager throttles requests"); T: temporary but not a throttle (a 503 with Retry-After included)
T, P, Th = TemporaryProviderError, PermanentProviderError, ThrottledError
HTTP_DATE = (CLOCK.now() + timedelta(seconds=42)).strftime("%a, %d %b %Y %H:%M:%S GMT")

CASES = [
    # (name, factory, expected, retry_after)
    ("ServiceRequestError", lambda: ae.ServiceRequestError("connection refused"), T, 5.0),
    ("ServiceRequestTimeoutError", lambda: ae.ServiceRequestTimeoutError("connect timeout"), T, 5.0),
    ("ServiceResponseError", lambda: ae.ServiceResponseError("reset by peer"), T, 5.0),
    ("ServiceResponseTimeoutError", lambda: ae.ServiceResponseTimeoutError("read timeout"), T, 5.0),
    ("HttpResponseError", http(ae.HttpResponseError, 400, "InvalidParameter"), P, None),
    ("HttpResponseError", http(ae.HttpResponseError, 403, "AuthorizationFailed"), P, None),
    ("HttpResponseError", http(ae.HttpResponseError, 408), T, 15.0),
    ("HttpResponseError", http(ae.HttpResponseError, 429, "TooManyRequests", Retry_After="7"), Th, 7.0),
    ("HttpResponseError", http(ae.HttpResponseError, 429, "TooManyRequests", Retry_After=HTTP_DATE), Th, 42.0),
    ("HttpResponseError", http(ae.HttpResponseError, 429, "TooManyRequests"), Th, 10.0),
    ("HttpResponseError", http(ae.HttpResponseError, 500), T, 15.0),
    ("HttpResponseError", http(ae.HttpResponseError, 502), T, 15.0),
    ("HttpResponseError", http(ae.HttpResponseError, 503, "ServiceUnavailable", Retry_After="3"), T, 3.0),
    ("HttpResponseError", http(ae.HttpResponseError, 504), T, 15.0),
    ("HttpResponseError", http(ae.HttpResponseError, 422), P, None),
    ("ResourceExistsError", http(ae.ResourceExistsError, 409, "OperationNotAllowed"), T, 60.0),
    ("ResourceExistsError", http(ae.ResourceExistsError, 409, "OperationNotAllowed", Retry_After="20"), T, 20.0),
    ("ResourceNotFoundError", http(ae.ResourceNotFoundError, 404, "ResourceNotFound"), P, None),
    ("ClientAuthenticationError", http(ae.ClientAuthenticationError, 401, "AuthenticationFailed"), P, None),
    ("ResourceModifiedError", http(ae.ResourceModifiedError, 412, "PreconditionFailed"), T, 15.0),
    ("ResourceNotModifiedError", http(ae.ResourceNotModifiedError, 304), P, None),
    ("TooManyRedirectsError", lambda: ae.TooManyRedirectsError([]), P, None),
    ("ODataV4Error", lambda: ae.ODataV4Error(Resp(400, "BadRequest")), P, None),
    ("ODataV4Error", lambda: ae.ODataV4Error(Resp(503, "ServiceUnavailable")), T, 15.0),
    ("DecodeError", lambda: ae.DecodeError("not json"), T, 5.0),
    ("DecodeError", http(ae.DecodeError, 502), T, 15.0),
    ("IncompleteReadError", lambda: ae.IncompleteReadError("cut short"), T, 5.0),
    ("StreamConsumedError", lambda: ae.StreamConsumedError(Resp(200)), P, None),
    ("StreamClosedError", lambda: ae.StreamClosedError(Resp(200)), P, None),
    ("ResponseNotReadError", lambda: ae.ResponseNotReadError(Resp(200)), P, None),
    ("AzureError", lambda: ae.AzureError("something"), P, None),
    ("SerializationError", lambda: ae.SerializationError("bad body"), P, None),
    ("DeserializationError", lambda: ae.DeserializationError("bad body"), P, None),
    ("CredentialUnavailableError", lambda: identity_exceptions.CredentialUnavailableError("no credential"), P, None),
    ("AuthenticationRequiredError",
     lambda: identity_exceptions.AuthenticationRequiredError(["scope"], message="login"), P, None),
]


@pytest.mark.parametrize("name,factory,expected,retry_after", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_sdk_error_is_mapped(name, factory, expected, retry_after):
    exc = factory()
    assert type(exc).__name__ == name
    got = translate(exc, provider="aks", operation="test", clock=CLOCK)
    assert type(got) is expected
    assert got.provider == "aks"
    if issubclass(expected, TemporaryProviderError):
        assert got.retry_after == pytest.approx(retry_after)


def test_arm_error_code_is_kept():
    got = translate(http(ae.ResourceExistsError, 409, "OperationNotAllowed")(), provider="aks", operation="x")
    assert got.code == "409/OperationNotAllowed"


def test_the_table_covers_every_known_sdk_exception_type():
    known = set()
    for module in (ae, identity_exceptions):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, (ae.AzureError, ae.SerializationError,
                                                                      ae.DeserializationError)):
                known.add(cls.__name__)
    covered = {c[0] for c in CASES}
    assert known - covered == set(), "unmapped SDK exception types"


def test_foreign_exceptions_are_permanent():
    assert type(translate(ValueError("x"), provider="aks", operation="x")) is PermanentProviderError
