"""Every SDK error the EKS adapter can meet is mapped, and to the right kind (providers/eks/errors.py)."""

from __future__ import annotations

import botocore.exceptions as bex
import botocore.session
import pytest

from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError, ThrottledError
from providers.eks.errors import PERMANENT_CODES, TEMPORARY_CODES, THROTTLING_CODES, translate

# Th: a throttle (AWS's throttling codes, those of botocore's retry handler: botocore/retries/standard.py
# ThrottledRetryableChecker; or a 429); T: temporary but not a throttle (5xx, a 503 with Retry-After included)
T, P, Th = TemporaryProviderError, PermanentProviderError, ThrottledError

# Every modeled error of the operations the adapter calls, with the kind we expect. A botocore upgrade that
# adds an error shape makes test_every_modeled_error_is_in_the_table fail until it is classified here.
EXPECTED = {
    # EKS (all error shapes of the service)
    "AccessDeniedException": P, "BadRequestException": P, "ClientException": P, "InvalidParameterException": P,
    "InvalidRequestException": P, "InvalidStateException": P, "NotFoundException": P,
    "ResourceInUseException": T, "ResourceLimitExceededException": P, "ResourceNotFoundException": P,
    "ResourcePropagationDelayException": T, "ServerException": T, "ServiceUnavailableException": T,
    "ThrottlingException": Th, "UnsupportedAvailabilityZoneException": P,
    # STS AssumeRole
    "MalformedPolicyDocument": P, "PackedPolicyTooLarge": P, "RegionDisabledException": P,
    "ExpiredTokenException": T,
    # SSM GetParameter(s)
    "InvalidKeyId": P, "InternalServerError": T, "ParameterNotFound": P, "ParameterVersionNotFound": P,
}
OPERATIONS = {"eks": None, "sts": ["AssumeRole"], "ssm": ["GetParameters", "GetParameter"]}


def _modeled_errors() -> list[tuple[str, int]]:
    session = botocore.session.get_session()
    out = {}
    for service, ops in OPERATIONS.items():
        model = session.get_service_model(service)
        shapes = model.error_shapes if ops is None else [e for op in ops
                                                          for e in model.operation_model(op).error_shapes]
        for shape in shapes:
            meta = shape.metadata.get("error") or {}
            out[meta.get("code", shape.name)] = int(meta.get("httpStatusCode") or 400)
    return sorted(out.items())


def _client_error(code: str, status: int, headers: dict | None = None) -> bex.ClientError:
    return bex.ClientError({"Error": {"Code": code, "Message": "boom"},
                            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}}},
                           "UpdateClusterVersion")


def test_every_modeled_error_is_in_the_table():
    modeled = {code for code, _ in _modeled_errors()}
    assert modeled - set(EXPECTED) == set(), "classify the new SDK errors in EXPECTED and errors.py"
    assert modeled <= TEMPORARY_CODES | PERMANENT_CODES


@pytest.mark.parametrize("code,status", _modeled_errors())
def test_modeled_error_is_mapped(code, status):
    err = translate(_client_error(code, status), provider="eks", operation="UpdateClusterVersion")
    assert type(err) is EXPECTED[code]
    assert err.code == code and err.provider == "eks" and "UpdateClusterVersion" in str(err)
    if err.__class__ is Th:
        assert err.retry_after and err.retry_after > 0


@pytest.mark.parametrize("status,kind", [
    (400, P), (401, P), (403, P), (404, P), (409, P), (412, P),
    (429, Th), (500, T), (502, T), (503, T), (504, T),
])
def test_unknown_codes_fall_back_on_the_status(status, kind):
    err = translate(_client_error("SomethingNew", status))
    assert type(err) is kind


def test_generic_codes_without_a_useful_status():
    # the query protocol (STS) gives up on non-XML bodies and reports the status as the code
    assert type(translate(_client_error("429", 429))) is Th
    assert type(translate(_client_error("AccessDenied", 403))) is P
    assert type(translate(_client_error("Throttling", 400))) is Th


@pytest.mark.parametrize("code,status", [(c, 400) for c in sorted(THROTTLING_CODES)] + [("SlowDown", 503)])
def test_every_throttling_code_is_a_throttle(code, status):
    err = translate(_client_error(code, status, {"retry-after": "3"}))
    assert type(err) is Th and err.retry_after == 3.0


@pytest.mark.parametrize("code,status", [("ServiceUnavailableException", 503), ("ServerException", 500),
                                         ("ResourceInUseException", 409), ("InternalFailure", 500),
                                         ("SomethingNew", 503)])
def test_a_5xx_or_busy_answer_with_retry_after_is_not_a_throttle(code, status):
    err = translate(_client_error(code, status, {"retry-after": "3"}))
    assert type(err) is T and err.retry_after == 3.0


def test_retry_after():
    assert translate(_client_error("ThrottlingException", 429, {"retry-after": "7"})).retry_after == 7.0
    dated = {"retry-after": "Mon, 05 Jan 2026 00:00:30 GMT", "date": "Mon, 05 Jan 2026 00:00:00 GMT"}
    assert translate(_client_error("ThrottlingException", 429, dated)).retry_after == 30.0
    assert translate(_client_error("ThrottlingException", 429)).retry_after > 0          # default
    assert translate(_client_error("ResourceInUseException", 409)).retry_after > 0
    assert translate(_client_error("ServerException", 500)).retry_after is None


def _botocore_classes() -> list[type]:
    return sorted((c for c in vars(bex).values() if isinstance(c, type) and issubclass(c, bex.BotoCoreError)),
                  key=lambda c: c.__name__)


def _instance(cls: type) -> BaseException:
    exc = cls.__new__(cls)
    Exception.__init__(exc, "boom")
    return exc


TEMPORARY_BOTOCORE = {"ConnectionError", "HTTPClientError", "ConnectTimeoutError", "ReadTimeoutError",
                      "EndpointConnectionError", "ConnectionClosedError", "IncompleteReadError",
                      "ResponseStreamingError", "CredentialRetrievalError", "MetadataRetrievalError"}


@pytest.mark.parametrize("cls", _botocore_classes(), ids=lambda c: c.__name__)
def test_every_botocore_exception_is_mapped(cls):
    err = translate(_instance(cls))
    assert isinstance(err, ProviderError)
    temporary = any(b.__name__ in TEMPORARY_BOTOCORE for b in cls.__mro__) and not any(
        b.__name__ in ("SSLError", "ProxyConnectionError") for b in cls.__mro__)
    assert type(err) is (T if temporary else P), cls.__name__


def test_real_sdk_exceptions():
    assert type(translate(bex.ReadTimeoutError(endpoint_url="http://127.0.0.1:1"))) is T
    assert type(translate(bex.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))) is T
    assert type(translate(bex.NoCredentialsError())) is P
    assert type(translate(bex.ProfileNotFound(profile="x"))) is P
    assert type(translate(TimeoutError("t"))) is T
    assert type(translate(ValueError("v"))) is P
    already = T("x")
    assert translate(already) is already
