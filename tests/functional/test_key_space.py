"""Nothing in a message chooses the table or key it writes: only the ledger's own rules do.

A valid transaction writes exactly two items: its balance at (account_id, currency) in
the ledger table, and its record ``ledger-v1#sha256(transaction_id)`` in the idempotency
table. Messages that try to steer the write (table names, key prefixes, ids, nested
copies, ids shaped like record ids) are either refused (unknown fields) or, when the id
merely looks like a key, land in their own items all the same. Both tables are scanned.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from pipeline.resources import scan_items
from tests.support.aws import LedgerResources
from tests.support.ledger import LedgerHarness, transaction


def _record_id(transaction_id: str) -> str:
    return "ledger-v1#" + hashlib.sha256(transaction_id.encode("utf-8")).hexdigest()


def _tables(resources: LedgerResources) -> tuple[set[tuple[str, str]], set[str]]:
    ledger = {
        (item["account_id"]["S"], item["currency"]["S"])
        for item in scan_items(resources.dynamodb, resources.ledger_table)
    }
    records = {
        item["id"]["S"] for item in scan_items(resources.dynamodb, resources.idempotency_table)
    }
    return ledger, records


def _all_tables(resources: LedgerResources) -> list[str]:
    return list(resources.dynamodb.list_tables()["TableNames"])


STEERING_FIELDS: list[dict[str, Any]] = [
    {"table": "other-table"},
    {"TableName": "other-table"},
    {"table_name": "idempotency"},
    {"key_prefix": "admin-v1"},
    {"IDEMPOTENCY_KEY_PREFIX": "admin-v1"},
    {"id": "ledger-v1#" + "0" * 64},
    {"Key": {"account_id": {"S": "victim"}, "currency": {"S": "EUR"}}},
    {"balance_minor": 10**12},
    {"transaction_count": 0},
    {"status": "COMPLETED", "expiration": 1},
    {"nested": {"TableName": "other-table", "id": "ledger-v1#x"}},
    {"transaction": {"transaction_id": "tx-inner", "account_id": "victim"}},
]


@pytest.mark.parametrize("extra", STEERING_FIELDS, ids=lambda e: next(iter(e)))
def test_fields_that_would_steer_the_write_are_refused_and_write_nothing(
    ledger: LedgerHarness, resources: LedgerResources, extra: dict[str, Any]
) -> None:
    tables_before = _all_tables(resources)
    body = transaction("tx-steer", account_id="acct-own", **extra)
    response = ledger.invoke(body)
    assert response == {"batchItemFailures": []}
    assert ledger.outcomes() == {next(iter(ledger.handler.last_decisions)): "invalid"}
    assert _tables(resources) == (set(), set())
    assert _all_tables(resources) == tables_before
    [dead] = resources.dead_letters()
    assert dead["Body"] == json.dumps(body)


@pytest.mark.parametrize(
    ("transaction_id", "account_id"),
    [
        ("ledger-v1#" + "a" * 64, "acct-own"),  # an id shaped like a record id ('#' refused)
        ("tx-own", "ledger-v1#" + "b" * 64),  # an account shaped like a record id
        ("tx-own", "ledger-v1"),  # an account named like the prefix
        ("../ledger-v1", "acct-own"),
        ("tx-own", "acct-own#EUR"),
        ("ledger-v1", "acct-own"),  # the prefix itself as an id: hashed like any other
        ("ledger-v1:admin/idempotency", "idempotency"),
    ],
)
def test_ids_shaped_like_keys_write_only_their_own_items(
    ledger: LedgerHarness, resources: LedgerResources, transaction_id: str, account_id: str
) -> None:
    body = transaction(transaction_id, account_id=account_id, amount="1.00", currency="EUR")
    ledger.invoke(body)
    [outcome] = ledger.outcomes().values()
    ledger_items, records = _tables(resources)
    if outcome == "invalid":  # refused by the id rules: nothing written anywhere
        assert (ledger_items, records) == (set(), set())
    else:
        assert outcome == "processed"
        assert ledger_items == {(account_id, "EUR")}
        assert records == {_record_id(transaction_id)}


def test_a_mixed_batch_writes_exactly_its_own_items(
    ledger: LedgerHarness, resources: LedgerResources
) -> None:
    # GIVEN valid transactions next to steering attempts in one batch
    valid = [
        transaction("tx-a", account_id="acct-a", currency="EUR"),
        transaction("tx-b", account_id="acct-b", currency="USD"),
        transaction("tx-c", account_id="ledger-v1", currency="EUR"),
    ]
    attempts = [
        transaction(f"tx-x{i}", account_id="victim", **e) for i, e in enumerate(STEERING_FIELDS[:7])
    ]
    response = ledger.invoke(*valid, *attempts)
    assert response == {"batchItemFailures": []}
    # THEN the tables hold the valid transactions' own items, and nothing of the attempts
    ledger_items, records = _tables(resources)
    assert ledger_items == {(t["account_id"], t["currency"]) for t in valid}
    assert records == {_record_id(t["transaction_id"]) for t in valid}
    assert resources.balance("victim") == 0


def test_a_key_that_is_not_encodable_is_invalid_not_a_crash(
    ledger: LedgerHarness, resources: LedgerResources
) -> None:
    bad = json.dumps(transaction("tx-\ud800"))  # '"tx-\\ud800"' on the wire: SQS accepts it
    good = transaction("tx-fine", account_id="acct-fine")
    response = ledger.invoke(bad, good)
    assert response == {"batchItemFailures": []}
    assert resources.balance("acct-fine") == 1000
