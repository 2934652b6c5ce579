"""The idempotency table: records in, records out, every time rule inside a condition.

An adapter only: the decisions are in ``protocol.py``. Each condition below is
``protocol.classify`` written for DynamoDB, evaluated against the same ``now``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from . import records as r
from .errors import LeaseLost
from .protocol import now_millis, now_seconds
from .records import IdempotencyRecord, RecordStatus
from .values import Value

_NAMES = {
    "#id": r.ID,
    "#exp": r.EXPIRATION,
    "#status": r.STATUS,
    "#lease": r.LEASE_EXPIRY_MS,
    "#owner": r.LEASE_OWNER,
}

# Absent, or past retention (TTL may not have deleted it yet), or an INPROGRESS lease that
# has run out: `protocol.classify` returns CLAIMABLE for exactly these.
CLAIMABLE_CONDITION = (
    "attribute_not_exists(#id) OR attribute_not_exists(#exp) OR #exp < :now_s OR "
    "(#status = :inprogress AND (attribute_not_exists(#lease) OR #lease < :now_ms))"
)

# Fencing: only the invocation that holds the lease may complete or release it.
OWNER_CONDITION = "#status = :inprogress AND #owner = :owner"


def _claimable_values(now: float) -> dict[str, dict[str, str]]:
    return {
        ":now_s": {"N": str(now_seconds(now))},
        ":now_ms": {"N": str(now_millis(now))},
        ":inprogress": {"S": RecordStatus.INPROGRESS.value},
    }


def _names(*placeholders: str) -> dict[str, str]:
    return {p: _NAMES[p] for p in placeholders}


def is_condition_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class Claim(Value):
    """The result of trying to take a key: who held it before, if anyone."""

    won: bool
    existing: IdempotencyRecord | None


class IdempotencyStore:
    """Reads and conditional writes of idempotency records through a DynamoDB client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    # --- atomic mode: a transaction item, committed with the effect -------------------

    def completed_put(self, record: IdempotencyRecord, now: float) -> dict[str, Any]:
        """A ``TransactItems`` entry that writes ``record`` if its key is claimable."""
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": record.to_item(),
                "ConditionExpression": CLAIMABLE_CONDITION,
                "ExpressionAttributeNames": _names("#id", "#exp", "#status", "#lease"),
                "ExpressionAttributeValues": _claimable_values(now),
                # A failed condition hands back the record: no second read for duplicates.
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    # --- leased mode ----------------------------------------------------------------

    def acquire(self, record: IdempotencyRecord, now: float) -> Claim:
        """Take the key with an INPROGRESS ``record`` if claimable; else return what holds it.

        An update rather than a put, so that one request also counts the attempt and keeps
        the owner it displaces: ``attempt`` > 1 afterwards says an earlier lease on this
        key ran out (or its record expired) and another invocation took over.
        """
        fields = {
            "#status": (r.STATUS, record.status.value, "S"),
            "#hash": (r.PAYLOAD_HASH, record.payload_hash, "S"),
            "#exp": (r.EXPIRATION, str(record.expiration), "N"),
            "#updated": (r.UPDATED_AT_MS, str(record.updated_at_ms), "N"),
            "#message": (r.MESSAGE_ID, record.message_id, "S"),
            "#owner": (r.LEASE_OWNER, record.lease_owner or "", "S"),
            "#lease": (r.LEASE_EXPIRY_MS, str(record.lease_expiry_ms or 0), "N"),
        }
        assignments = ", ".join(f"{name} = :v{index}" for index, name in enumerate(fields))
        values = {
            f":v{index}": {kind: value} for index, (_, value, kind) in enumerate(fields.values())
        }
        try:
            response = self._client.update_item(
                TableName=self.table_name,
                Key={r.ID: {"S": record.id}},
                # Right-hand sides read the item as it was: the displaced owner is kept.
                UpdateExpression=(
                    "SET #previous = if_not_exists(#owner, :none), "
                    "#attempt = if_not_exists(#attempt, :zero) + :one, " + assignments
                ),
                ConditionExpression=CLAIMABLE_CONDITION,
                ExpressionAttributeNames={
                    **{name: attribute for name, (attribute, _, _) in fields.items()},
                    "#id": r.ID,
                    "#previous": r.PREVIOUS_OWNER,
                    "#attempt": r.ATTEMPT,
                },
                ExpressionAttributeValues={
                    **_claimable_values(now),
                    **values,
                    ":none": {"S": "none"},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            item = exc.response.get("Item")
            return Claim(won=False, existing=IdempotencyRecord.from_item(item) if item else None)
        old = response.get("Attributes")
        return Claim(won=True, existing=IdempotencyRecord.from_item(old) if old else None)

    def complete(self, record_id: str, owner: str, now: float) -> None:
        """Mark the record COMPLETED, only if ``owner`` still holds its lease."""
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={r.ID: {"S": record_id}},
                UpdateExpression="SET #status = :completed, #updated = :now_ms REMOVE #lease",
                ConditionExpression=OWNER_CONDITION,
                ExpressionAttributeNames={
                    **_names("#status", "#owner", "#lease"),
                    "#updated": r.UPDATED_AT_MS,
                },
                ExpressionAttributeValues={
                    ":completed": {"S": RecordStatus.COMPLETED.value},
                    ":inprogress": {"S": RecordStatus.INPROGRESS.value},
                    ":owner": {"S": owner},
                    ":now_ms": {"N": str(now_millis(now))},
                },
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise LeaseLost(f"lease on {record_id} is no longer held by {owner}") from exc
            raise

    def release(self, record_id: str, owner: str, now: float) -> None:
        """End the lease now after a failed effect, only if ``owner`` still holds it.

        The record stays (with its ``attempt`` count): the next delivery takes the key over
        at once, and the count still says how many attempts the key has seen.
        """
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={r.ID: {"S": record_id}},
                # Counted: the next attempt is then a retry, not a takeover.
                UpdateExpression="SET #lease = :ended, #updated = :now_ms ADD #releases :one",
                ConditionExpression=OWNER_CONDITION,
                ExpressionAttributeNames={
                    **_names("#status", "#owner", "#lease"),
                    "#updated": r.UPDATED_AT_MS,
                    "#releases": r.RELEASES,
                },
                ExpressionAttributeValues={
                    ":inprogress": {"S": RecordStatus.INPROGRESS.value},
                    ":owner": {"S": owner},
                    ":ended": {"N": str(now_millis(now) - 1)},
                    ":now_ms": {"N": str(now_millis(now))},
                    ":one": {"N": "1"},
                },
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise LeaseLost(f"lease on {record_id} is no longer held by {owner}") from exc
            raise

    # --- reads (support and tests) ------------------------------------------------------

    def get(self, record_id: str) -> IdempotencyRecord | None:
        item = self._client.get_item(
            TableName=self.table_name, Key={r.ID: {"S": record_id}}, ConsistentRead=True
        ).get("Item")
        return IdempotencyRecord.from_item(item) if item else None
