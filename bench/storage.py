"""The memory trade-off: idempotency records kept for the retention, plus TTL's lag.

Steady state, every key seen in the last (retention + TTL lag) is stored::

    records ≈ rate x (retention + TTL deletion lag)      (lag: assumed 48 h)
    bytes   ≈ records x (item bytes + 100 B DynamoDB per-item overhead)

The retention must outlast every redelivery (source queue + DLQ retention), so it is not
free to shrink; the lag only costs storage, never correctness (expiry is in the condition).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from bench.capacity import STORAGE_OVERHEAD_BYTES, item_size

# ASSUMPTION: how long an expired item stays (and is billed) before TTL deletes it. AWS
# says only that deletion typically happens within a few days; 48 h is not measured.
TTL_LAG_SECONDS = 48 * 3600
TTL_LAG_ASSUMPTION = (
    f"TTL deletion lag of {TTL_LAG_SECONDS // 3600} h: expired records are billed this long "
    "after their retention ends. Assumed, not measured; AWS only says TTL deletes expired "
    "items typically within a few days, so the storage rows could be higher."
)
GIB = 2**30
SECONDS_PER_MONTH = 30.4375 * 86400


@dataclass(frozen=True)
class SteadyState:
    """The idempotency table's size once inserts and TTL deletions balance."""

    rate_per_second: float
    retention_seconds: float
    ttl_lag_seconds: float
    bytes_per_record: float
    billed_bytes_per_record: float
    records: float
    gib: float
    usd_per_month: float

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "formula": "records = rate x (retention + ttl_lag); "
            "bytes = records x (item bytes + 100 B overhead)",
        }


def mean_item_bytes(items: Iterable[dict[str, Any]]) -> float:
    sizes = [item_size(item) for item in items]
    return sum(sizes) / len(sizes) if sizes else 0.0


def steady_state(
    *,
    rate_per_second: float,
    retention_seconds: float,
    bytes_per_record: float,
    usd_per_gib_month: float,
    ttl_lag_seconds: float = TTL_LAG_SECONDS,
) -> SteadyState:
    records = rate_per_second * (retention_seconds + ttl_lag_seconds)
    billed = bytes_per_record + STORAGE_OVERHEAD_BYTES
    gib = records * billed / GIB
    return SteadyState(
        rate_per_second=rate_per_second,
        retention_seconds=retention_seconds,
        ttl_lag_seconds=ttl_lag_seconds,
        bytes_per_record=bytes_per_record,
        billed_bytes_per_record=billed,
        records=records,
        gib=gib,
        usd_per_month=gib * usd_per_gib_month,
    )


def storage_usd_per_million(
    *, billed_bytes_per_record: float, stored_seconds: float, usd_per_gib_month: float
) -> float:
    """What a million records cost to keep for ``stored_seconds`` (retention + lag)."""
    return (
        1e6
        * billed_bytes_per_record
        / GIB
        * (stored_seconds / SECONDS_PER_MONTH)
        * (usd_per_gib_month)
    )
