"""The campaign explains a double only by lease takeovers, never by clean releases."""

from __future__ import annotations

from typing import Any

from exactly_once.keys import KeySpec
from exactly_once.records import IdempotencyRecord, RecordStatus
from pipeline.campaign import lease_takeovers
from pipeline.workload import Sent, Workload

KEY = KeySpec(prefix="ledger-v1", path="transaction_id")


class _Table:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self._items = items

    def scan(self, **_: Any) -> dict[str, Any]:
        return {"Items": self._items}


def _record(transaction_id: str, *, attempt: int, releases: int) -> dict[str, Any]:
    return IdempotencyRecord(
        id=KEY.record_id(transaction_id),
        status=RecordStatus.COMPLETED,
        payload_hash="h",
        expiration=1,
        updated_at_ms=1,
        message_id="m",
        attempt=attempt,
        previous_owner="owner-abcdef12",
        releases=releases,
    ).to_item()


def test_only_takeovers_explain_doubles() -> None:
    sends = [Sent(body="{}", kind="original", transaction_id=t) for t in ("a", "b", "c", "d")]
    table = _Table(
        [
            _record("a", attempt=3, releases=2),  # two clean retries after failed effects
            _record("b", attempt=3, releases=1),  # one release, one takeover
            _record("c", attempt=1, releases=0),
        ]
    )

    found = lease_takeovers(table, "t", Workload(waves=[sends]), KEY)

    assert set(found) == {"b"}
    count, why = found["b"]
    assert count == 1
    assert "1 released by their owner, 1 taken over" in why
