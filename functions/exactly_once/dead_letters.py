"""Moving invalid and conflicting messages to the DLQ, before they count as a success.

The consumer sends them itself (rather than failing them until SQS's redrive policy moves
them) so they reach the DLQ at once, with the reason attached; SQS's redrive carries no
reason and would retry a message that can never succeed.
"""

from __future__ import annotations

import base64
import functools
import re
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
_SEND_BATCH = 10


@functools.cache
def _sqs_unsafe() -> re.Pattern[str]:
    """Characters SQS refuses in a string attribute: a reason must never fail the send.
    Compiled at the first dead letter, not at import: about 6 ms of every cold start."""
    return re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# SQS's size limits since August 2025 (were 256 KiB): one message, counting its body and
# every attribute's name, type and value, and the sum of a SendMessageBatch's messages.
MAX_MESSAGE_BYTES = 1_048_576
MAX_BATCH_BYTES = 1_048_576


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
    record: Mapping[str, Any], decision: Decision, entry_id: str, *, fifo: bool | None = None
) -> dict[str, Any]:
    """A SendMessageBatch entry: the body untouched, the reason in message attributes.

    ``fifo``: the DLQ is a FIFO queue (default: when the source record carries a group id).
    Only then do the group id and a deduplication id go along: SQS takes
    ``MessageDeduplicationId`` on FIFO queues only, and a standard queue's messages may
    carry a group id (fair queues) while its DLQ is standard too.
    """
    attributes = _carry_over(record.get("messageAttributes") or {})
    reason = _sqs_unsafe().sub("?", decision.reason[:_MAX_REASON_CHARS])
    attributes[REASON] = _string(reason or decision.outcome.value)
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
    if fifo is None:
        fifo = group_id is not None
    if fifo and group_id is not None:
        entry["MessageGroupId"] = group_id
        entry["MessageDeduplicationId"] = record["messageId"]
    return entry


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as SQS counts it: body, and each attribute's name, type and value."""
    size = len(str(entry.get("MessageBody", "")).encode("utf-8"))
    for name, attribute in (entry.get("MessageAttributes") or {}).items():
        size += len(name.encode("utf-8")) + len(str(attribute.get("DataType", "")).encode())
        if attribute.get("StringValue") is not None:
            size += len(str(attribute["StringValue"]).encode("utf-8"))
        elif attribute.get("BinaryValue") is not None:
            size += len(attribute["BinaryValue"])
    return size


def _fitted(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The entry within SQS's message size, dropping carried-over attributes if need be.

    None when even the body with the reason attributes alone is too large: such a
    message cannot reach the DLQ with its reason, and is failed instead (SQS's redrive
    moves it after maxReceiveCount, without the reason; nothing is lost).
    """
    if entry_size(entry) <= MAX_MESSAGE_BYTES:
        return entry
    own = {k: v for k, v in entry["MessageAttributes"].items() if k.startswith("exactly_once.")}
    slim = {**entry, "MessageAttributes": own}
    return slim if entry_size(slim) <= MAX_MESSAGE_BYTES else None


def packed(entries: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Entries in order, in batches within SendMessageBatch's count and total size."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    current_bytes = 0
    for entry in entries:
        size = entry_size(entry)
        if current and (len(current) >= _SEND_BATCH or current_bytes + size > MAX_BATCH_BYTES):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(entry)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


class DeadLetterQueue:
    """Sends dead letters in batches within SQS's limits; a failed send turns into a retry."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")

    def settle(
        self, records: Sequence[Mapping[str, Any]], decisions: dict[str, Decision]
    ) -> dict[str, Decision]:
        """Send every DLQ-bound message; return the decisions with failed sends as FAILED."""
        bound = [r for r in records if decisions[r["messageId"]].outcome.goes_to_dead_letter]
        settled = dict(decisions)
        failed: dict[str, str] = {}
        by_entry_id: dict[str, str] = {}
        entries: list[dict[str, Any]] = []
        for index, record in enumerate(bound):
            message_id = record["messageId"]
            entry = _fitted(
                dead_letter_entry(record, decisions[message_id], str(index), fifo=self.fifo)
            )
            if entry is None:
                failed[message_id] = (
                    f"body and reason exceed SQS's {MAX_MESSAGE_BYTES} bytes; left to the "
                    "queue's redrive policy"
                )
                continue
            by_entry_id[entry["Id"]] = message_id
            entries.append(entry)
        for chunk in packed(entries):
            try:
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=chunk)
                for failure in response.get("Failed", []):
                    failed[by_entry_id[failure["Id"]]] = failure.get("Message", "")
            except Exception as exc:  # noqa: BLE001 - any failure to send means "not moved"
                failed.update({by_entry_id[entry["Id"]]: repr(exc) for entry in chunk})
        for message_id, why in failed.items():
            previous = decisions[message_id]
            settled[message_id] = Decision(
                Outcome.FAILED,
                record_id=previous.record_id,
                reason=f"could not move to the DLQ ({previous.reason}): {why}",
            )
        return settled
