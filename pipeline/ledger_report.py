"""The ledger's parts of the HTML reports: balances expected (from the sent log) against
found (``pipeline.verdict.ledger_balances``), and the demo's and campaign's pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.faults import OBSERVED
from pipeline.report_html import Report, Stage, Table
from pipeline.timeline import Recorder, comparison_table
from pipeline.verdict import Verdict
from pipeline.workload import Workload

if TYPE_CHECKING:
    from pipeline.campaign import CampaignReport
    from pipeline.demo import DemoReport

Balances = dict[tuple[str, str], tuple[int, int]]
BALANCE_COLUMNS = [
    "account/currency",
    "expected balance",
    "expected count",
    "found balance",
    "found count",
]


def expected_balances(workload: Workload) -> Balances:
    """Each (account, currency): the sum of its unique transactions and how many."""
    expected: dict[tuple[str, str], tuple[int, int]] = {}
    for sent in workload.sends:
        if sent.kind != "original" or not (sent.account_id and sent.currency):
            continue
        key = (sent.account_id, sent.currency)
        cents, count = expected.get(key, (0, 0))
        expected[key] = (cents + sent.amount_cents, count + 1)
    return expected


def _label(key: tuple[str, str]) -> str:
    return f"{key[0]}/{key[1]}"


def _verdict_notes(verdict: Verdict) -> dict[tuple[str, str], str]:
    """The verdict's word on each balance it names ("acct/CUR: ...")."""
    notes: dict[tuple[str, str], str] = {}
    for title, lines in (
        ("explained", verdict.explained_repeats),
        ("applied twice", verdict.applied_twice),
        ("lost", verdict.lost),
        ("wrong balance", verdict.wrong_balances),
    ):
        for line in lines:
            label, separator, text = line.partition(": ")
            account, slash, currency = label.partition("/")
            if separator and slash:
                notes[(account, currency)] = f"{title}: {text}"
    return notes


def balance_table(workload: Workload, found: Balances, verdict: Verdict) -> Table:
    notes = _verdict_notes(verdict)
    expected = expected_balances(workload)
    table = comparison_table(
        "Balances: expected from the sent log, found in the ledger table",
        BALANCE_COLUMNS,
        expected,
        found,
        label=_label,
        notes=notes,
    )
    for row in table.rows:
        if row.mismatch and verdict.unsettled and not row.note:
            # Transactions SQS moved to the DLQ may be applied or not: the verdict accepts
            # a balance that some subset of them explains.
            row.note = "explained: within the transactions SQS moved to the DLQ"
        row.explained = row.mismatch and row.note.startswith("explained: ")
    mismatches, explained = table.mismatches, table.explained
    table.caption = (
        f"{len(table.rows)} balances (in minor units) and their transaction counts; "
        f"{mismatches} mismatch{'es' if mismatches != 1 else ''}"
        + (f", {explained} of them explained by the verdict" if explained else "")
        + (", listed first" if mismatches else "")
    )
    return table


def stage_for(
    name: str,
    recorder: Recorder,
    fault_events: list[tuple[float, str]],
    *,
    workload: Workload,
    found: Balances,
    verdict: Verdict,
    facts: list[tuple[str, str]],
) -> Stage:
    """A ledger consumer's stage: timeline, injected faults, DLQ, balances, explained doubles."""
    injected = [(at, name) for at, name in fault_events if name not in OBSERVED]
    notes = [f"double explained: {line}" for line in verdict.explained_repeats]
    notes += [f"applied twice: {line}" for line in verdict.applied_twice]
    notes += [f"lost: {line}" for line in verdict.lost]
    notes += [f"wrong balance: {line}" for line in verdict.wrong_balances]
    return recorder.stage(
        name,
        faults=injected,
        facts=facts,
        tables=[balance_table(workload, found, verdict)],
        notes=notes,
    )


def _common_facts(result: Any) -> list[tuple[str, str]]:
    v: Verdict = result.verdict
    return [
        ("sent", f"{result.sent} messages ({v.unique_sent} unique transactions)"),
        ("delivered", f"{result.delivered} in {result.invocations} invocations"),
        ("redelivered", str(result.redelivered)),
        ("outcomes", ", ".join(f"{k} {n}" for k, n in sorted(result.outcomes.items()))),
        (
            "faults injected",
            ", ".join(
                f"{k.replace('_', ' ')} {n}"
                for k, n in result.faults.items()
                if n and k not in OBSERVED
            )
            or "none",
        ),
        ("applied (ledger)", f"{v.applied} transactions"),
        ("dead-lettered", str(v.dead_lettered)),
    ]


def demo_facts(report: DemoReport) -> list[tuple[str, str]]:
    wall = ("wall time", f"{report.wall_seconds:.1f} s")
    return [("where", report.where), *_common_facts(report), wall]


def demo_page(report: DemoReport, verdict_line: str) -> Report:
    stage = report.stage if report.stage is not None else Stage("ledger consumer")
    return Report(
        title="Exactly-once demo: ledger consumer",
        subtitle=f"on {report.where}; {report.sent} messages; wall time "
        f"{report.wall_seconds:.1f} s",
        passed=report.verdict.passed,
        verdict=verdict_line.removeprefix("PASS - ").removeprefix("FAIL").strip()
        or "the ledger does not match the sent log (see the balances below)",
        stages=[stage],
    )


def mode_facts(result: Any) -> list[tuple[str, str]]:
    return [
        *_common_facts(result),
        ("redriven from the DLQ", str(result.redriven)),
        ("lease takeovers", str(result.takeovers)),
        ("wall time", f"{result.wall_seconds:.1f} s"),
    ]


def campaign_page(report: CampaignReport) -> Report:
    stages: list[Stage] = []
    lines: list[str] = []
    for mode in report.modes:
        stage = mode.stage if mode.stage is not None else Stage(f"{mode.mode} mode")
        stages.append(stage)
        v = mode.verdict
        lines.append(
            f"[{mode.mode}] {'PASS' if mode.passed else 'FAIL'}: {v.applied} of "
            f"{v.unique_sent} unique applied; lost {len(v.lost)}, applied twice "
            f"(unexplained) {len(v.applied_twice)}, wrong balances {len(v.wrong_balances)}"
            + (f"; doubles explained by lease takeovers {v.repeats}" if v.repeats else "")
        )
    r = report.retention
    lines.append(
        f"[retention] {'PASS' if r.passed else 'FAIL'}: short retention applied "
        f"{r.applied_twice_with_short_retention} of {r.late_duplicates} late duplicates "
        f"twice (on purpose), safe retention {r.applied_twice_with_safe_retention}, and the "
        "construct refuses the short one"
    )
    stages.append(
        Stage(
            name="retention check",
            facts=[
                (
                    "late duplicates",
                    f"{r.late_duplicates}, {r.late_duplicate_after_seconds // 3600} h after "
                    "processing",
                ),
                (
                    f"retention {r.retention_seconds // 3600} h",
                    f"{r.applied_twice_with_short_retention} applied twice (on purpose)",
                ),
                ("retention 19 days", f"{r.applied_twice_with_safe_retention} applied twice"),
                ("the construct", (r.construct_refusal.splitlines() or [""])[-1].strip("- ")[:300]),
            ],
        )
    )
    return Report(
        title="Reliability campaign: ledger consumer",
        subtitle=f"modes {', '.join(m.mode for m in report.modes)}; wall time "
        f"{report.wall_seconds:.0f} s",
        passed=report.passed,
        verdict="\n".join(lines),
        stages=stages,
    )
