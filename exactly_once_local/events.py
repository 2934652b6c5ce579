"""SQS messages as Lambda's event source mapping hands them to a function.

Shape per AWS's documented SQS event (Lambda developer guide, "Using Lambda with Amazon
SQS"): camelCase record keys, string-valued ``attributes``, camelCase message attributes.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping
from typing import Any


def _lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """A ReceiveMessage attribute (PascalCase) in the event's camelCase form."""
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": binary,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value.get("DataType", "String"),
    }


def lambda_record(
    *,
    body: str,
    queue_arn: str,
    message_id: str | None = None,
    receipt_handle: str | None = None,
    receive_count: int = 1,
    sent_timestamp_ms: int | None = None,
    first_receive_timestamp_ms: int | None = None,
    message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    sequence_number: str | None = None,
    sender_id: str = "AIDAIENQZJOLO23YVJ4VO",
    md5_of_message_attributes: str | None = None,
) -> dict[str, Any]:
    """One record of an SQS event, from the fields of a received message."""
    now_ms = int(time.time() * 1000)
    sent = sent_timestamp_ms if sent_timestamp_ms is not None else now_ms
    attributes: dict[str, str] = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": str(sent),
        "SenderId": sender_id,
        "ApproximateFirstReceiveTimestamp": str(
            first_receive_timestamp_ms if first_receive_timestamp_ms is not None else now_ms
        ),
    }
    if group_id is not None:
        attributes["MessageGroupId"] = group_id
        attributes["MessageDeduplicationId"] = (
            deduplication_id or hashlib.sha256(body.encode()).hexdigest()
        )
        attributes["SequenceNumber"] = sequence_number or str(now_ms * 1000)
    record: dict[str, Any] = {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt_handle or uuid.uuid4().hex,
        "body": body,
        "attributes": attributes,
        "messageAttributes": {
            name: _lambda_attribute(value) for name, value in (message_attributes or {}).items()
        },
        "md5OfBody": hashlib.md5(body.encode("utf-8")).hexdigest(),  # noqa: S324 - SQS's checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
    if md5_of_message_attributes:
        record["md5OfMessageAttributes"] = md5_of_message_attributes
    return record


def from_received(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """A record from a ReceiveMessage result (asked with all attributes and message attributes)."""
    attributes = message.get("Attributes", {})
    return lambda_record(
        body=message["Body"],
        queue_arn=queue_arn,
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
        sent_timestamp_ms=int(attributes["SentTimestamp"])
        if "SentTimestamp" in attributes
        else None,
        first_receive_timestamp_ms=(
            int(attributes["ApproximateFirstReceiveTimestamp"])
            if "ApproximateFirstReceiveTimestamp" in attributes
            else None
        ),
        message_attributes=message.get("MessageAttributes"),
        group_id=attributes.get("MessageGroupId"),
        deduplication_id=attributes.get("MessageDeduplicationId"),
        sequence_number=attributes.get("SequenceNumber"),
        sender_id=attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
        md5_of_message_attributes=message.get("MD5OfMessageAttributes"),
    )


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}
