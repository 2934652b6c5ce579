"""Every outcome of the protocol table, through the real Lambda handler module."""

from __future__ import annotations

import json
import logging
import sys
from types import ModuleType
from typing import Any

import pytest

from exactly_once_local.events import lambda_record, sqs_event
from exactly_once_local.lambda_context import LocalLambdaContext
from tests.support.aws import LedgerResources
from tests.support.ledger import failed_ids, ledger_payload_hash, transaction


def invoke(module: ModuleType, resources: LedgerResources, *bodies: Any) -> tuple[dict, list]:
    records = [
        lambda_record(
            body=b if isinstance(b, str) else json.dumps(b), queue_arn=resources.queue_arn
        )
        for b in bodies
    ]
    context = LocalLambdaContext(clock=_WallClock())
    response = module.lambda_handler(sqs_event(*records), context)
    return response, records


class _WallClock:
    def now(self) -> float:
        import time

        return time.time()


def test_new_message_is_processed(handler_module: ModuleType, resources: LedgerResources) -> None:
    response, _ = invoke(handler_module, resources, transaction(account_id="a", amount="12.34"))
    assert response == {"batchItemFailures": []}
    assert resources.balance("a") == 1234


def test_same_transaction_with_a_new_message_id_has_no_second_effect(
    handler_module: ModuleType, resources: LedgerResources
) -> None:
    # GIVEN a transaction processed once
    t = transaction(account_id="a", amount="5.00")
    invoke(handler_module, resources, t)
    # WHEN the producer retries it (a new messageId, same transaction_id)
    response, _ = invoke(handler_module, resources, t)
    # THEN SQS is told "success" and the balance moved once
    assert response == {"batchItemFailures": []}
    assert resources.balance("a") == 500
    assert resources.applied_count("a") == 1


def test_duplicate_within_one_batch_is_applied_once(
    handler_module: ModuleType, resources: LedgerResources
) -> None:
    t = transaction(account_id="a", amount="1.00")
    response, _ = invoke(handler_module, resources, t, t, t)
    assert response == {"batchItemFailures": []}
    assert resources.balance("a") == 100


def test_conflicting_payload_goes_to_the_dlq_with_its_reason(
    handler_module: ModuleType, resources: LedgerResources
) -> None:
    # GIVEN a processed transaction
    t = transaction(account_id="a", amount="5.00")
    invoke(handler_module, resources, t)
    # WHEN its id comes back with another amount
    changed = dict(t, amount="500.00")
    response, records = invoke(handler_module, resources, changed)
    # THEN it is moved to the DLQ, body untouched, reason attached, and reported a success
    assert response == {"batchItemFailures": []}
    assert resources.balance("a") == 500
    [dead] = resources.dead_letters()
    assert dead["Body"] == records[0]["body"]
    attributes = dead["MessageAttributes"]
    assert attributes["exactly_once.outcome"]["StringValue"] == "conflict"
    assert "different payload" in attributes["exactly_once.reason"]["StringValue"]
    assert attributes["exactly_once.source_message_id"]["StringValue"] == records[0]["messageId"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "not JSON"),
        ("[]", "not an object"),
        (json.dumps({"account_id": "a", "amount": "1.00", "currency": "EUR"}), "key missing"),
        (json.dumps(transaction("tx-bad-amount", amount="1.001")), "EUR has 2 decimal places"),
        (json.dumps(transaction("tx-bad-currency", currency="XXX")), "currency: must be an ISO"),
    ],
)
def test_invalid_message_goes_to_the_dlq_and_the_rest_of_the_batch_is_processed(
    handler_module: ModuleType, resources: LedgerResources, body: str, reason: str
) -> None:
    good = transaction(account_id="good", amount="2.00")
    response, _ = invoke(handler_module, resources, body, good)
    assert response == {"batchItemFailures": []}
    assert resources.balance("good") == 200
    [dead] = resources.dead_letters()
    assert dead["Body"] == body
    assert reason in dead["MessageAttributes"]["exactly_once.reason"]["StringValue"]
    assert dead["MessageAttributes"]["exactly_once.outcome"]["StringValue"] == "invalid"


