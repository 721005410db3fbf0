"""Backend exceptions sorted into kinds; secrets masked; what gd retries.

The real SDKs' errors are exercised against real servers in test_store_errors.py;
here the classifier's rules are pinned one by one with exceptions shaped the
way each SDK shapes them (class name, ``response``, ``error_code``, ``status``).
"""

from __future__ import annotations

import errno

import pytest

from gitdata.storage import faults
from gitdata.storage.faults import classify, redact, secret_values
from gitdata.storage.transfer import with_retries


def sdk_error(class_name: str, base: type[BaseException] = Exception, **attrs) -> BaseException:
    """An exception whose class is called ``class_name`` (as the SDK names it)."""
    exc = type(class_name, (base,), {})("boom")
    for name, value in attrs.items():
        setattr(exc, name, value)
    return exc


def boto_error(code: str, status: int) -> BaseException:
    return sdk_error(
        "ClientError",
        response={"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
    )


def wrapped(inner: BaseException, outer: BaseException) -> BaseException:
    """``outer`` raised from ``inner``, as s3fs wraps botocore's errors."""
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    "exc,kind",
    [
        (boto_error("SignatureDoesNotMatch", 403), faults.CREDENTIALS),
        (boto_error("InvalidAccessKeyId", 403), faults.CREDENTIALS),
        (sdk_error("NoCredentialsError"), faults.CREDENTIALS),
        (sdk_error("HttpResponseError", status_code=401), faults.CREDENTIALS),
        (boto_error("NoSuchBucket", 404), faults.MISSING_BUCKET),
        (sdk_error("ResourceNotFoundError", error_code="ContainerNotFound"), faults.MISSING_BUCKET),
        (boto_error("AccessDenied", 403), faults.PERMISSION),
        (
            sdk_error("HttpResponseError", error_code="AuthorizationPermissionMismatch"),
            faults.PERMISSION,
        ),
        (OSError("Forbidden: https://storage.googleapis.com/b/x"), faults.PERMISSION),
        (boto_error("SlowDown", 503), faults.THROTTLED),
        (sdk_error("HttpError", code=429, reason="rateLimitExceeded"), faults.THROTTLED),
        (sdk_error("HttpResponseError", error_code="ServerBusy"), faults.THROTTLED),
        (boto_error("NoSuchKey", 404), faults.NOT_FOUND),
        (FileNotFoundError("objects/ab/cd"), faults.NOT_FOUND),
        (sdk_error("EndpointConnectionError"), faults.UNREACHABLE),
        (sdk_error("ClientConnectorError"), faults.UNREACHABLE),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), faults.UNREACHABLE),
        (sdk_error("ReadTimeoutError"), faults.TRANSIENT),
        (ConnectionResetError(errno.ECONNRESET, "reset by peer"), faults.TRANSIENT),
        (boto_error("InternalError", 500), faults.TRANSIENT),
        (ValueError("something else"), faults.OTHER),
    ],
)
def test_classify(exc, kind):
    assert classify(exc).kind == kind


def test_classify_follows_the_cause_chain():
    exc = wrapped(boto_error("SignatureDoesNotMatch", 403), PermissionError("Forbidden"))
    fault = classify(exc)
    assert fault.kind == faults.CREDENTIALS
    assert fault.code == "SignatureDoesNotMatch"


def test_service_code_wins_over_bare_status_in_the_reason():
    exc = wrapped(boto_error("SlowDown", 503), OSError(errno.EBUSY, "Service Unavailable"))
    exc.__cause__.__cause__ = sdk_error("HTTPError", status=503, code=503)
    fault = classify(exc)
    assert fault.kind == faults.THROTTLED
    assert fault.reason.startswith("SlowDown")


def test_only_throttling_and_cut_transfers_are_retried():
    """A refused connection was already retried by the SDK; gd does not multiply it."""
    assert classify(boto_error("SlowDown", 503)).retryable
    assert classify(ConnectionResetError(errno.ECONNRESET, "reset")).retryable
    for exc in (
        sdk_error("EndpointConnectionError"),
        boto_error("AccessDenied", 403),
        boto_error("NoSuchKey", 404),
        ValueError("bad"),
    ):
        assert not classify(exc).retryable


def test_with_retries_retries_transient_then_gives_up():
    calls = []

    def flaky():
        calls.append(1)
        raise ConnectionResetError(errno.ECONNRESET, "reset")

    with pytest.raises(ConnectionResetError):
        with_retries(flaky, retries=2, base_delay=0.001)
    assert len(calls) == 3


def test_with_retries_recovers_and_does_not_retry_refusals():
    calls = []

    def once_then_ok():
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionResetError(errno.ECONNRESET, "reset")
        return "ok"

    assert with_retries(once_then_ok, retries=3, base_delay=0.001) == "ok"
    assert len(calls) == 2

    denied = []

    def refuse():
        denied.append(1)
        raise boto_error("AccessDenied", 403)

    with pytest.raises(Exception, match="boom"):
        with_retries(refuse, retries=3, base_delay=0.001)
    assert len(denied) == 1


def test_redact_masks_known_secrets_and_signature_parameters():
    text = (
        "GET https://acct.blob.core.windows.net/c/x?sv=2024&sig=AbCdEf%2B123 failed; "
        "AccountKey=c2VjcmV0a2V5;BlobEndpoint=http://h; key=TOPSECRETVALUE"
    )
    out = redact(text, ["TOPSECRETVALUE"])
    assert "AbCdEf" not in out and "c2VjcmV0a2V5" not in out and "TOPSECRETVALUE" not in out
    assert "sig=***" in out and "AccountKey=***" in out and "BlobEndpoint=http://h" in out


def test_secret_values_come_from_options_and_the_clouds_variables(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    found = secret_values(
        {"key": "AKIAEXAMPLE", "client_kwargs": {"region_name": "eu-west-1"}, "token": "tok123456"}
    )
    assert {"AKIAEXAMPLE", "tok123456", "aws-secret-value"} <= set(found)
    assert "eu-west-1" not in found
