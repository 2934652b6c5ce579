"""The baseline: the ledger's effect written the way Powertools documents it.

``BatchProcessor`` hands each SQS record to a record handler, which calls a function made
idempotent by ``idempotent_function`` on a ``DynamoDBPersistenceLayer``, keyed by the
body's ``transaction_id``; the balance update is a separate ``UpdateItem``. Per new
message that is a conditional ``PutItem`` (INPROGRESS), the ``UpdateItem``, and an
``UpdateItem`` completing the record; per duplicate one failed conditional ``PutItem``.

Following docs/protocol.md ("Compared with Powertools' idempotency utility"):
``key_prefix`` is explicit (the default would change every key on a rename) and the
Lambda context is registered on every invocation (without it no in-progress expiry is
written and a crash blocks the key for the whole retention).
Payload validation is on, so a reused key with another payload is refused, as in the
project's protocol. The body is checked by hand (``parse_transaction``), not with pydantic:
the plain recipe. Wired in ``bench.baseline_handler``, a real handler module whose import
is timed like ``ledger.handler``'s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

KEY_PREFIX = "ledger-baseline-v1"
DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}")
_RULES = {
    "transaction_id": _ID,
    "account_id": _ID,
    "amount": re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]{1,2})?"),
    "currency": re.compile(r"[A-Z]{3}"),
}


def parse_transaction(body: str) -> dict[str, str]:
    """The ledger's message, checked about as strictly as ``ledger.model`` does, by hand:
    the plain recipe, without pydantic (whose import alone costs about 90 ms)."""
    document = json.loads(body)
    if not isinstance(document, dict) or set(document) != set(_RULES):
        raise ValueError(f"a transaction has exactly the fields {', '.join(_RULES)}")
    for name, rule in _RULES.items():
        value = document[name]
        if not isinstance(value, str) or not rule.fullmatch(value):
            raise ValueError(f"{name}: invalid")
    return document


class BaselineHandler:
    """The Powertools recipe as a callable ``(event, context) -> partial batch response``."""

    def __init__(self, environ: Mapping[str, str], *, dynamodb: Any) -> None:
        self._dynamodb = dynamodb
        self._ledger_table = environ["LEDGER_TABLE_NAME"]
        retention = int(environ.get("IDEMPOTENCY_RETENTION_SECONDS", DEFAULT_RETENTION_SECONDS))
        self.config = IdempotencyConfig(
            event_key_jmespath="transaction_id",
            payload_validation_jmespath="[account_id, amount, currency]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=retention,
        )
        persistence = DynamoDBPersistenceLayer(
            table_name=environ["IDEMPOTENCY_TABLE_NAME"], boto3_client=dynamodb
        )
        self._apply = idempotent_function(
            self._apply_transaction,
            data_keyword_argument="transaction",
            persistence_store=persistence,
            config=self.config,
            key_prefix=KEY_PREFIX,
        )
        self._processor = BatchProcessor(event_type=EventType.SQS)

    def _apply_transaction(self, transaction: dict[str, Any]) -> dict[str, Any]:
        minor = int(Decimal(transaction["amount"]).scaleb(2))  # EUR, USD, GBP: 2 places
        self._dynamodb.update_item(
            TableName=self._ledger_table,
            Key={
                "account_id": {"S": transaction["account_id"]},
                "currency": {"S": transaction["currency"]},
            },
            UpdateExpression="ADD #balance :delta, #count :one",
            ExpressionAttributeNames={"#balance": "balance_minor", "#count": "transaction_count"},
            ExpressionAttributeValues={":delta": {"N": str(minor)}, ":one": {"N": "1"}},
        )
        return {"transaction_id": transaction["transaction_id"]}

    def _record_handler(self, record: SQSRecord) -> dict[str, Any]:
        result: dict[str, Any] = self._apply(transaction=parse_transaction(record.body))
        return result

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        self.config.register_lambda_context(context)
        response = process_partial_response(
            event=dict(event),
            record_handler=self._record_handler,
            processor=self._processor,
            context=context,
        )
        return dict(response)