def test_key_held_by_a_live_lease_is_retried_later(
    handler_module: ModuleType, resources: LedgerResources
) -> None:
    # GIVEN another invocation holds a live lease on the key (leased-mode record)
    import time

    from exactly_once import IdempotencyRecord, KeySpec, RecordStatus

    t = transaction(account_id="a")
    now = time.time()
    resources.dynamodb.put_item(
        TableName=resources.idempotency_table,
        Item=IdempotencyRecord(
            id=KeySpec("ledger-v1", "transaction_id").record_id(t["transaction_id"]),
            status=RecordStatus.INPROGRESS,
            payload_hash=ledger_payload_hash(t),
            expiration=int(now) + 3600,
            updated_at_ms=int(now * 1000),
            message_id="other",
            lease_owner="someone-else",
            lease_expiry_ms=int(now * 1000) + 60_000,
        ).to_item(),
    )
    other = transaction(account_id="b")
    # WHEN the message arrives in a batch with another
    response, records = invoke(handler_module, resources, t, other)
    # THEN only it comes back as an item failure; nothing applied for it
    assert failed_ids(response) == {records[0]["messageId"]}
    assert resources.balance("a") == 0
    assert resources.balance("b") == 1000


def test_failed_effect_is_an_item_failure_and_nothing_is_recorded(
    handler_module: ModuleType, resources: LedgerResources
) -> None:
    # GIVEN the ledger table is gone, so the effect cannot be applied
    resources.dynamodb.delete_table(TableName=resources.ledger_table)
    t = transaction(account_id="a")
    response, records = invoke(handler_module, resources, t)
    # THEN the message is retried, and no record claims it was processed
    assert failed_ids(response) == {records[0]["messageId"]}
    scan = resources.dynamodb.scan(TableName=resources.idempotency_table)
    assert scan["Items"] == []


def test_dlq_send_failure_turns_into_an_item_failure(
    handler_module: ModuleType, resources: LedgerResources
) -> None:
    # GIVEN the DLQ cannot be reached
    resources.sqs.delete_queue(QueueUrl=resources.dlq_url)
    # WHEN an invalid message arrives
    response, records = invoke(handler_module, resources, "{oops")
    # THEN it is not reported a success: SQS keeps it, nothing is lost
    assert failed_ids(response) == {records[0]["messageId"]}


def test_metrics_count_every_outcome_and_logs_carry_no_body(
    handler_module: ModuleType, resources: LedgerResources, capsys: pytest.CaptureFixture[str]
) -> None:
    # Powertools' handler keeps the stdout of the first Logger of its name: point it at capsys.
    stream_handler = handler_module.lambda_handler.logger.registered_handler
    assert isinstance(stream_handler, logging.StreamHandler)
    stream_handler.setStream(sys.stdout)
    secret = "account-with-secret-name"
    t = transaction(account_id=secret, amount="3.00")
    invoke(handler_module, resources, t, t, "{broken body}")
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert len(emf) == 1, out
    names = {m["Name"] for m in emf[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {
        "processed",
        "duplicate",
        "in_progress",
        "conflict",
        "invalid",
        "refused",
        "failed",
    }
    assert (emf[0]["processed"], emf[0]["duplicate"], emf[0]["invalid"]) == ([1.0], [1.0], [1.0])
    settled = [json.loads(line) for line in out.splitlines() if "message settled" in line]
    assert len(settled) == 3
    processed = next(line for line in settled if line["outcome"] == "processed")
    assert processed["key_hash"].startswith("ledger-v1#")
    assert {"message_id", "outcome"} <= set(settled[0])
    assert secret not in out and "broken body" not in out
