"""The layer's attribute values are boto3's TypeSerializer's, value for value."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeSerializer

from exactly_once.attributes import attribute_value

BOTO3 = TypeSerializer()

SAME = [
    None,
    True,
    False,
    0,
    -(2**63),
    2**63 - 1,
    Decimal("100.50"),
    Decimal("-0.001"),
    Decimal("1E+125"),
    Decimal("1E-130"),
    Decimal("12345678901234567890123456789012345678"),
    Decimal("1.500"),
    "",
    "café",
    b"\x00\xff",
    bytearray(b"ab"),
    Binary(b"xy"),
    {1, Decimal("2.5")},
    frozenset({"a", "b"}),
    {b"a", Binary(b"b")},
    set(),
    [],
    (1, "a", None),
    {"nested": {"list": [1, {"deep": {"s"}}], "flag": True}},
    {},
]


def _id(value: Any) -> str:
    """A test id the same in every process (xdist workers compare them): a set's members
    sorted, whatever the hash seed; no object address."""
    if isinstance(value, set | frozenset):
        return f"{type(value).__name__}({sorted(map(repr, value))})"
    if type(value) is object:
        return "object()"
    return repr(value)


@pytest.mark.parametrize("value", SAME, ids=_id)
def test_the_attribute_value_is_boto3s(value: Any) -> None:
    ours = attribute_value(value)
    theirs = BOTO3.serialize(value)
    if isinstance(value, set | frozenset):  # a set's order is its own: compare as sets
        ((kind, members),) = ours.items()
        assert set(theirs) == {kind}
        assert sorted(members) == sorted(theirs[kind])
    else:
        assert ours == theirs


REFUSED = [
    (1.5, TypeError, "Float types are not supported"),
    ([1, 2.0], TypeError, "Float types are not supported"),
    (Decimal("NaN"), TypeError, "Infinity and NaN not supported"),
    (Decimal("Infinity"), TypeError, "Infinity and NaN not supported"),
    (Decimal("123456789012345678901234567890123456789"), decimal.Inexact, None),
    (Decimal("1E+200"), decimal.Overflow, None),
    (Decimal("1E-200"), decimal.Underflow, None),
    ({"a", 1}, TypeError, "Unsupported type"),
    (object(), TypeError, "Unsupported type"),
]


@pytest.mark.parametrize(("value", "error", "message"), REFUSED, ids=[_id(v) for v, *_ in REFUSED])
def test_what_boto3_refuses_is_refused_alike(value: Any, error: type, message: str | None) -> None:
    with pytest.raises(error, match=message):
        BOTO3.serialize(value)
    with pytest.raises(error, match=message):
        attribute_value(value)
