"""A redrive leaves in the DLQ what its idempotency record may no longer protect."""

from __future__ import annotations

import time

import boto3
import pytest
from moto import mock_aws

from pipeline.ops.dlq import RETENTION_MARGIN_SECONDS, past_retention_cutoff_ms, redrive_by_hand

pytestmark = pytest.mark.usefixtures("aws")
DAY_MS = 86_400_000


def test_the_cutoff_is_the_retention_minus_a_day_before_now() -> None:
    now = 1_800_000_000_000
    retention = 19 * 86_400
    cutoff = past_retention_cutoff_ms({"IDEMPOTENCY_RETENTION_SECONDS": str(retention)}, now)
    assert cutoff == now - (retention - RETENTION_MARGIN_SECONDS) * 1000 == now - 18 * DAY_MS
    assert past_retention_cutoff_ms({}, now) is None


@pytest.mark.parametrize("past_retention", [True, False])
def test_messages_older_than_the_retention_stay_in_the_dlq_unless_asked(
    past_retention: bool,
) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        source = sqs.create_queue(QueueName="source")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        for body in ("a", "b"):
            sqs.send_message(QueueUrl=dlq, MessageBody=body)
        now_ms = int(time.time() * 1000) + 1000
        # GIVEN a cutoff after both were sent: both are "first sent too long ago"
        result = redrive_by_hand(
            sqs,
            dlq,
            source,
            started_ms=now_ms,
            limit=100,
            wait_seconds=0,
            sent_after_ms=None if past_retention else now_ms,
        )
        in_source = sqs.get_queue_attributes(
            QueueUrl=source, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        in_dlq = sqs.get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        if past_retention:  # told to move them anyway
            assert (result.moved, in_source, in_dlq) == (2, "2", "0")
        else:  # THEN both are listed with their age and left where they are
            assert (result.moved, in_source, in_dlq) == (0, "0", "2")
            assert len(result.past_retention) == 2
