"""``python -m bench --quick`` keeps working: its output has every figure, and the counts add up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIDES = ("ours (atomic)", "ours (leased)", "powertools")
EXPECTED_FIGURES = {
    "requests_per_new_b10",
    "requests_per_duplicate_b10",
    "requests_per_new_b100",
    "requests_per_duplicate_b100",
    "write_units_per_new",
    "write_units_per_duplicate_upper",
    "write_units_per_duplicate_lower",
    "requests_per_message_mixed",
    "write_units_per_message_mixed_upper",
    "write_units_per_message_mixed_lower",
    "read_units_per_new",
    "read_units_per_duplicate",
    "messages_per_second_new_b10",
    "messages_per_second_duplicate_b10",
    "messages_per_second_new_b100",
    "messages_per_second_duplicate_b100",
    "messages_per_second_mixed_b10",
    "messages_per_second_new_b10_item_0.25ms",
    "messages_per_second_new_b10_item_0.5ms",
    "messages_per_second_new_b10_item_1ms",
    "import_ms",
    "ready_ms",
    "ready_instructions",
    "record_bytes",
    "steady_state_gib",
    "usd_per_million_new",
    "usd_per_million_duplicate_upper",
    "usd_per_million_duplicate_lower",
    "requests_per_batch_refusal",
    "requests_per_committed_refusal",
    "requests_per_refused_redeliveries",
    "write_units_per_committed_refusal_upper",
    "write_units_per_committed_refusal_lower",
}


@pytest.mark.slow
def test_quick_benchmark_prints_the_table_and_writes_plausible_json(tmp_path: Path) -> None:
    # GIVEN a JSON path outside the repository
    out = tmp_path / "bench.json"

    # WHEN the quick benchmark runs as CI runs it
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # THEN it succeeds, prints the table with targets, and writes every figure for each side
    assert result.returncode == 0, f"bench failed:\n{result.stdout}\n{result.stderr}"
    assert "targets (atomic mode):" in result.stdout, result.stdout
    assert "[PASS]" in result.stdout or "[FAIL]" in result.stdout, result.stdout
    report = json.loads(out.read_text())
    figures = {figure["key"]: figure for figure in report["figures"]}
    assert set(figures) == EXPECTED_FIGURES, f"figures differ: {sorted(figures)}"
    for key, figure in figures.items():
        assert set(figure["values"]) == set(SIDES), f"{key} lacks a side: {figure['values']}"
    assert {"target", "value", "limit", "passed", "note"} <= set(report["targets"][0])

    # AND batch size 100, which a quick run cannot fill twice, is reported as not evaluated
    # rather than measured on one partial batch (and so never spuriously FAILs)
    for key in ("requests_per_new_b100", "messages_per_second_new_b100"):
        assert figures[key]["not_evaluated"] == "not evaluated (--quick)", figures[key]
        assert set(figures[key]["values"].values()) == {None}, figures[key]
    (batch_100,) = [t for t in report["targets"] if "batch 100" in t["target"]]
    assert batch_100["passed"] is None and batch_100["note"] == "not evaluated (--quick)"
    assert "[N/E]" in result.stdout and "not evaluated (--quick)" in result.stdout

    # AND the counted requests are plausible: the recipe's three requests per new message
    # and one per duplicate, against one transaction per batch of ten
    new = figures["requests_per_new_b10"]["values"]
    duplicate = figures["requests_per_duplicate_b10"]["values"]
    assert new["powertools"] == pytest.approx(3.0), f"baseline per new message: {new}"
    assert duplicate["powertools"] == pytest.approx(1.0), f"baseline per duplicate: {duplicate}"
    assert new["ours (leased)"] == pytest.approx(3.0), f"leased per new message: {new}"
    assert new["ours (atomic)"] < new["powertools"], f"atomic not below baseline: {new}"
    assert duplicate["ours (atomic)"] < duplicate["powertools"], f"duplicates: {duplicate}"
    # the mixed phase (10% random redeliveries): the recipe pays 3 requests per new message
    # and 1 per redelivery; atomic mode one transaction per batch, and a second (the retry
    # after the cancellation) in each batch holding a redelivery
    mixed = figures["requests_per_message_mixed"]["values"]
    counts = report["accounting"]["powertools"]["mixed"]
    messages = counts["new_messages"] + counts["redelivered_duplicates"]
    recipe = (3 * counts["new_messages"] + counts["redelivered_duplicates"]) / messages
    assert mixed["powertools"] == pytest.approx(recipe), f"mixed: {mixed} {counts}"
    atomic = (counts["batches"] + counts["batches_with_a_redelivery"]) / messages
    assert mixed["ours (atomic)"] == pytest.approx(atomic), f"mixed: {mixed} {counts}"
    # every row with a spread has min <= median <= max on each side it measured
    for key, figure in figures.items():
        for side, spread in figure.get("spread", {}).items():
            assert spread is None or spread[0] <= spread[1] <= spread[2], (key, side, spread)
    mixed_upper = figures["write_units_per_message_mixed_upper"]["values"]
    mixed_lower = figures["write_units_per_message_mixed_lower"]["values"]
    assert mixed_lower["ours (atomic)"] < mixed_upper["ours (atomic)"], (mixed_lower, mixed_upper)
    # every new message was priced: at least one write unit each, on every side
    for side, units in figures["write_units_per_new"]["values"].items():
        assert units >= 1.0, f"{side} priced below 1 WCU per new message: {units}"
    # the bounds on a cancelled transaction's bill: ordered, and equal where none is cancelled
    upper = figures["write_units_per_duplicate_upper"]["values"]
    lower = figures["write_units_per_duplicate_lower"]["values"]
    assert all(lower[side] <= upper[side] for side in SIDES), (lower, upper)
    assert lower["powertools"] == upper["powertools"] == pytest.approx(1.0), (lower, upper)
    assert "assumption" in figures["write_units_per_duplicate_upper"]
    assumed = {a["key"] for a in report["meta"]["assumptions"]}
    assert {"cancelled_transaction_billing", "sqs_requests_per_message", "ttl_lag"} <= assumed
    assert report["prices"]["as_of"] and "not re-checked" in report["prices"]["source"]

    # AND the refusal row (a batch of 10, one order out of stock): ours commits the nine in
    # at most 3 requests, the recipe's count is measured beside it, and the target line is
    # printed from the measurement
    per_batch = figures["requests_per_batch_refusal"]["values"]
    assert per_batch["ours (atomic)"] <= 3, per_batch
    assert per_batch["powertools"] > 0 and per_batch["ours (leased)"] is None, per_batch
    (refusal,) = [t for t in report["targets"] if "1 refusal" in t["target"]]
    assert refusal["passed"] is True and refusal["value"] <= 3, refusal
    assert "1 refusal: the other nine committed in <= 3 DynamoDB requests" in result.stdout
    assert report["refusal"]["powertools"]["verified"]["refused_orders"] >= 2
