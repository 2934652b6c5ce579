"""DynamoDB item sizes and capacity units by AWS's documented rules (not moto's figures).

Sizes (Developer Guide, "Item sizes and formats"): each attribute counts its name's UTF-8
length plus its value's size; a string its UTF-8 length; a number about one byte per two
significant digits plus one; binary its raw length; a boolean or null one byte; a list or
map three bytes plus one per element plus the elements; a set the sum of its elements.

Units: one write unit per 1 KB written (rounded up, at least 1), the larger of the item
before and after for a put or update; one read unit per 4 KB read strongly consistently
(half for eventually consistent); transactional requests count double. A failed conditional
write still consumes write units (sized by the larger of the stored and the sent item),
and ``ReturnValuesOnConditionCheckFailure`` adds no read cost.

Assumption, not documented by AWS: how a cancelled ``TransactWriteItems`` is billed. The
bench reports two bounds (``bench.meter``): the upper bound charges it like a failed
conditional write for every action in it, doubled (the most it could cost); the lower
bound charges it nothing. The truth lies between; only a real account's
``ConsumedCapacity`` or bill can tell.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
STORAGE_OVERHEAD_BYTES = 100  # per item, added by DynamoDB to billed storage

CANCELLED_TRANSACTION_ASSUMPTION = (
    "AWS does not document what a cancelled TransactWriteItems bills. Upper bound: every "
    "action billed as a failed conditional write (larger of stored and sent item), doubled "
    "as transactional. Lower bound: nothing billed. Figures marked upper/lower use these; "
    "all other requests are priced by AWS's documented rules in both."
)


def number_size(text: str) -> int:
    """Bytes of a DynamoDB number: one per two significant digits, plus one (+1 if negative)."""
    value = Decimal(text)
    digits = value.as_tuple().digits
    significant = "".join(str(d) for d in digits).strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1 + (1 if value < 0 else 0)


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    return len(base64.b64decode(value))


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's JSON shape (``{"S": "..."}``)."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "N":
        return number_size(str(data))
    if kind == "B":
        return _binary_size(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(number_size(str(n)) for n in data)
    if kind == "BS":
        return sum(_binary_size(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + attribute_size(name, element) for name, element in data.items())
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def attribute_size(name: str, value: Mapping[str, Any]) -> int:
    return len(name.encode("utf-8")) + value_size(value)


def item_size(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    """Bytes of an item (0 for no item)."""
    if not item:
        return 0
    return sum(attribute_size(name, value) for name, value in item.items())


def write_units(size_bytes: int, *, transactional: bool = False) -> int:
    units = max(1, math.ceil(size_bytes / WRITE_UNIT_BYTES))
    return units * 2 if transactional else units


def read_units(size_bytes: int, *, consistent: bool = True, transactional: bool = False) -> float:
    units = float(max(1, math.ceil(size_bytes / READ_UNIT_BYTES)))
    if transactional:
        return units * 2
    return units if consistent else units / 2
