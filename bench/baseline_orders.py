"""The refusal row's baseline: the orders effect written the way Powertools documents it.

``BatchProcessor`` hands each SQS record to a record handler, which calls a function made
idempotent by ``idempotent_function`` on a ``DynamoDBPersistenceLayer``, keyed by the
body's ``order_id`` (payload validated on ``[sku, quantity]``, ``key_prefix`` explicit and
the Lambda context registered on every invocation, as in ``bench.baseline``). The function
takes the stock with a conditional ``UpdateItem`` (``stock >= :q``), then writes the order
row with a conditional ``PutItem`` (``attribute_not_exists(order_id)``).

A refusal, the baseline's behaviour: when the stock condition fails, the function raises
``OutOfStock``. Powertools deletes the INPROGRESS record (a ``DeleteItem``) so the key can
be tried again, and re-raises; ``BatchProcessor`` reports the record as an item failure;
SQS delivers it again after the visibility timeout, every time with the same outcome, and
once it has been received ``maxReceiveCount`` times its redrive policy moves it to the DLQ
(with no reason attached). That is the recipe's one path for a message it cannot process.
The alternative, catching the refusal and sending the message to a DLQ from the handler,
is code Powertools does not provide, and since the function would then return normally the
key would be recorded as COMPLETED, so a redrive after a restock would be answered as a
duplicate instead of being evaluated again.

Requests: per committed order a ``PutItem`` (INPROGRESS), the stock ``UpdateItem``, the
order ``PutItem`` and an ``UpdateItem`` completing the record (4); per delivery of a
refused order a ``PutItem``, the failed ``UpdateItem`` and the ``DeleteItem`` (3). A user
could merge the two effect writes into one ``TransactWriteItems`` per order (3 requests per
committed order, at double write units); the bench runs the two plain writes, as described
above. Either way the record is written apart from the effect: a crash between them
re-applies the effect once the record's in-progress expiry passes.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from bench.baseline import DEFAULT_RETENTION_SECONDS

KEY_PREFIX = "orders-baseline-v1"
_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$"


class OutOfStock(Exception):
    """Fewer units of the SKU left than the order takes."""


class Order(BaseModel):
    """The orders message, validated about as strictly as ``orders.model`` does."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    order_id: str = Field(pattern=_ID)
    sku: str = Field(pattern=_ID)
    quantity: int = Field(ge=1, le=10_000)


class OrdersBaselineHandler:
    """The Powertools recipe for orders as ``(event, context) -> partial batch response``."""

    def __init__(self, environ: Mapping[str, str], *, dynamodb: Any) -> None:
        self._dynamodb = dynamodb
        self._inventory_table = environ["INVENTORY_TABLE_NAME"]
        self._orders_table = environ["ORDERS_TABLE_NAME"]
        retention = int(environ.get("IDEMPOTENCY_RETENTION_SECONDS", DEFAULT_RETENTION_SECONDS))
        self.config = IdempotencyConfig(
            event_key_jmespath="order_id",
            payload_validation_jmespath="[sku, quantity]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=retention,
        )
        persistence = DynamoDBPersistenceLayer(
            table_name=environ["IDEMPOTENCY_TABLE_NAME"], boto3_client=dynamodb
        )
        self._place = idempotent_function(
            self._place_order,
            data_keyword_argument="order",
            persistence_store=persistence,
            config=self.config,
            key_prefix=KEY_PREFIX,
        )
        # A redelivery batch holds only the refused order: every record fails. Answered as
        # item failures rather than raised as a function error; SQS retries the same
        # messages either way.
        self._processor = BatchProcessor(
            event_type=EventType.SQS, raise_on_entire_batch_failure=False
        )

    def _place_order(self, order: dict[str, Any]) -> dict[str, Any]:
        quantity = {"N": str(order["quantity"])}
        try:
            self._dynamodb.update_item(
                TableName=self._inventory_table,
                Key={"sku": {"S": order["sku"]}},
                UpdateExpression="SET #stock = #stock - :q",
                ConditionExpression="#stock >= :q",
                ExpressionAttributeNames={"#stock": "stock"},
                ExpressionAttributeValues={":q": quantity},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise OutOfStock(f"fewer than {order['quantity']} of {order['sku']} left") from exc
            raise
        self._dynamodb.put_item(
            TableName=self._orders_table,
            Item={
                "order_id": {"S": order["order_id"]},
                "sku": {"S": order["sku"]},
                "quantity": quantity,
            },
            ConditionExpression="attribute_not_exists(order_id)",
        )
        return {"order_id": order["order_id"]}

    def _record_handler(self, record: SQSRecord) -> dict[str, Any]:
        order = Order.model_validate_json(record.body)
        result: dict[str, Any] = self._place(order=order.model_dump())
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
