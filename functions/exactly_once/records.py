"""The idempotency record and its DynamoDB item shape."""

from __future__ import annotations

import enum
from typing import Any

from .values import Value

# Attribute names of the idempotency table. `id` and `expiration` are fixed by the
# table's definition (partition key and TTL attribute) in exactly_once_cdk.idempotency_table.
ID = "id"
EXPIRATION = "expiration"
STATUS = "status"
PAYLOAD_HASH = "payload_hash"
LEASE_OWNER = "lease_owner"
LEASE_EXPIRY_MS = "lease_expiry_ms"
ATTEMPT = "attempt"
UPDATED_AT_MS = "updated_at_ms"
MESSAGE_ID = "message_id"
PREVIOUS_OWNER = "previous_owner"
RELEASES = "releases"


class RecordStatus(enum.Enum):
    """Where a key's processing stands."""

    INPROGRESS = "INPROGRESS"
    COMPLETED = "COMPLETED"


class IdempotencyRecord(Value):
    """What the table remembers of one key.

    ``expiration`` (epoch seconds) ends the retention; ``lease_expiry_ms`` (epoch
    milliseconds) ends an INPROGRESS lease held by ``lease_owner``. ``attempt`` counts the
    leases taken on the key and ``releases`` the leases their owner ended early (after a
    failed or refused effect), so ``takeovers`` tells the leases that ran out mid-invocation
    and were taken over from the clean retries after a release.
    """

    id: str
    status: RecordStatus
    payload_hash: str
    expiration: int
    updated_at_ms: int
    message_id: str
    lease_owner: str | None = None
    lease_expiry_ms: int | None = None
    attempt: int = 1
    previous_owner: str | None = None
    releases: int = 0

    @property
    def takeovers(self) -> int:
        """Leases on this key that ran out while held and were taken by another attempt."""
        return max(self.attempt - 1 - self.releases, 0)

    def to_item(self) -> dict[str, dict[str, str]]:
        item: dict[str, dict[str, str]] = {
            ID: {"S": self.id},
            STATUS: {"S": self.status.value},
            PAYLOAD_HASH: {"S": self.payload_hash},
            EXPIRATION: {"N": str(self.expiration)},
            UPDATED_AT_MS: {"N": str(self.updated_at_ms)},
            MESSAGE_ID: {"S": self.message_id},
            ATTEMPT: {"N": str(self.attempt)},
        }
        if self.lease_owner is not None:
            item[LEASE_OWNER] = {"S": self.lease_owner}
        if self.lease_expiry_ms is not None:
            item[LEASE_EXPIRY_MS] = {"N": str(self.lease_expiry_ms)}
        if self.previous_owner is not None:
            item[PREVIOUS_OWNER] = {"S": self.previous_owner}
        if self.releases:
            item[RELEASES] = {"N": str(self.releases)}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> IdempotencyRecord:
        def number(name: str) -> int | None:
            return int(item[name]["N"]) if name in item else None

        def string(name: str) -> str | None:
            return str(item[name]["S"]) if name in item else None

        return cls(
            id=item[ID]["S"],
            status=RecordStatus(item[STATUS]["S"]),
            payload_hash=string(PAYLOAD_HASH) or "",
            expiration=number(EXPIRATION) or 0,
            updated_at_ms=number(UPDATED_AT_MS) or 0,
            message_id=string(MESSAGE_ID) or "",
            lease_owner=string(LEASE_OWNER),
            lease_expiry_ms=number(LEASE_EXPIRY_MS),
            attempt=number(ATTEMPT) or 1,
            previous_owner=string(PREVIOUS_OWNER),
            releases=number(RELEASES) or 0,
        )
