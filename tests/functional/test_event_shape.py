"""The local poller's events have the shape AWS documents for SQS -> Lambda."""

from __future__ import annotations

import hashlib

from aws_lambda_powertools.utilities.parser.models import SqsModel

from exactly_once_local.events import from_received, sqs_event
from tests.support.aws import LedgerResources

# AWS's documented example (Lambda developer guide, "Using Lambda with Amazon SQS").
DOCUMENTED_RECORD = {
    "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
    "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
    "body": "Test message.",
    "attributes": {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1545082649183",
        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
        "ApproximateFirstReceiveTimestamp": "1545082649185",
    },
    "messageAttributes": {},
    "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
    "eventSource": "aws:sqs",
    "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
    "awsRegion": "us-east-2",
}


def received(resources: LedgerResources, body: str, **kwargs: object) -> dict[str, object]:
    resources.sqs.send_message(QueueUrl=resources.queue_url, MessageBody=body, **kwargs)
    [message] = resources.sqs.receive_message(
        QueueUrl=resources.queue_url,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
        MaxNumberOfMessages=1,
    )["Messages"]
    return from_received(message, resources.queue_arn)


def test_a_received_message_becomes_a_record_shaped_like_the_documented_one(
    resources: LedgerResources,
) -> None:
    record = received(resources, "Test message.")
    assert set(record) - {"md5OfMessageAttributes"} == set(DOCUMENTED_RECORD)
    assert set(record["attributes"]) == set(DOCUMENTED_RECORD["attributes"])  # type: ignore[arg-type]
    assert all(isinstance(v, str) for v in record["attributes"].values())  # type: ignore[attr-defined]
    assert record["md5OfBody"] == DOCUMENTED_RECORD["md5OfBody"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == resources.queue_arn
    assert record["awsRegion"] == resources.queue_arn.split(":")[3]


def test_message_attributes_take_the_event_form(resources: LedgerResources) -> None:
    record = received(
        resources,
        "{}",
        MessageAttributes={"producer": {"DataType": "String", "StringValue": "p-1"}},
    )
    attribute = record["messageAttributes"]["producer"]  # type: ignore[index]
    assert attribute["dataType"] == "String" and attribute["stringValue"] == "p-1"
    assert record["md5OfBody"] == hashlib.md5(b"{}").hexdigest()


def test_the_event_validates_against_powertools_sqs_model(resources: LedgerResources) -> None:
    event = sqs_event(received(resources, '{"a": 1}'))
    parsed = SqsModel.model_validate(event)
    assert parsed.Records[0].body == '{"a": 1}'
    assert SqsModel.model_validate({"Records": [DOCUMENTED_RECORD]})
