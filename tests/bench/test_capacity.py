"""bench/capacity.py sizes items and counts units by AWS's documented rules."""

from __future__ import annotations

import base64

import pytest

from bench.capacity import (
    READ_UNIT_BYTES,
    WRITE_UNIT_BYTES,
    attribute_size,
    item_size,
    number_size,
    read_units,
    value_size,
    write_units,
)


def test_an_attribute_counts_its_name_and_its_value_in_utf8_bytes() -> None:
    assert attribute_size("id", {"S": "abc"}) == 2 + 3
    # "é" is 2 bytes in UTF-8 and "€" 3: bytes count, not characters
    assert attribute_size("é", {"S": "€"}) == 2 + 3
    assert attribute_size("flag", {"BOOL": True}) == 4 + 1
    assert attribute_size("gone", {"NULL": True}) == 4 + 1


def test_an_item_is_the_sum_of_its_attributes_and_no_item_is_zero() -> None:
    item = {"id": {"S": "tx-1"}, "status": {"S": "COMPLETED"}, "expiration": {"N": "1700000000"}}
    assert item_size(item) == (2 + 4) + (6 + 9) + (10 + number_size("1700000000"))
    assert item_size(None) == 0
    assert item_size({}) == 0


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 2),  # zero counts as one digit: 1 + 1
        ("1", 2),  # one digit: one byte per two digits, rounded up, + 1
        ("12", 2),
        ("123", 3),
        ("12345", 4),
        ("100", 2),  # trailing zeroes are trimmed
        ("0.001", 2),  # leading zeroes are trimmed
        ("1001", 3),  # inner zeroes count
        ("123.45", 4),  # the decimal point is not a digit
        ("-1", 3),  # a negative number takes one more byte
        ("1700000000", 2),  # 17 then zeroes: one byte of digits + 1
    ],
)
def test_a_number_takes_a_byte_per_two_significant_digits_plus_one(text: str, size: int) -> None:
    assert number_size(text) == size
    assert value_size({"N": text}) == size


def test_binary_sets_lists_and_maps_follow_the_documented_overheads() -> None:
    raw = b"\x00\x01\x02\x03"
    assert value_size({"B": base64.b64encode(raw).decode()}) == 4  # raw bytes, not base64
    assert value_size({"B": raw}) == 4
    assert value_size({"SS": ["ab", "c"]}) == 3
    assert value_size({"NS": ["1", "123"]}) == 2 + 3
    # a list or map: 3 bytes, plus 1 per element, plus the elements (a map's with names)
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"k": {"S": "ab"}}}) == 3 + 1 + (1 + 2)
    with pytest.raises(ValueError, match="unknown DynamoDB attribute type"):
        value_size({"X": "?"})


@pytest.mark.parametrize(
    ("size", "units"),
    [(0, 1), (1, 1), (WRITE_UNIT_BYTES, 1), (WRITE_UNIT_BYTES + 1, 2), (3 * 1024, 3)],
)
def test_a_write_unit_covers_1_kb_rounded_up_and_at_least_one(size: int, units: int) -> None:
    assert write_units(size) == units
    # a transactional write counts double
    assert write_units(size, transactional=True) == 2 * units


def test_an_item_of_exactly_1_kb_is_one_write_unit_and_one_byte_more_is_two() -> None:
    # "id" (2 bytes) + a 1022-byte string = 1024 bytes
    exact = {"id": {"S": "x" * 1022}}
    assert item_size(exact) == WRITE_UNIT_BYTES
    assert write_units(item_size(exact)) == 1
    over = {"id": {"S": "x" * 1023}}
    assert write_units(item_size(over)) == 2
    assert write_units(item_size(over), transactional=True) == 4


def test_read_units_cover_4_kb_halved_when_eventually_consistent_doubled_in_a_transaction() -> None:
    assert read_units(READ_UNIT_BYTES) == 1.0
    assert read_units(READ_UNIT_BYTES + 1) == 2.0
    assert read_units(0) == 1.0
    assert read_units(READ_UNIT_BYTES, consistent=False) == 0.5
    assert read_units(READ_UNIT_BYTES + 1, transactional=True) == 4.0
