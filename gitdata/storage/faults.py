"""What went wrong in a store: backend exceptions sorted into a few kinds users act on.

s3fs, gcsfs and adlfs raise a mix of builtin ``OSError`` subclasses and their
SDKs' own exceptions (botocore, google-auth, aiohttp, azure-core).  None of those
SDKs is imported here: an exception is recognised by its class names, its HTTP
status and its service error code, walking its ``__cause__`` / ``__context__``
chain (s3fs wraps botocore's ``ClientError`` in ``PermissionError`` and friends).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from gitdata.errors import mask_credentials

# kinds
NOT_FOUND = "not_found"
MISSING_BUCKET = "missing_bucket"
CREDENTIALS = "credentials"
PERMISSION = "permission"
THROTTLED = "throttled"
UNREACHABLE = "unreachable"
TRANSIENT = "transient"
OTHER = "other"

# An endpoint that refuses connections is not retried here: every SDK has already
# retried the connection with its own backoff, and retrying on top would multiply
# the wait before a dead endpoint is reported (36 s instead of 5 s for S3).
RETRYABLE = frozenset({THROTTLED, TRANSIENT})

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "AuthorizationHeaderMalformed",
    "InvalidClientTokenId",
    "AuthenticationFailed",
    "AuthorizationFailure",
    "InvalidAuthenticationInfo",
    "NoAuthenticationInformation",
    "InvalidSecurity",
}
_CREDENTIAL_CLASSES = {
    "NoCredentialsError",
    "PartialCredentialsError",
    "CredentialRetrievalError",
    "ClientAuthenticationError",
    "DefaultCredentialsError",
    "RefreshError",
    "CredentialUnavailableError",
}
_MISSING_BUCKET_CODES = {"NoSuchBucket", "ContainerNotFound", "ContainerBeingDeleted"}
_PERMISSION_CODES = {
    "AccessDenied",
    "AllAccessDisabled",
    "AuthorizationPermissionMismatch",
    "AuthorizationResourceTypeMismatch",
    "InsufficientAccountPermissions",
    "AccountIsDisabled",
}
_THROTTLE_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequests",
    "TooManyRequestsException",
    "RequestThrottled",
    "ServerBusy",
    "OperationTimedOut",
    "rateLimitExceeded",
    "userRateLimitExceeded",
}
_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchUpload", "BlobNotFound", "ResourceNotFound", "404"}
_UNREACHABLE_CLASSES = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "ClientConnectorError",
    "ClientConnectorDNSError",
    "ServiceRequestError",
    "ConnectionRefusedError",
    "gaierror",
    "NewConnectionError",
}
_TRANSIENT_CLASSES = {
    "ReadTimeoutError",
    "ReadTimeout",
    "ResponseStreamingError",
    "IncompleteReadError",
    "ServiceResponseError",
    "ServerDisconnectedError",
    "ClientPayloadError",
    "ClientOSError",
    "ServerTimeoutError",
    "ContentLengthError",
    "TransferEncodingError",
    "ConnectionResetError",
    "BrokenPipeError",
    "ConnectionAbortedError",
    "IncompleteRead",
    "ProtocolError",
    "TimeoutError",
}
_TRANSIENT_ERRNOS = {
    errno.ECONNRESET,
    errno.ETIMEDOUT,
    errno.EAGAIN,
    errno.ECONNREFUSED,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.ENETUNREACH,
    errno.EHOSTUNREACH,
}


@dataclass(frozen=True)
class Fault:
    """One classified failure: its ``kind`` and a short reason for the message."""

    kind: str
    reason: str
    code: str | None = None  # the service's error code, when it sent one

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo and len(out) < 8:
        item = todo.pop(0)
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        out.append(item)
        todo += [item.__cause__, item.__context__]
        # aiohttp / botocore keep the original error in an attribute, not the chain
        for attr in ("os_error", "original_error", "error", "inner_exception"):
            inner = getattr(item, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)
    return out


def _class_names(exc: BaseException) -> set[str]:
    return {c.__name__ for c in type(exc).__mro__}


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    for attr in ("status_code", "status", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    code = getattr(exc, "error_code", None)  # azure-core
    if code:
        return str(getattr(code, "value", code))
    reason = getattr(exc, "reason", None)  # gcsfs HttpError's service reason
    if isinstance(reason, str) and reason:
        return reason
    return None


def _reason(exc: BaseException, code: str | None) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if code and code not in text:
        text = f"{code}: {text}" if text and text != "None" else code
    if not text or text == "None":
        text = type(exc).__name__
    return text[:200]


def classify(exc: BaseException) -> Fault:
    """Sort ``exc`` into one kind (see the module constants)."""
    chain = _chain(exc)
    codes = [c for c in (_code(e) for e in chain) if c]
    statuses = [s for s in (_status(e) for e in chain) if s]
    names: set[str] = set()
    for e in chain:
        names |= _class_names(e)
    # a service's own code (SlowDown) says more than a bare status (503)
    code = next((c for c in codes if not c.isdigit()), codes[0] if codes else None)

    def fault(kind: str, culprit: BaseException | None = None) -> Fault:
        specific = code if code and not code.isdigit() else None
        return Fault(kind, _reason(culprit or exc, code), specific)

    if set(codes) & _CREDENTIAL_CODES or names & _CREDENTIAL_CLASSES or 401 in statuses:
        return fault(CREDENTIALS)
    if set(codes) & _MISSING_BUCKET_CODES:
        return fault(MISSING_BUCKET)
    if set(codes) & _THROTTLE_CODES or 429 in statuses or 503 in statuses:
        return fault(THROTTLED)
    # gcsfs reports HTTP 403 as a bare OSError("Forbidden: <url>")
    forbidden = any(isinstance(e, OSError) and str(e).startswith("Forbidden") for e in chain)
    if set(codes) & _PERMISSION_CODES or 403 in statuses or "PermissionError" in names or forbidden:
        return fault(PERMISSION)
    if (
        set(codes) & _NOT_FOUND_CODES
        or 404 in statuses
        or names & {"FileNotFoundError", "ResourceNotFoundError"}
    ):
        return fault(NOT_FOUND)
    if names & _UNREACHABLE_CLASSES:
        return fault(UNREACHABLE)
    if names & _TRANSIENT_CLASSES or any(s in (500, 502, 504) for s in statuses):
        return fault(TRANSIENT)
    for e in chain:
        if isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNOS:
            return fault(UNREACHABLE if e.errno == errno.ECONNREFUSED else TRANSIENT, e)
    if "ConnectionError" in names:
        return fault(TRANSIENT)
    return fault(OTHER)


# ------------------------------------------------------------------ secrets

_SECRET_OPTION = re.compile(r"key|secret|token|password|passwd|credential|sas|connection_string")
_SECRET_ENV = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_CLIENT_SECRET",
    "AZURE_CLIENT_SECRET",
)
_SECRET_PATTERNS = re.compile(
    r"(?i)\b(AccountKey|SharedAccessSignature|sig|signature|x-amz-signature|x-amz-credential"
    r"|x-amz-security-token|x-goog-signature|x-goog-credential|access_token|client_secret)"
    r"=[^;&\s'\"]+"
)


def secret_values(options: dict | None) -> list[str]:
    """Values that must never appear in a message: secret-looking options and env vars."""
    found: list[str] = []

    def walk(value: object, name: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, str) and _SECRET_OPTION.search(name.lower()) and len(value) >= 6:
            found.append(value)

    walk(options or {}, "")
    found += [os.environ[v] for v in _SECRET_ENV if len(os.environ.get(v, "")) >= 6]
    return found


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with known secret values, signature-like parameters and URL
    credentials (:func:`gitdata.errors.mask_credentials`) masked."""
    for value in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(value, "***")
    return mask_credentials(_SECRET_PATTERNS.sub(lambda m: f"{m.group(1)}=***", text))
