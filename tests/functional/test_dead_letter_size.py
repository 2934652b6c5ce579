"""Large bodies on their way to the DLQ: SQS's size limits, and nothing lost at the edge.

SQS (since August 2025) takes messages of up to 1 MiB, counting the body and every
message attribute's name, type and value, and SendMessageBatch requests whose messages
add up to at most 1 MiB. moto 5.2.5 checks the same 1 MiB but counts body characters
only (attributes are free), per message and per batch. Before the DLQ sends were packed
by size, a batch holding five invalid 256 KiB bodies failed as a whole
(``BatchRequestTooLong``) and every dead letter in it became an item failure, to be
retried until SQS's redrive moved it without its reason.
"""

from __future__ import annotations

import json
from typing import Any

from exactly_once.dead_letters import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, entry_size
from exactly_once_local.events import from_received
from tests.support.aws import LedgerResources, create_ledger_resources
from tests.support.ledger import LedgerHarness, build_harness, failed_ids, transaction

KIB = 1024


def _spy_on_dlq_sends(resources: LedgerResources) -> list[list[dict[str, Any]]]:
    """Every SendMessageBatch request's entries, as the client sends them."""
    sent: list[list[dict[str, Any]]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(list(params["Entries"]))

    resources.sqs.meta.events.register("provide-client-params.sqs.SendMessageBatch", record)
    return sent


def _padded(transaction_id: str, size: int) -> str:
    """An invalid transaction (an unknown field) whose body is ``size`` bytes."""
    head = json.dumps({**transaction(transaction_id), "pad": ""})
    return head[:-2] + "x" * (size - len(head)) + '"}'


def test_a_batch_of_256_kib_bodies_reaches_the_dlq_with_reasons(
    ledger: LedgerHarness, resources: LedgerResources
) -> None:
    # GIVEN ten messages: five invalid 256 KiB bodies and five valid transactions
    sent = _spy_on_dlq_sends(resources)
    big = [_padded(f"tx-big-{i}", 256 * KIB) for i in range(5)]
    assert all(len(body.encode()) == 256 * KIB for body in big)
    good = [transaction(f"tx-ok-{i}", account_id="acct-big", amount="1.00") for i in range(5)]
    records = ledger.records(*[m for pair in zip(big, good, strict=True) for m in pair])
    # WHEN they arrive in one batch
    response = ledger.invoke_records(records)
    # THEN nothing is retried: the valid are applied, the invalid dead-lettered with reasons
    assert response == {"batchItemFailures": []}
    assert resources.balance("acct-big") == 500
    dead = resources.dead_letters()
    assert sorted(m["Body"] for m in dead) == sorted(big)
    for message in dead:
        reason = message["MessageAttributes"]["exactly_once.reason"]["StringValue"]
        assert "has fields other than" in reason
    # AND the sends were split so that no request passes SQS's limits
    assert len(sent) >= 2
    for entries in sent:
        assert sum(entry_size(e) for e in entries) <= MAX_BATCH_BYTES
        assert len(entries) <= 10


def test_carried_attributes_are_dropped_when_only_the_reason_fits(
    ledger: LedgerHarness, resources: LedgerResources
) -> None:
    # GIVEN a body and a producer's attribute that fit SQS together, but not with the reason
    carried_value = "v" * 1000
    body = _padded("tx-near-limit", MAX_MESSAGE_BYTES - 1200)
    [record] = ledger.records(body)
    record["messageAttributes"] = {
        "trace": {"stringValue": carried_value, "dataType": "String"},
    }
    sent = _spy_on_dlq_sends(resources)
    # WHEN it is dead-lettered
    response = ledger.invoke_records([record])
    # THEN it reaches the DLQ with its reason and without the producer's attribute
    assert response == {"batchItemFailures": []}
    [[entry]] = sent
    assert set(entry["MessageAttributes"]) == {
        "exactly_once.reason",
        "exactly_once.outcome",
        "exactly_once.source_message_id",
        "exactly_once.record_id",
    }
    assert entry_size(entry) <= MAX_MESSAGE_BYTES
    [dead] = resources.dead_letters()
    assert dead["Body"] == body


def test_a_body_too_large_for_its_reason_is_retried_then_redriven_by_sqs(
    resources: LedgerResources, clock: Any
) -> None:
    # GIVEN a source queue that dead-letters after one receive, and a 1 MiB - 50 B body
    # that SQS accepts but that cannot carry the reason attributes within 1 MiB
    strict = create_ledger_resources(max_receive_count=1)
    ledger = build_harness(strict, clock)
    body = _padded("tx-huge", MAX_MESSAGE_BYTES - 50)
    strict.sqs.send_message(QueueUrl=strict.queue_url, MessageBody=body)
    [message] = strict.sqs.receive_message(
        QueueUrl=strict.queue_url, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    # WHEN the consumer handles it
    response = ledger.invoke_records([from_received(message, strict.queue_arn)])
    # THEN it is an item failure, not a success: it stays in the source queue
    assert failed_ids(response) == {message["MessageId"]}
    decision = ledger.handler.last_decisions[message["MessageId"]]
    assert decision.outcome.value == "failed"
    assert "left to the queue's redrive policy" in decision.reason
    assert strict.dead_letters() == []
    # AND SQS's redrive moves it to the DLQ on the next receive, body untouched, no reason
    strict.sqs.change_message_visibility(
        QueueUrl=strict.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    assert strict.sqs.receive_message(QueueUrl=strict.queue_url).get("Messages", []) == []
    [dead] = strict.dead_letters()
    assert dead["Body"] == body
    assert "exactly_once.reason" not in dead.get("MessageAttributes", {})
