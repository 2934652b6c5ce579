"""The new rows' arithmetic on made-up measurements: no timing is measured or asserted here.

Batch-100 sizing (at least ten full batches), min/median/max over full batches, the
sensitivity rows (a transaction's round trip growing with its items) and their break-even,
and the cold-start target judged on import + setup against the recipe without pydantic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.coldstart import BASELINE_LABEL, child_instructions, summary, valgrind_missing
from bench.report import (
    SENSITIVITY_ITEM_MS,
    _import_target,
    batch_spread,
    break_even_item_ms,
    rate_spread,
    rate_with_item_cost,
    sensitivity_figures,
)
from bench.run import (
    MIN_FULL_BATCHES,
    Settings,
    not_evaluated_reason,
    throughput_messages,
    throughput_phase,
)
from bench.sides import BASELINE, OURS_ATOMIC, OURS_LEASED


def settings(*, quick: bool = False, throughput: int = 300) -> Settings:
    return Settings(
        messages=300,
        throughput_messages=throughput,
        round_trip_ms=5.0,
        import_runs=11,
        instruction_runs=3,
        seed=1,
        rate_per_second=100.0,
        memory_mb=512,
        warmup_messages=10,
        out=Path("unused.json"),
        quick=quick,
    )


def batch(messages: int, seconds: float, items: int = 0, requests: int = 1) -> dict[str, Any]:
    return {
        "messages": messages,
        "modeled_seconds": seconds,
        "transact_items": items,
        "requests": requests,
    }


def test_a_full_run_measures_batch_100_over_at_least_ten_full_batches() -> None:
    assert MIN_FULL_BATCHES >= 10
    assert throughput_messages(settings(), 100) == 1000
    assert throughput_messages(settings(), 10) == 300  # 30 batches already
    assert throughput_messages(settings(throughput=2500), 100) == 2500
    assert not_evaluated_reason(settings(), 100) is None
    # a quick run keeps its few messages, and batch 100 is then not evaluated
    assert throughput_messages(settings(quick=True, throughput=20), 100) == 20
    assert not_evaluated_reason(settings(quick=True, throughput=20), 100) == (
        "not evaluated (--quick)"
    )
    assert not_evaluated_reason(settings(quick=True, throughput=20), 10) is None


def test_a_phase_adds_up_its_batches() -> None:
    # GIVEN two full batches of 10 and a partial one of 5
    batches = [batch(10, 0.02, 20, 1), batch(10, 0.03, 20, 2), batch(5, 0.01, 10, 1)]
    tally = {"requests": 4, "moto_seconds": 0.5, "simulated_seconds": 0.02, "transact_items": 50}
    # WHEN summed as a phase
    phase = throughput_phase(batches, 10, tally)
    # THEN 25 messages in 0.06 modeled seconds, two full batches
    assert phase["messages"] == 25 and phase["batches"] == 3 and phase["full_batches"] == 2
    assert phase["messages_per_second"] == pytest.approx(25 / 0.06)
    assert phase["requests_per_message"] == pytest.approx(4 / 25)


def test_spreads_are_over_full_batches_per_message() -> None:
    batches = [batch(10, 0.02, requests=1), batch(10, 0.05, requests=2), batch(3, 0.01)]
    # requests per message of the two full batches: 0.1 and 0.2 (the partial one left out)
    assert batch_spread(batches, "requests") == pytest.approx([0.1, 0.15, 0.2])
    assert rate_spread(batches) == pytest.approx([200.0, 350.0, 500.0])
    # with 1 ms per transaction item, a batch of 20 items takes 20 ms longer
    grown = [batch(10, 0.02, items=20), batch(10, 0.05, items=20)]
    assert rate_spread(grown, 0.001) == pytest.approx([10 / 0.07, (10 / 0.07 + 10 / 0.04) / 2, 250])


def test_the_per_item_cost_slows_transactions_only() -> None:
    # GIVEN ours: 2 batches of 10, one transaction of 20 items each, 10 ms modeled per batch;
    # the recipe: 2 batches of 10 at 150 ms each, no transaction
    ours = {"per_batch": [batch(10, 0.010, 20), batch(10, 0.010, 20)]}
    recipe = {"per_batch": [batch(10, 0.150), batch(10, 0.150)]}
    # THEN at no per-item cost ours makes 1000 msg/s, the recipe 66.7
    assert rate_with_item_cost(ours, 0.0) == pytest.approx(1000.0)
    assert rate_with_item_cost(recipe, 0.0) == pytest.approx(20 / 0.3)
    # AND at 0.5 ms per item each batch takes 10 ms more: 500 msg/s; the recipe unchanged
    assert rate_with_item_cost(ours, 0.0005) == pytest.approx(500.0)
    assert rate_with_item_cost(recipe, 0.0005) == pytest.approx(20 / 0.3)
    # AND ours falls to the recipe's rate when 20 items cost 140 ms: 7 ms per item
    assert break_even_item_ms(ours, recipe) == pytest.approx(7.0)
    # AND a side that sends no transaction item has no break-even
    assert break_even_item_ms(recipe, ours) is None


def _throughput(size: str) -> dict[str, Any]:
    ours = {"new": {"per_batch": [batch(int(size), 0.010, 2 * int(size))]}}
    recipe = {"new": {"per_batch": [batch(int(size), 0.15 * int(size) / 10)]}}
    return {OURS_ATOMIC: ours, OURS_LEASED: recipe, BASELINE: recipe}


def test_the_sensitivity_rows_print_a_ratio_that_falls_as_items_cost_more() -> None:
    # GIVEN made-up batches at both sizes
    throughput = {
        side: {"10": _throughput("10")[side], "100": _throughput("100")[side]}
        for side in (OURS_ATOMIC, OURS_LEASED, BASELINE)
    }
    # WHEN the sensitivity rows are built
    rows = sensitivity_figures(throughput, settings())
    # THEN one row per batch size and per-item cost, each with a ratio and a spread per side
    assert [(r["key"], r["item_ms"]) for r in rows] == [
        (f"messages_per_second_new_b{size}_item_{ms:g}ms", ms)
        for size in ("10", "100")
        for ms in SENSITIVITY_ITEM_MS
    ]
    for size in ("10", "100"):
        ratios = [r["ratio_atomic_to_baseline"] for r in rows if f"_b{size}_" in r["key"]]
        assert ratios == sorted(ratios, reverse=True) and ratios[-1] < ratios[0]
        for row in rows:
            assert set(row["spread"]) == {OURS_ATOMIC, OURS_LEASED, BASELINE}
    # AND the ratio is the two rates' quotient: at 1 ms per item, batch 10 takes 30 ms
    (row,) = [r for r in rows if r["key"] == "messages_per_second_new_b10_item_1ms"]
    assert row["values"][OURS_ATOMIC] == pytest.approx(10 / 0.030)
    assert row["ratio_atomic_to_baseline"] == pytest.approx((10 / 0.030) / (10 / 0.15))


def test_a_batch_size_not_evaluated_has_no_sensitivity_rows() -> None:
    throughput = {
        side: {"10": _throughput("10")[side], "100": {"evaluated": False, "reason": "quick"}}
        for side in (OURS_ATOMIC, OURS_LEASED, BASELINE)
    }
    keys = [row["key"] for row in sensitivity_figures(throughput, settings())]
    assert keys and all("_b10_" in key for key in keys)


def _coldstart(samples: list[float]) -> dict[str, Any]:
    return {figure: summary(samples) for figure in ("import", "ready", "wall_ready")}


def _cold_start_figures(instructions: tuple[float, float] | None) -> list[dict[str, Any]]:
    counted: dict[str, Any] = {"key": "ready_instructions"}
    if instructions is None:
        counted.update(values={OURS_ATOMIC: None, BASELINE: None}, not_evaluated="not counted (x)")
    else:
        mine, theirs = instructions
        counted.update(
            values={OURS_ATOMIC: mine, BASELINE: theirs}, ratio_atomic_to_baseline=mine / theirs
        )
    return [
        {"key": "import_ms", "values": {OURS_ATOMIC: 210.0, BASELINE: 280.0}},
        {"key": "ready_ms", "values": {OURS_ATOMIC: 320.0, BASELINE: 280.0}},
        counted,
    ]


def _slower_once_ready() -> dict[str, Any]:
    # Ours imports faster (setup deferred) but is slower once ready to handle a batch
    coldstart = {
        "ours": {**_coldstart([0.30, 0.32, 0.34]), "import": summary([0.20, 0.21, 0.22])},
        "baseline": {**_coldstart([0.27, 0.28, 0.29]), "import": summary([0.27, 0.28, 0.29])},
    }
    coldstart["ours"]["page_faults"] = {"median": 10_022, "min": 10_020, "max": 10_030}
    coldstart["baseline"]["page_faults"] = {"median": 9_782, "min": 9_779, "max": 9_790}
    return coldstart


def test_the_cold_start_target_is_judged_on_import_plus_setup_in_cpu_time_without_valgrind() -> (
    None
):
    # GIVEN CPU times of 320 against 280 ms once ready, and no instruction count
    target = _import_target(_cold_start_figures(None), _slower_once_ready())
    # THEN a failure on CPU time, the import alone named beside it
    assert target["passed"] is False and target["value"] == pytest.approx(320 / 280)
    assert BASELINE_LABEL in target["target"] and target["target"].endswith("in CPU time")
    assert target["note"].startswith("judged on CPU time: instructions not counted (x). ")
    assert "Import alone: ours 210 ms, the recipe 280 ms, ratio 0.75" in target["note"]
    assert "wider than the runs' min-max spread" in target["note"]
    # AND the runs compared pair by pair (0.30/0.27, 0.32/0.28, 0.34/0.29), the faults beside
    assert "run by run, ours over the recipe: median 1.143, min-max 1.111-1.172" in target["note"]
    assert "minor page faults 10022 and 9782" in target["note"]


@pytest.mark.parametrize(("instructions", "passed"), [((1150, 1100), False), ((1000, 1100), True)])
def test_the_cold_start_target_is_judged_on_instructions_where_counted(
    instructions: tuple[float, float], passed: bool
) -> None:
    # GIVEN CPU times of 320 against 280 ms once ready, and an instruction count
    target = _import_target(_cold_start_figures(instructions), _slower_once_ready())
    # THEN the verdict is the count's, the CPU times beside it
    mine, theirs = instructions
    assert target["passed"] is passed and target["value"] == pytest.approx(mine / theirs)
    assert target["target"].endswith("in instructions")
    assert target["note"].startswith(
        f"judged on instructions to ready (valgrind; the machine's load does not move them): "
        f"ours {mine:.1f} M, the recipe {theirs:.1f} M, ratio {mine / theirs:.3f}. CPU time"
    )
    assert "ours 320 ms (min-max 300-340)" in target["note"] and "ratio 1.143" in target["note"]


def test_summary_is_min_median_max() -> None:
    assert summary([0.3, 0.1, 0.2]) == {
        "median_seconds": 0.2,
        "min_seconds": 0.1,
        "max_seconds": 0.3,
        "samples_seconds": [0.3, 0.1, 0.2],
    }


def test_the_instruction_row_has_each_sides_counts_or_says_why_not() -> None:
    from bench.report import _instructions_figure

    counted = {"median": 1.05e9, "min": 1.04e9, "max": 1.06e9, "samples": [], "interpreter": 9e7}
    coldstart = {
        "ours": {"instructions": counted},
        "baseline": {"instructions": {**counted, "min": 1.12e9, "median": 1.125e9, "max": 1.13e9}},
    }
    row = _instructions_figure(coldstart, settings())
    assert row["values"][OURS_ATOMIC] == pytest.approx(1050.0)
    assert row["ratio_atomic_to_baseline"] == pytest.approx(1.05 / 1.125)
    assert row["spread"][BASELINE] == pytest.approx([1120.0, 1125.0, 1130.0])
    assert "median of 3 fresh processes" in row["label"]
    # AND where valgrind is missing: no value, the reason instead
    reason = {"instructions_not_counted": "valgrind is not installed (apt install valgrind)"}
    row = _instructions_figure({"ours": reason, "baseline": reason}, settings())
    assert row["not_evaluated"] == "not counted (valgrind is not installed (apt install valgrind))"
    assert row["values"][OURS_ATOMIC] is None


@pytest.mark.slow
@pytest.mark.skipif(valgrind_missing() is not None, reason="valgrind is not installed")
def test_valgrind_counts_the_same_instructions_run_after_run() -> None:
    # The bare child, then one that imports a small module: counted, repeatable, more.
    bare = [child_instructions(None) for _ in range(2)]
    importing = child_instructions("decimal")
    assert bare[0] > 10_000_000
    assert abs(bare[0] - bare[1]) < bare[0] / 1000
    assert importing > bare[0] + 1_000_000


def test_a_failing_valgrind_leaves_the_row_uncounted_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN valgrind installed but failing (an odd Python build, a timeout)
    import subprocess

    import bench.coldstart

    def fails(module: str | None) -> int:
        raise subprocess.CalledProcessError(1, ["valgrind"], stderr="valgrind: unhandled\ninsn")

    monkeypatch.setattr(bench.coldstart, "child_instructions", fails)
    monkeypatch.setattr(bench.coldstart, "warm_up", lambda modules: None)
    # WHEN the bench counts instructions THEN it gets the reason, not an exception
    reason = bench.coldstart.instructions_to_ready(3)
    assert isinstance(reason, str)
    assert reason.startswith("valgrind failed: Command '['valgrind']' returned non-zero")
    assert reason.endswith("(valgrind: unhandled insn)")


def test_a_negative_instruction_run_count_is_refused() -> None:
    from bench.run import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--instruction-runs", "-1"])
    assert parse_args(["--instruction-runs", "0"]).instruction_runs == 0


def test_a_child_neither_inherits_bytecode_settings_nor_aws_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench.coldstart import child_environment

    # GIVEN a caller that may not write bytecode, with its own path and profile
    for name, value in {
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPYCACHEPREFIX": "/tmp/elsewhere",
        "PYTHONPATH": "/tmp/mine",
        "AWS_PROFILE": "prod",
    }.items():
        monkeypatch.setenv(name, value)
    # THEN a child gets none of them, and a fixed hash seed only when counting
    environ = child_environment()
    assert not {"PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONPATH"} & set(environ)
    assert "AWS_PROFILE" not in environ and environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "PYTHONHASHSEED" not in environ
    assert child_environment(counting=True)["PYTHONHASHSEED"] == "0"


def test_each_module_is_warmed_up_before_any_measured_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bench.coldstart

    children: list[str] = []

    class Ran:
        stdout = "0.1 0.2 0.1 0.2 9000\n"

    def child(module: str, ready: str, **_: Any) -> Ran:
        children.append(module)
        return Ran()

    monkeypatch.setattr(bench.coldstart, "_child", child)
    bench.coldstart.median_import_seconds(2, ("a", "b"))
    # The first child of each module writes its bytecode; then the measured, alternating
    assert children == ["a", "b", "a", "b", "b", "a"]
