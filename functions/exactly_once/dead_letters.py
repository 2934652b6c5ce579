"""Moving invalid and conflicting messages to the DLQ, before they count as a success.

The consumer sends them itself (rather than failing them until SQS's redrive policy moves
them) so they reach the DLQ at once, with the reason attached; SQS's redrive carries no
reason and would retry a message that can never succeed.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from .messages import Decision, group_id_of
from .outcomes import Outcome

REASON = "exactly_once.reason"
OUTCOME = "exactly_once.outcome"
SOURCE_MESSAGE_ID = "exactly_once.source_message_id"
RECORD_ID = "exactly_once.record_id"
_OWN_ATTRIBUTES = 4
_MAX_ATTRIBUTES = 10  # SQS's limit per message
_MAX_REASON_CHARS = 1000
_SEND_BATCH = 10  # SendMessageBatch's limit


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def _carry_over(attributes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The source message's own attributes, in SendMessage's shape (the event's is camelCase)."""
    carried: dict[str, dict[str, Any]] = {}
    for name, attribute in sorted(attributes.items()):
        if len(carried) >= _MAX_ATTRIBUTES - _OWN_ATTRIBUTES or name.startswith("exactly_once."):
            continue
        data_type = attribute.get("dataType", "String")
        if attribute.get("stringValue") is not None:
            carried[name] = {"DataType": data_type, "StringValue": attribute["stringValue"]}
        elif attribute.get("binaryValue") is not None:
            binary = attribute["binaryValue"]
            raw = base64.b64decode(binary) if isinstance(binary, str) else binary
            carried[name] = {"DataType": data_type, "BinaryValue": raw}
    return carried


def dead_letter_entry(
    record: Mapping[str, Any], decision: Decision, entry_id: str
) -> dict[str, Any]:
    """A SendMessageBatch entry: the body untouched, the reason in message attributes."""
    attributes = _carry_over(record.get("messageAttributes") or {})
    attributes[REASON] = _string(decision.reason[:_MAX_REASON_CHARS] or decision.outcome.value)
    attributes[OUTCOME] = _string(decision.outcome.value)
    attributes[SOURCE_MESSAGE_ID] = _string(record["messageId"])
    if decision.record_id:
        attributes[RECORD_ID] = _string(decision.record_id)
    entry: dict[str, Any] = {
        "Id": entry_id,
        "MessageBody": record.get("body", ""),
        "MessageAttributes": attributes,
    }
    group_id = group_id_of(record)
    if group_id is not None:
        entry["MessageGroupId"] = group_id
        entry["MessageDeduplicationId"] = record["messageId"]
    return entry


class DeadLetterQueue:
    """Sends dead letters in batches of ten; a failed send turns the decision into a retry."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.queue_url = queue_url

    def settle(
        self, records: Sequence[Mapping[str, Any]], decisions: dict[str, Decision]
    ) -> dict[str, Decision]:
        """Send every DLQ-bound message; return the decisions with failed sends as FAILED."""
        bound = [r for r in records if decisions[r["messageId"]].outcome.goes_to_dead_letter]
        settled = dict(decisions)
        for start in range(0, len(bound), _SEND_BATCH):
            chunk = bound[start : start + _SEND_BATCH]
            entries = [
                dead_letter_entry(record, decisions[record["messageId"]], str(index))
                for index, record in enumerate(chunk)
            ]
            failed: dict[str, str] = {}
            try:
                response = self._client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
                for failure in response.get("Failed", []):
                    failed[chunk[int(failure["Id"])]["messageId"]] = failure.get("Message", "")
            except Exception as exc:  # noqa: BLE001 - any failure to send means "not moved"
                failed = {record["messageId"]: repr(exc) for record in chunk}
            for message_id, why in failed.items():
                previous = decisions[message_id]
                settled[message_id] = Decision(
                    Outcome.FAILED,
                    record_id=previous.record_id,
                    reason=f"could not move to the DLQ ({previous.reason}): {why}",
                )
        return settled
