"""The HTML report and the timeline recorder, without a browser: what the page holds,
that it needs no network, and what a run records."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

from pipeline.faults import FaultCounts
from pipeline.ledger_report import balance_table, expected_balances
from pipeline.report_html import MAX_BUCKETS, Report, Row, Stage, Table, render_html, write_html
from pipeline.timeline import Recorder, comparison_table
from pipeline.verdict import Verdict
from pipeline.workload import Sent, Workload


def _stage(**overrides: object) -> Stage:
    values: dict[str, object] = {
        "name": "orders stage",
        "duration": 3.0,
        "timeline": {0: {"processed": 4}, 2: {"duplicate": 2, "in_progress": 1}},
        "faults": [(1.5, "throttled")],
        "dlq": [(0.0, 0), (2.0, 3)],
        "marks": [(2.5, "redrive")],
    }
    values.update(overrides)
    return Stage(**values)  # type: ignore[arg-type]


def test_the_page_is_self_contained_and_leads_with_the_verdict() -> None:
    page = render_html(Report("Run", True, "all good", [_stage()]))
    assert page.startswith("<!DOCTYPE html>")
    assert page.index("VERDICT: PASS") < page.index("<svg")
    # no network: nothing fetched, no external script, style, font or image
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert page.count("<svg") == 3 and "<script>" in page


def test_every_outcome_has_its_colour_and_other_outcomes_are_grouped() -> None:
    page = render_html(Report("Run", True, "", [_stage()]))
    assert 'data-outcome="processed"' in page and 'data-outcome="duplicate"' in page
    assert 'data-outcome="other"' in page  # in_progress
    for outcome in ("processed", "duplicate", "conflict", "invalid", "refused", "failed"):
        assert f"</span>{outcome} <b>" in page


def test_a_long_run_is_averaged_into_at_most_so_many_bars() -> None:
    timeline = {second: {"processed": 2} for second in range(2400)}
    page = render_html(Report("Long", True, "", [_stage(timeline=timeline, duration=2400.0)]))
    assert 0 < page.count('class="bar"') <= MAX_BUCKETS
    assert "averaged over 10 s" in page


def test_mismatches_are_flagged_in_text_and_listed_first() -> None:
    table = Table(
        "Balances",
        ["key", "expected", "found"],
        [Row(["a", "1", "1"]), Row(["b", "1", "2"], mismatch=True, note="applied twice")],
    )
    page = render_html(Report("Run", False, "b applied twice", [_stage(tables=[table])]))
    assert page.index(">b<") < page.index(">a<")
    assert '<tr class="mismatch">' in page and "MISMATCH: applied twice" in page
    assert "2 rows, 1 mismatch" in page


def test_an_explained_difference_is_told_apart_from_a_mismatch() -> None:
    rows = [
        Row(["a", "1", "2"], mismatch=True, note="a lease takeover", explained=True),
        Row(["b", "1", "0"], mismatch=True, note="lost"),
    ]
    page = render_html(
        Report("Run", False, "", [_stage(tables=[Table("t", ["k", "e", "f"], rows)])])
    )
    assert '<tr class="mismatch explained">' in page and "EXPLAINED: a lease takeover" in page
    assert '<tr class="mismatch">' in page and "MISMATCH: lost" in page
    assert "2 rows, 2 mismatches (1 explained)" in page


def test_text_is_escaped() -> None:
    page = render_html(Report("<b>x</b>", False, "a < b & c", [_stage(name="<script>")]))
    assert "<b>x</b>" not in page and "&lt;script&gt;" in page and "a &lt; b &amp; c" in page


def test_write_html_makes_the_folder(tmp_path: Path) -> None:
    written = write_html(Report("Run", True, "", []), tmp_path / "deep" / "r.html")
    assert written.read_text().startswith("<!DOCTYPE html>")


def test_the_recorder_counts_outcomes_per_second_and_takes_marks_and_samples() -> None:
    recorder = Recorder(started=1000.0)
    recorder.outcomes(1000.2, Counter({"processed": 3}))
    recorder.outcomes(1000.9, Counter({"processed": 1, "duplicate": 2}))
    recorder.outcomes(1002.5, Counter({"crashed": 10}))
    recorder.mark("redrive", at=1002.0)
    recorder.sample(4, at=1001.0)
    stage = recorder.stage("s", faults=[(1001.5, "throttled"), (990.0, "before the start")])
    assert stage.timeline == {0: {"processed": 4, "duplicate": 2}, 2: {"crashed": 10}}
    assert stage.marks == [(2.0, "redrive")] and stage.dlq == [(1.0, 4)]
    assert stage.faults == [(1.5, "throttled")]


def test_fault_counts_keep_a_timestamped_event_per_add_and_their_fields() -> None:
    counts = FaultCounts()
    before = time.time()
    counts.add("throttled")
    counts.add("crashes_before_effect")
    events = counts.events()
    assert [name for _, name in events] == ["throttled", "crashes_before_effect"]
    assert all(before <= at <= time.time() for at, _ in events)
    assert counts.as_dict()["throttled"] == 1 and "_events" not in counts.as_dict()


def test_the_balance_table_compares_the_sent_log_with_the_ledger() -> None:
    sends = [
        Sent("{}", "original", "t1", "a", "EUR", 100),
        Sent("{}", "resend", "t1", "a", "EUR", 100),
        Sent("{}", "original", "t2", "b", "EUR", 50),
        Sent("x", "invalid"),
    ]
    workload = Workload(waves=[sends])
    assert expected_balances(workload) == {("a", "EUR"): (100, 1), ("b", "EUR"): (50, 1)}
    verdict = Verdict(
        unique_sent=2,
        applied=3,
        dead_lettered=0,
        dead_letter_reasons={},
        applied_twice=["b/EUR: 2 applied, at most 1 sent"],
    )
    found = {("a", "EUR"): (100, 1), ("b", "EUR"): (100, 2)}
    table = balance_table(workload, found, verdict)
    flagged = [row for row in table.rows if row.mismatch]
    assert [row.cells[0] for row in flagged] == ["b/EUR"]
    assert flagged[0].note == "applied twice: 2 applied, at most 1 sent"
    assert flagged[0].cells == ["b/EUR", "50", "1", "100", "2"]


def test_a_key_found_but_not_expected_is_a_mismatch() -> None:
    table = comparison_table("t", ["k", "e", "f"], {"a": (1,)}, {"a": (1,), "z": (5,)})
    assert [(row.cells, row.mismatch) for row in table.rows] == [
        (["a", "1", "1"], False),
        (["z", "-", "5"], True),
    ]


def test_the_campaign_page_has_a_stage_per_mode_with_its_explained_doubles() -> None:
    from pipeline.campaign import CampaignReport, ModeResult, RetentionResult
    from pipeline.ledger_report import campaign_page, stage_for

    workload = Workload(waves=[[Sent("{}", "original", "tx-1", "acct-1", "EUR", 100)]])

    def mode(name: str, explained: list[str]) -> ModeResult:
        verdict = Verdict(
            unique_sent=1,
            applied=1 + len(explained),
            dead_lettered=0,
            dead_letter_reasons={},
            explained_repeats=explained,
            repeats=len(explained),
        )
        recorder = Recorder(started=time.time())
        recorder.outcomes(time.time(), Counter({"processed": 1}))
        found = {("acct-1", "EUR"): (100 * (1 + len(explained)), 1 + len(explained))}
        return ModeResult(
            mode=name,
            sent=1,
            delivered=1,
            redelivered=0,
            invocations=1,
            outcomes={"processed": 1},
            faults={"throttled": 1, "effects_unrecorded": len(explained)},
            redriven=0,
            takeovers=len(explained),
            verdict=verdict,
            wall_seconds=1.0,
            stage=stage_for(
                f"{name} mode",
                recorder,
                [(time.time(), "throttled"), (time.time(), "effects_unrecorded")],
                workload=workload,
                found=found,
                verdict=verdict,
                facts=[],
            ),
        )

    takeover = "acct-1/EUR: 2 applied, 1 sent (tx-1: taken over after a stall)"
    report = CampaignReport(
        settings={},
        modes=[mode("atomic", []), mode("leased", [takeover])],
        retention=RetentionResult(3600, 172800, 10, 10, 0, "refused\n- idempotency_retention"),
        wall_seconds=2.0,
    )
    page = campaign_page(report)
    assert [s.name for s in page.stages] == ["atomic mode", "leased mode", "retention check"]
    assert page.passed and "[leased] PASS" in page.verdict
    leased = page.stages[1]
    assert leased.notes == [f"double explained: {takeover}"]
    (row,) = leased.tables[0].rows
    assert row.mismatch and row.explained
    assert row.note == "explained: 2 applied, 1 sent (tx-1: taken over after a stall)"
    # observed boundaries are not injected faults
    assert [name for _, name in leased.faults] == ["throttled"]
    assert "taken over after a stall" in render_html(page)
    assert '"stage"' not in report.to_json()
