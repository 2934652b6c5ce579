"""Function logs as Lambda keeps them: a function thread's output goes to its log file,
other threads' to the console; `pipeline logs` finds, filters and follows a log; the EMF
lines sum up per metric."""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from exactly_once_local.function_logs import (
    FunctionLog,
    emf_metrics,
    log_dir,
    log_file_name,
    metric_totals,
    read_entries,
)
from pipeline.logs import LogsError, find_log, print_log

EMF = json.dumps(
    {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [
                {
                    "Namespace": "ExactlyOnce",
                    "Dimensions": [["service"]],
                    "Metrics": [
                        {"Name": "processed", "Unit": "Count"},
                        {"Name": "duplicate", "Unit": "Count"},
                    ],
                }
            ],
        },
        "service": "ledger",
        "processed": [3.0, 2.0],
        "duplicate": 1.0,
    }
)


def test_a_function_threads_output_goes_to_its_log_and_the_rest_to_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = FunctionLog("fn", tmp_path / "fn.log")

    def invoke() -> None:
        with log.invocation("req-1"):
            print('{"message": "settled", "message_id": "m-1"}')
            print("partial ", end="")
            print("line", file=sys.stderr)

    worker = threading.Thread(target=invoke)
    worker.start()
    worker.join()
    print("the console's own line")
    assert capsys.readouterr().out == "the console's own line\n"
    lines = [entry.line for entry in read_entries(tmp_path / "fn.log")]
    assert lines[0] == "START RequestId: req-1 Version: $LATEST"
    assert lines[1:3] == ['{"message": "settled", "message_id": "m-1"}', "partial line"]
    assert lines[3] == "END RequestId: req-1"
    assert lines[4].startswith("REPORT RequestId: req-1\tDuration: ")
    assert all(e.timestamp.endswith("Z") for e in read_entries(tmp_path / "fn.log"))


def test_emf_lines_sum_per_metric_and_other_lines_count_nothing(tmp_path: Path) -> None:
    assert emf_metrics(EMF) == {"processed": 5.0, "duplicate": 1.0}
    assert emf_metrics('{"message": "x"}') == {} and emf_metrics("{not json") == {}
    log = FunctionLog("fn", tmp_path / "fn.log")
    log.write_lines([EMF, "START RequestId: r", EMF])
    log.flush()
    assert metric_totals(tmp_path / "fn.log") == {"processed": 10, "duplicate": 2}


def test_the_log_folder_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EXACTLY_ONCE_LOCAL_LOG_DIR", raising=False)
    assert log_dir() == (tmp_path / ".local-cloud" / "logs").resolve()
    monkeypatch.setenv("EXACTLY_ONCE_LOCAL_LOG_DIR", str(tmp_path / "elsewhere"))
    assert log_dir() == (tmp_path / "elsewhere").resolve()
    assert log_dir(tmp_path / "given") == (tmp_path / "given").resolve()
    assert log_file_name("Stack-Fn/1 x") == "Stack-Fn_1_x.log"


def _log(directory: Path, name: str, lines: list[str]) -> Path:
    path = directory / log_file_name(name)
    path.write_text("".join(f"2026-01-01T00:00:00.000Z\t{line}\n" for line in lines))
    return path


def test_a_log_is_found_by_a_part_of_its_function_name(tmp_path: Path) -> None:
    _log(tmp_path, "Ledger-dev-ConsumerFunction-AAA", [])
    time.sleep(0.01)
    newest = _log(tmp_path, "Ledger-dev-ConsumerFunction-BBB", [])
    orders = _log(tmp_path, "Orders-dev-ConsumerFunction-CCC", [])
    assert find_log(tmp_path, "orders") == orders
    assert find_log(tmp_path, "Ledger") == newest  # a redeploy's new name: the newest
    with pytest.raises(LogsError, match="no log of a function named like 'shipments'"):
        find_log(tmp_path, "shipments")


def test_filter_keeps_the_lines_holding_every_word(tmp_path: Path) -> None:
    path = _log(
        tmp_path,
        "fn",
        ['{"message_id": "m-1", "outcome": "processed"}', '{"message_id": "m-2"}', "END"],
    )
    out = io.StringIO()
    assert print_log(path, ["m-1"], out) == 1
    assert (
        out.getvalue() == '2026-01-01T00:00:00.000Z {"message_id": "m-1", "outcome": "processed"}\n'
    )
    assert print_log(path, ["m-2", "processed"], io.StringIO()) == 0
    assert print_log(path, [], io.StringIO()) == 3


def test_follow_prints_lines_written_later(tmp_path: Path) -> None:
    log = FunctionLog("fn", tmp_path / "fn.log")
    log.write_lines(["first"])
    log.flush()
    out = io.StringIO()
    done = threading.Event()

    def later() -> None:
        time.sleep(0.3)
        log.write_lines(["second"])
        log.flush()
        time.sleep(0.6)
        done.set()

    threading.Thread(target=later).start()
    assert print_log(tmp_path / "fn.log", [], out, follow=True, stop=done.is_set) == 2
    assert [line.split(" ", 1)[1] for line in out.getvalue().splitlines()] == ["first", "second"]
