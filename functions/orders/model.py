"""The orders consumer's message: "order QUANTITY of SKU", once per order id.

A shop that charges its customers adds who pays and the price of one unit, in euro cents
(an integer, so no rounding anywhere): ``customer_id`` and ``unit_price_cents``. The
orders consumer then charges ``quantity * unit_price_cents`` to the customer's ledger
account, as a ledger transaction keyed ``order:{order_id}`` (see ``effect.py``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from exactly_once import InvalidMessage

MAX_QUANTITY = 10_000
# A unit at most 10 million euros: a charge (times MAX_QUANTITY) stays far inside the
# ledger's 64-bit range of cents.
MAX_UNIT_PRICE_CENTS = 1_000_000_000
# The charge's ledger transaction id, ``order:{order_id}``, must fit the ledger's 128.
MAX_CHARGED_ORDER_ID = 128 - len("order:")
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$"
FIELDS = ("order_id", "sku", "quantity", "customer_id", "unit_price_cents")


class Order(BaseModel):
    """One order: take ``quantity`` units of ``sku`` from stock and record the order; with
    ``customer_id`` and ``unit_price_cents``, charge the customer for it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    order_id: str = Field(pattern=_ID_PATTERN)
    sku: str = Field(pattern=_ID_PATTERN)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    customer_id: str | None = Field(default=None, pattern=_ID_PATTERN)
    unit_price_cents: int | None = Field(default=None, ge=1, le=MAX_UNIT_PRICE_CENTS)

    @property
    def charge_cents(self) -> int | None:
        """What the order costs, in euro cents; None for an order without a price."""
        if self.unit_price_cents is None:
            return None
        return self.quantity * self.unit_price_cents


def parse_order(document: dict[str, Any], *, priced: bool = False) -> Order:
    """The order in a decoded body, or InvalidMessage naming each field at fault (not its
    value: reasons land in logs and DLQ attributes). ``priced``: the consumer charges, so
    ``customer_id`` and ``unit_price_cents`` are required."""
    try:
        order = Order.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            if error["type"] == "extra_forbidden":
                problems.append(f"body: has fields other than {', '.join(FIELDS)}")
                continue
            field = ".".join(str(part) for part in error["loc"]) or "body"
            message = error["msg"]
            if error["type"] == "string_pattern_mismatch":
                message = "must be 1-128 characters of letters, digits and ._:@/-"
            problems.append(f"{field}: {message}")
        raise InvalidMessage("invalid order: " + "; ".join(dict.fromkeys(problems))) from None
    if priced:
        missing = [
            name for name in ("customer_id", "unit_price_cents") if getattr(order, name) is None
        ]
        if missing:
            raise InvalidMessage(
                f"invalid order: {', '.join(missing)}: required, this shop charges its orders"
            )
        if len(order.order_id) > MAX_CHARGED_ORDER_ID:
            raise InvalidMessage(
                f"invalid order: order_id: at most {MAX_CHARGED_ORDER_ID} characters for an "
                "order that is charged (its ledger transaction id is order:{order_id})"
            )
    return order
