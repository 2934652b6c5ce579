"""Python values as DynamoDB's typed attribute values, without importing boto3.

boto3's ``TypeSerializer`` does this, but ``boto3.dynamodb.types`` cannot be imported
without the whole ``boto3`` package, which imports s3transfer, ``concurrent.futures`` and
``multiprocessing``: about 20 ms of CPU on every cold start, for a layer that otherwise
needs only botocore. Powertools made the same choice for the other direction: its
``shared.dynamodb_deserializer`` is its own version of boto3's ``TypeDeserializer``. The
output here is boto3's, value for value (``tests/unit/test_attributes.py`` compares the
two), including what boto3 lets through and DynamoDB refuses: an empty set, -Infinity.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

# DynamoDB's numbers: 38 digits, exponent -130 to +125; any rounding raises (boto3's).
DYNAMODB_CONTEXT = Context(
    Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
)


def attribute_value(value: Any) -> dict[str, Any]:
    """``value`` as DynamoDB's typed attribute value, as boto3's ``TypeSerializer`` gives it:

    None -> NULL, bool -> BOOL, int or Decimal -> N, str -> S, bytes, bytearray or boto3's
    ``Binary`` -> B, a set of numbers, strings or binaries -> NS, SS or BS, a mapping -> M,
    a list or tuple -> L. A float is refused (use Decimal), as is any other type.
    """
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if _is_binary(value):
        return {"B": _binary(value)}
    if isinstance(value, Set):
        if all(_is_number(member) for member in value):
            return {"NS": [_number(member) for member in value]}
        if all(isinstance(member, str) for member in value):
            return {"SS": list(value)}
        if all(_is_binary(member) for member in value):
            return {"BS": [_binary(member) for member in value]}
    if isinstance(value, Mapping):
        return {"M": {name: attribute_value(member) for name, member in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [attribute_value(member) for member in value]}
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, int | Decimal)


def _number(value: int | Decimal) -> str:
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _binary_types() -> tuple[type, ...]:
    # boto3's Binary counts if the caller has it, which means boto3 is already imported.
    boto3_types = sys.modules.get("boto3.dynamodb.types")
    if boto3_types is None:
        return (bytes, bytearray)
    return (bytes, bytearray, boto3_types.Binary)


def _is_binary(value: Any) -> bool:
    return isinstance(value, _binary_types())


def _binary(value: Any) -> Any:
    return value if isinstance(value, bytes | bytearray) else value.value
