"""The refusal row (a batch of 10 with one out-of-stock order): counts, checks and target.

No timing is asserted: these machines are noisy, and the row counts requests.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from bench import refusal as refusal_module
from bench.refusal import RefusalCheckFailed, run_refusal
from bench.report import REFUSAL_REQUEST_LIMIT, build_refusal_figures, refusal_target
from bench.run import parse_args
from bench.sides import BASELINE, OURS_ATOMIC, OURS_LEASED
from bench.workload import OrderBatch, build_refusal_batches
from tests.support.aws import fake_credentials

QUICK = parse_args(["--quick"])


@pytest.fixture(scope="module")
def quick_row() -> Iterator[dict[str, Any]]:
    """The quick run of the row, once for the module (a few seconds)."""
    with pytest.MonkeyPatch.context() as patch:
        next(fake_credentials(patch))
        with mock_aws():
            yield run_refusal(QUICK)


def test_refusal_batches_hold_distinct_skus_with_exactly_one_short() -> None:
    batches = build_refusal_batches(3, seed=5)
    skus = [order["sku"] for batch in batches for order in batch.orders()]
    assert len(skus) == len(set(skus)) == 30
    for batch in batches:
        short = [o for o in batch.orders() if batch.stock[o["sku"]] < o["quantity"]]
        assert [o["order_id"] for o in short] == [batch.short_order_id]
        assert len(batch.committed_order_ids()) == 9
        assert min(batch.expected_stock().values()) >= 0


@pytest.mark.slow
def test_quick_row_commits_nine_in_at_most_3_requests_and_counts_the_baseline(
    quick_row: dict[str, Any],
) -> None:
    ours, baseline = quick_row[OURS_ATOMIC], quick_row[BASELINE]
    # every batch measured, on both sides, with the outcome checked by the bench itself
    for side in (ours, baseline):
        assert side["batches"] >= 2
        assert len(side["requests_per_batch"]) == side["batches"]
        assert side["committed_messages"] == 9 * side["batches"]
        assert side["verified"]["refused_orders"] == side["verified"]["dead_letters"]
        assert side["verified"]["lowest_stock"] >= 0
    # ours: the nine commit in at most 3 DynamoDB requests, in every batch
    assert max(ours["requests_per_batch"]) <= REFUSAL_REQUEST_LIMIT, ours["requests_per_batch"]
    assert ours["redelivery_requests_per_refused"] == [0] * ours["batches"]
    # the baseline counted something, on the first delivery and on the redeliveries
    assert min(baseline["requests_per_batch"]) > 0, baseline["requests_per_batch"]
    assert min(baseline["redelivery_requests_per_refused"]) > 0, baseline
    assert set(baseline["deliveries_per_refused"]) == {baseline["max_receive_count"]}
    # and the target line is computed from that measurement
    target = refusal_target(quick_row)
    assert target["passed"] is True and target["value"] == max(ours["requests_per_batch"])


@pytest.mark.slow
def test_the_target_fails_on_the_worst_batch_not_the_average(
    quick_row: dict[str, Any],
) -> None:
    # GIVEN the measured row with one batch made to cost 4 requests
    doctored = copy.deepcopy(quick_row)
    doctored[OURS_ATOMIC]["requests_per_batch"][-1] = 4
    # THEN the target fails, though the average stays under 3
    target = refusal_target(doctored)
    assert target["passed"] is False and target["value"] == 4.0
    # AND the figures leave the leased side empty, saying why
    figures = {f["key"]: f for f in build_refusal_figures(quick_row)}
    per_batch = figures["requests_per_batch_refusal"]
    assert per_batch["values"][OURS_LEASED] is None
    assert OURS_LEASED in per_batch["not_measured"]
    assert per_batch["ratio_atomic_to_baseline"] < 1


def _nobody_short(batch_count: int, *, seed: int) -> list[OrderBatch]:
    """The row's batches, but the "short" SKU holds enough stock after all."""
    batches = build_refusal_batches(batch_count, seed=seed)
    fixed = []
    for batch in batches:
        [short] = [o for o in batch.orders() if o["order_id"] == batch.short_order_id]
        stock = {**batch.stock, short["sku"]: short["quantity"]}
        fixed.append(dataclasses.replace(batch, stock=stock))
    return fixed


@pytest.mark.slow
def test_a_row_whose_refusal_does_not_happen_fails_loudly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    next(fake_credentials(monkeypatch))
    # GIVEN batches in which every order has stock
    monkeypatch.setattr(refusal_module, "build_refusal_batches", _nobody_short)
    # WHEN the row runs, THEN it refuses to report figures for an outcome it did not reach
    with mock_aws(), pytest.raises(RefusalCheckFailed, match="order rows"):
        run_refusal(QUICK)
