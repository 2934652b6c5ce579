from __future__ import annotations

import json

import pytest

from exactly_once.errors import ConfigurationError, InvalidMessage
from exactly_once.keys import KeySpec, decode_body, payload_hash

SPEC = KeySpec(prefix="ledger-v1", path="transaction_id")


def test_key_hash_is_stable_and_prefixed() -> None:
    record_id = SPEC.record_id_of({"transaction_id": "tx-1"})
    assert record_id.startswith("ledger-v1#")
    assert record_id == SPEC.record_id("tx-1")
    assert "tx-1" not in record_id, "the key is stored as a hash, not in clear"


def test_prefix_separates_key_spaces() -> None:
    other = KeySpec(prefix="ledger-v2", path="transaction_id")
    assert other.record_id("tx-1") != SPEC.record_id("tx-1")


def test_nested_key_path() -> None:
    spec = KeySpec(prefix="p", path="meta.id")
    assert spec.raw_key({"meta": {"id": "x"}}) == "x"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({}, "missing"),
        ({"transaction_id": None}, "missing"),
        ({"transaction_id": ""}, "empty"),
        ({"transaction_id": "  "}, "empty"),
        ({"transaction_id": 42}, "must be a string"),
        ({"transaction_id": ["a"]}, "must be a string"),
        ({"transaction_id": "x" * 2000}, "exceeds"),
    ],
)
def test_unusable_keys_are_invalid_never_replaced_by_message_id(
    document: dict[str, object], expected: str
) -> None:
    with pytest.raises(InvalidMessage, match=expected):
        SPEC.raw_key(document)


@pytest.mark.parametrize("prefix", ["", "a#b"])
def test_prefix_must_be_explicit_and_separable(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="IDEMPOTENCY_KEY_PREFIX"):
        KeySpec(prefix=prefix, path="transaction_id")


def test_bad_jmespath_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="JMESPath"):
        KeySpec(prefix="p", path="a[")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not an object"),
        ('"text"', "not an object"),
        ('{"amount": NaN}', "not JSON"),
        ('{"amount": Infinity}', "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_bodies_that_are_not_objects_are_invalid(body: str, expected: str) -> None:
    with pytest.raises(InvalidMessage, match=expected):
        decode_body(body)


def test_payload_hash_ignores_key_order_and_whitespace() -> None:
    a = decode_body('{"a": 1, "b": "x"}')
    b = decode_body(json.dumps({"b": "x", "a": 1}, indent=4))
    assert payload_hash(a) == payload_hash(b)
    assert payload_hash(a) != payload_hash({"a": 2, "b": "x"})


@pytest.mark.parametrize(
    "body",
    [
        '{"amount": "1.00", "transaction_id": "t", "amount": "1000.00"}',
        '{"a": {"x": 1, "x": 1}}',
        '[{"k": 1, "k": 2}]',
    ],
)
def test_a_body_with_two_members_of_one_name_is_invalid(body: str) -> None:
    # Parsers disagree on which member wins: the body is refused rather than guessed at.
    with pytest.raises(InvalidMessage, match="two members of the same name"):
        decode_body(body)
