"""The orders consumer's message: "order QUANTITY of SKU", once per order id."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from exactly_once import InvalidMessage

MAX_QUANTITY = 10_000
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$"
FIELDS = ("order_id", "sku", "quantity")


class Order(BaseModel):
    """One order: take ``quantity`` units of ``sku`` from stock and record the order."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    order_id: str = Field(pattern=_ID_PATTERN)
    sku: str = Field(pattern=_ID_PATTERN)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


def parse_order(document: dict[str, Any]) -> Order:
    """The order in a decoded body, or InvalidMessage naming each field at fault (not its
    value: reasons land in logs and DLQ attributes)."""
    try:
        return Order.model_validate(document)
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
