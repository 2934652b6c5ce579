"""Operator-facing failures: one clear line each, and a documented exit code.

Every command runs under ``report_errors``: a failure it knows (or an AWS error it can
name) becomes one line on stderr and one of the exit codes below, never a traceback.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from typing import TextIO

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)


class ExitCode(enum.IntEnum):
    """What a ``pipeline`` operator command exits with (docs/operating.md has the table)."""

    OK = 0
    MISMATCH = 1  # verify found mismatches; inspect found no record
    USAGE = 2  # bad arguments (argparse's own code)
    BAD_INPUT = 3  # an input file is missing or has bad lines (the good ones were sent)
    NOT_FOUND = 4  # no such stack, output, queue, table or function
    CREDENTIALS = 5  # no credentials, expired or rejected, access denied
    THROTTLED = 6  # AWS kept throttling after the SDK's retries
    AWS_ERROR = 7  # any other AWS or endpoint failure; messages left unsent or unmoved
    DECLINED = 8  # a confirmation was refused (purge without --yes)
    INTERRUPTED = 130  # Ctrl-C


class OpsError(Exception):
    """A failure an operator can act on: its message is the whole story."""

    exit_code: ExitCode = ExitCode.AWS_ERROR

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class BadInput(OpsError):
    """An input file is missing, unreadable or has bad lines."""

    exit_code = ExitCode.BAD_INPUT


class TargetNotFound(OpsError):
    """The stack, one of its outputs, or a resource it names does not exist."""

    exit_code = ExitCode.NOT_FOUND


class CredentialsProblem(OpsError):
    """No credentials, or AWS rejected them."""

    exit_code = ExitCode.CREDENTIALS


class Throttled(OpsError):
    """AWS throttled a request beyond the SDK's retries."""

    exit_code = ExitCode.THROTTLED


class Declined(OpsError):
    """The operator did not confirm a destructive action."""

    exit_code = ExitCode.DECLINED


_CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "UnauthorizedOperation",
        "MissingAuthenticationToken",
    }
)
_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
_NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: BaseException) -> OpsError | None:
    """The operator's view of a foreign error, or None when it is not one we can name."""
    if isinstance(exc, OpsError):
        return exc
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | TokenRetrievalError):
        return CredentialsProblem(
            "no AWS credentials found: set AWS_PROFILE (or --profile), run `aws sso login`, "
            "or point --endpoint-url at the local cloud"
        )
    if isinstance(exc, ProfileNotFound):
        return CredentialsProblem(f"{exc}: check --profile / AWS_PROFILE")
    if isinstance(exc, NoRegionError):
        return OpsError("no AWS region: pass --region or set AWS_REGION", ExitCode.USAGE)
    if isinstance(exc, EndpointConnectionError):
        return OpsError(f"cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}: is it up?")
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        operation = exc.operation_name
        if code in _CREDENTIAL_CODES:
            return CredentialsProblem(f"{operation} refused ({code}): {message}")
        if code in _THROTTLING_CODES:
            return Throttled(f"{operation} still throttled after retries ({code}): try again later")
        if code.endswith("PurgeQueueInProgress"):
            return Throttled(
                "the queue was purged less than 60 s ago (SQS allows one purge a "
                "minute): try again in a minute"
            )
        if code in _NOT_FOUND_CODES:
            return TargetNotFound(f"{operation}: {message}")
        return OpsError(f"{operation} failed ({code}): {message}")
    if isinstance(exc, BotoCoreError):
        return OpsError(f"AWS SDK error: {exc}")
    if isinstance(exc, OSError):
        return BadInput(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    return None


def report_errors(command: Callable[[], int], *, stderr: TextIO | None = None) -> int:
    """Run ``command``; a known failure prints ``pipeline: error: ...`` and its exit code."""
    out = stderr or sys.stderr
    try:
        return command()
    except KeyboardInterrupt:
        print("pipeline: interrupted", file=out)
        return ExitCode.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line and a code
        known = translate(exc)
        if known is None:
            print(f"pipeline: error: unexpected {type(exc).__name__}: {exc}", file=out)
            return ExitCode.AWS_ERROR
        print(f"pipeline: error: {known}", file=out)
        return known.exit_code
