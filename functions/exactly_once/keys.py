"""Idempotency keys and payload hashes: what identifies a message and what it says.

The key comes from the producer (a field of the body, found by a JMESPath expression) and
is hashed under an explicit prefix. SQS's ``messageId`` is never used: a producer's retry
and a DLQ redrive both get a new one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jmespath
from jmespath.parser import ParsedResult

from .errors import ConfigurationError, InvalidMessage
from .values import Value

MAX_KEY_BYTES = 1024


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class DuplicateMember(ValueError):
    """An object with two members of one name: not I-JSON (RFC 7493)."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        # Parsers disagree on which one wins: a gateway that validated the first and this
        # consumer that applied the last would see two different messages.
        raise DuplicateMember("an object has two members of the same name")
    return document


def decode_body(body: str) -> dict[str, Any]:
    """The message body as a JSON object, or InvalidMessage saying why it is not one.

    Strict, as I-JSON (RFC 7493) asks: no duplicate member names, no NaN or Infinity.
    """
    try:
        decoded = json.loads(
            body, parse_constant=_reject_constant, object_pairs_hook=_unique_members
        )
    except RecursionError:
        raise InvalidMessage("body is nested too deeply") from None
    except DuplicateMember as exc:
        raise InvalidMessage(f"body is not I-JSON: {exc}") from None
    except ValueError as exc:
        raise InvalidMessage(f"body is not JSON: {exc}") from None
    if not isinstance(decoded, dict):
        raise InvalidMessage(f"body is JSON but not an object (got {type(decoded).__name__})")
    return decoded


def payload_hash(document: Any) -> str:
    """A hash of the content, independent of key order and white space.

    ``document`` is a decoded body, or what an effect's ``payload`` hook returns (plain
    JSON values; decimals and other values are hashed as their ``str``).
    """
    # ASCII escapes: a lone surrogate (valid in JSON, not in UTF-8) still hashes.
    canonical = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


class KeySpec(Value):
    """Where the key is in a body and the prefix its hash is stored under."""

    prefix: str
    path: str

    def __post_init__(self) -> None:
        if not self.prefix or "#" in self.prefix:
            raise ConfigurationError(
                "key prefix must be a non-empty string without '#': set IDEMPOTENCY_KEY_PREFIX "
                "to a stable name such as 'ledger-v1' (changing it later changes every key)"
            )
        try:
            object.__setattr__(self, "_compiled", jmespath.compile(self.path))
        except jmespath.exceptions.ParseError as exc:
            raise ConfigurationError(f"key path {self.path!r} is not JMESPath: {exc}") from exc

    def raw_key(self, document: dict[str, Any]) -> str:
        """The producer's key as sent, or InvalidMessage when it is missing or unusable."""
        compiled: ParsedResult = object.__getattribute__(self, "_compiled")
        value = compiled.search(document)
        if value is None:
            raise InvalidMessage(f"idempotency key missing: nothing at {self.path!r}")
        if not isinstance(value, str):
            raise InvalidMessage(
                f"idempotency key at {self.path!r} must be a string (got {type(value).__name__})"
            )
        if not value.strip():
            raise InvalidMessage(f"idempotency key at {self.path!r} is empty")
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate: valid JSON, but no text
            raise InvalidMessage(f"idempotency key at {self.path!r} is not valid Unicode") from None
        if size > MAX_KEY_BYTES:
            raise InvalidMessage(f"idempotency key at {self.path!r} exceeds {MAX_KEY_BYTES} bytes")
        return value

    def record_id(self, raw_key: str) -> str:
        """The stored record's id: the prefix in clear, then the key's SHA-256."""
        return f"{self.prefix}#{hashlib.sha256(raw_key.encode('utf-8')).hexdigest()}"

    def record_id_of(self, document: dict[str, Any]) -> str:
        return self.record_id(self.raw_key(document))
