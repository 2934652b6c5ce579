"""The local poller applies partial batch responses as Lambda's event source mapping does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from exactly_once_local.poller import Poller
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


@pytest.fixture
def patient_queues(aws: None) -> Iterator[LedgerResources]:
    """Messages held while a batch gathers stay invisible for the whole test."""
    with mock_aws():
        yield create_ledger_resources(visibility_timeout=300)


class RecordsBatches:
    """A handler that keeps the size of each batch it is given and fails nothing."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.batch_sizes.append(len(event["Records"]))
        return {"batchItemFailures": []}


def send(queues: LedgerResources, count: int) -> None:
    for start in range(0, count, 10):
        queues.sqs.send_message_batch(
            QueueUrl=queues.queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"n": i, "fail": False})}
                for i in range(start, min(start + 10, count))
            ],
        )


def poller_for(queues: LedgerResources, handler: RecordsBatches, **settings: Any) -> Poller:
    return Poller(
        sqs=queues.sqs,
        queue_url=queues.queue_url,
        queue_arn=queues.queue_arn,
        handler_factory=lambda worker: handler,
        concurrency=1,
        **settings,
    )


def test_a_batch_size_beyond_ten_is_gathered_over_several_receives(
    patient_queues: LedgerResources,
) -> None:
    queues = patient_queues
    # GIVEN 25 messages and a mapping with batch size 25 (SQS returns at most 10 a receive)
    send(queues, 25)
    handler = RecordsBatches()
    # WHEN the poller drains the queue
    poller_for(queues, handler, batch_size=25, batching_window_seconds=5).drain(30)
    # THEN one invocation got all 25
    assert handler.batch_sizes == [25]


def test_the_batching_window_waits_for_messages_sent_after_the_first(
    patient_queues: LedgerResources,
) -> None:
    queues = patient_queues
    # GIVEN a mapping with batch size 6 and a long batching window, and 3 messages
    handler = RecordsBatches()
    poller = poller_for(queues, handler, batch_size=6, batching_window_seconds=60)
    send(queues, 3)
    stop = threading.Event()
    worker = threading.Thread(target=poller.run_until, args=(stop,), daemon=True)
    worker.start()
    try:
        # WHEN 3 more arrive once the poller holds the first 3 (in flight, not invoked)
        deadline = time.monotonic() + 60
        while in_flight(queues) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not handler.batch_sizes, "invoked before the window closed or the batch filled"
        send(queues, 3)
        while not handler.batch_sizes and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join()
    # THEN one invocation carries all 6: the batch filled before the window ended
    assert handler.batch_sizes == [6]


def in_flight(queues: LedgerResources) -> int:
    attributes = queues.sqs.get_queue_attributes(
        QueueUrl=queues.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


class FlakyReceives:
    """An SQS client whose first ``fail`` receives are refused (a throttled endpoint)."""

    def __init__(self, sqs: Any, fail: int) -> None:
        self._sqs = sqs
        self.fail = fail

    def receive_message(self, **kwargs: Any) -> Any:
        if self.fail:
            self.fail -= 1
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "Receive")
        return self._sqs.receive_message(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)


def test_a_refused_receive_is_reported_and_polling_goes_on(queues: LedgerResources) -> None:
    # GIVEN a message, and an endpoint that refuses the first two receives
    queues.sqs.send_message(QueueUrl=queues.queue_url, MessageBody=json.dumps({"fail": False}))
    handler, lines = FailsSome(), []
    poller = Poller(
        sqs=FlakyReceives(queues.sqs, fail=2),
        queue_url=queues.queue_url,
        queue_arn=queues.queue_arn,
        handler_factory=lambda worker: handler,
        concurrency=1,
        on_batch=lines.append,
    )
    # WHEN the poller drains the queue
    poller.drain(deadline_seconds=30)
    # THEN the worker said why it waited, kept polling, and the message was processed once
    assert [line for line in lines if "receive failed" in line][:2] == [
        "receive failed, polling again: An error occurred (Throttling) when calling the "
        "Receive operation: slow down"
    ] * 2
    assert [count for _, count in handler.seen] == [1]
    assert poller.stats.deleted == 1
