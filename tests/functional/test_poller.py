"""The local poller applies partial batch responses as Lambda's event source mapping does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from pipeline.poller import Poller
from pipeline.resources import LedgerResources, create_ledger_resources


class FailsSome:
    """A handler that reports the messages whose body says "fail" as item failures."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        self.last_decisions: dict[str, Any] = {}

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            self.seen.append((record["body"], int(record["attributes"]["ApproximateReceiveCount"])))
            if json.loads(record["body"])["fail"]:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}


@pytest.fixture
def queues(aws: None) -> Iterator[LedgerResources]:
    with mock_aws():
        yield create_ledger_resources(visibility_timeout=1, max_receive_count=2)


def test_only_failures_come_back_and_land_in_the_dlq_after_max_receive_count(
    queues: LedgerResources,
) -> None:
    # GIVEN two good messages and one the handler always fails
    for index, fail in enumerate((False, True, False)):
        queues.sqs.send_message(
            QueueUrl=queues.queue_url, MessageBody=json.dumps({"n": index, "fail": fail})
        )
    handler = FailsSome()
    poller = Poller(
        sqs=queues.sqs,
        queue_url=queues.queue_url,
        queue_arn=queues.queue_arn,
        handler_factory=lambda worker: handler,
        concurrency=1,
    )
    # WHEN the poller drains the queue
    poller.drain(deadline_seconds=30)
    # THEN the good ones were delivered once; the failing one came back until
    # maxReceiveCount (2), then SQS moved it to the DLQ, untouched
    deliveries: dict[str, list[int]] = {}
    for body, count in handler.seen:
        deliveries.setdefault(body, []).append(count)
    good = [counts for body, counts in deliveries.items() if '"fail": false' in body]
    [bad] = [counts for body, counts in deliveries.items() if '"fail": true' in body]
    assert good == [[1], [1]]
    assert bad == [1, 2]
    [dead] = queues.dead_letters()
    assert json.loads(dead["Body"]) == {"n": 1, "fail": True}
    assert poller.stats.deleted == 2
