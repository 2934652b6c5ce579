"""Driving the ledger consumer in tests: bodies, events and invocations."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from exactly_once import (
    ExactlyOnceBatchHandler,
    IdempotencyRecord,
    ManualClock,
    RecordStatus,
    make_handler,
)
from exactly_once.keys import payload_hash
from exactly_once.protocol import expiration_for, lease_expiry_for, now_millis
from exactly_once_local.events import lambda_record, sqs_event
from exactly_once_local.lambda_context import LocalLambdaContext
from ledger.bootstrap import ledger_effect
from ledger.effects import payload_of
from ledger.model import parse_transaction
from tests.support.aws import LedgerResources


def transaction(
    transaction_id: str | None = None,
    account_id: str = "acct-1",
    amount: str = "10.00",
    currency: str = "EUR",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id or f"tx-{uuid.uuid4().hex[:12]}",
        "account_id": account_id,
        "amount": amount,
        "currency": currency,
        **extra,
    }


def ledger_payload_hash(message: dict[str, Any]) -> str:
    """The payload hash the ledger stores for ``message`` (its meaning, not its spelling)."""
    return payload_hash(payload_of(parse_transaction(message)))


def body_of(message: dict[str, Any] | str) -> str:
    return message if isinstance(message, str) else json.dumps(message)


@dataclass
class LedgerHarness:
    """The ledger consumer wired to moto, with a manual clock and a fake Lambda context."""

    resources: LedgerResources
    clock: ManualClock
    handler: ExactlyOnceBatchHandler
    timeout_seconds: float = 30.0
    responses: list[dict[str, Any]] = field(default_factory=list)

    def records(
        self, *messages: dict[str, Any] | str, group_id: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            lambda_record(body=body_of(m), queue_arn=self.resources.queue_arn, group_id=group_id)
            for m in messages
        ]

    def invoke_records(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        context = LocalLambdaContext(self.clock, timeout_seconds=self.timeout_seconds)
        response = self.handler(sqs_event(*records), context)
        self.responses.append(response)
        return response

    def invoke(self, *messages: dict[str, Any] | str) -> dict[str, Any]:
        return self.invoke_records(self.records(*messages))

    def outcomes(self) -> dict[str, str]:
        return {mid: d.outcome.value for mid, d in self.handler.last_decisions.items()}


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}


def build_harness(
    resources: LedgerResources, clock: ManualClock, *, dynamodb: Any = None, **env: str
) -> LedgerHarness:
    handler = make_handler(
        ledger_effect,
        environ=resources.environ(**env),
        dynamodb=dynamodb or resources.dynamodb,
        sqs=resources.sqs,
        logger=Logger(service="ledger-test"),
        metrics=Metrics(namespace="ExactlyOnceTest"),
        clock=clock,
    ).build()
    return LedgerHarness(resources=resources, clock=clock, handler=handler)


def lease_of(
    record_id: str, owner: str, now: float, seconds: float = 30, retention: int = 3600
) -> IdempotencyRecord:
    """An INPROGRESS record as a leased consumer would write it at ``now``."""
    return IdempotencyRecord(
        id=record_id,
        status=RecordStatus.INPROGRESS,
        payload_hash="h",
        expiration=expiration_for(now, retention),
        updated_at_ms=now_millis(now),
        message_id="m",
        lease_owner=owner,
        lease_expiry_ms=lease_expiry_for(now, seconds, None),
    )
