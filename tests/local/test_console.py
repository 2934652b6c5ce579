"""`python -m pipeline local up` as a person watches it: under a 1,000-message burst the
console shows one line per batch (function, size, outcomes, duration) and no JSON; the
functions' log lines and metrics are in their log files, where `pipeline logs` finds a
message's line by its id and `pipeline status` sums the outcome metrics."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from exactly_once_local.moto_server import free_port

pytestmark = [pytest.mark.local, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STACK = "ExactlyOnceLedger-dev"
READY = "Ctrl-C to stop"
BURST = 1000
BATCH_LINE = re.compile(
    r"^\d\d:\d\d:\d\d (?P<function>\S+): batch of (?P<size>\d+): (?P<what>[^()]+) "
    r"\((?P<ms>\d+) ms\)$"
)


def _environ(log_dir: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    environ.update(
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_DISABLE_CLI_TELEMETRY="true",
        CDK_DISABLE_VERSION_CHECK="true",
        PYTHONUNBUFFERED="1",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="eu-west-1",
        EXACTLY_ONCE_LOCAL_LOG_DIR=str(log_dir),
    )
    return environ


@dataclass
class Up:
    """A running `local up`: its process, its console lines so far, its endpoint."""

    process: subprocess.Popen[str]
    endpoint: str
    log_dir: Path
    environ: dict[str, str]
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ready_at: int = 0

    def batch_lines(self, since: int = 0) -> list[re.Match[str]]:
        start = max(since, self.ready_at)
        return [m for line in self.lines[start:] if (m := BATCH_LINE.match(line))]

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *argv],
            cwd=ROOT,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _reader(stream: Any, lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    log_dir = tmp_path_factory.mktemp("logs")
    environ = _environ(log_dir)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "local", "up", "--port", str(port), "--stack", STACK],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    running = Up(process, f"http://localhost:{port}", log_dir, environ)
    for stream, lines in ((process.stdout, running.lines), (process.stderr, running.errors)):
        threading.Thread(target=_reader, args=(stream, lines), daemon=True).start()
    deadline = time.monotonic() + 300
    while not any(READY in line for line in running.lines):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"not ready: {running.lines}\n{running.errors}")
        time.sleep(0.2)
    running.ready_at = next(i for i, line in enumerate(running.lines) if READY in line) + 1
    try:
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _sqs(up: Up) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=up.endpoint,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _queue_url(up: Up) -> str:
    for line in up.lines[: up.ready_at]:
        key, _, value = line.strip().partition(": ")
        if key == "QueueUrl":
            return value
    raise AssertionError(f"no QueueUrl printed: {up.lines[: up.ready_at]}")


def _transaction(index: int, prefix: str) -> str:
    return json.dumps(
        {
            "transaction_id": f"{prefix}-{index:05d}",
            "account_id": f"acct-{index % 20}",
            "amount": "1.00",
            "currency": "EUR",
        }
    )


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def test_a_burst_shows_one_console_line_per_batch_and_no_json(up: Up) -> None:
    # GIVEN local up running the ledger stack, its console read line by line
    sqs = _sqs(up)
    queue_url = _queue_url(up)
    since = len(up.lines)
    # WHEN a burst of 1,000 transactions arrives
    for start in range(0, BURST, 10):
        entries = [
            {"Id": str(i), "MessageBody": _transaction(start + i, "burst")} for i in range(10)
        ]
        assert not sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed")

    def processed() -> int:
        return sum(
            int(n)
            for m in up.batch_lines(since)
            for n in re.findall(r"\bprocessed (\d+)", m.group("what"))
        )

    _wait(lambda: processed() >= BURST, 600, "the burst to be processed")
    # THEN every console line since start is a batch line: function, size, outcomes, duration
    console = [line for line in up.lines[up.ready_at :] if line.strip()]
    batches = up.batch_lines(since)
    assert all(BATCH_LINE.match(line) for line in console), [
        c for c in console if not BATCH_LINE.match(c)
    ][:5]
    assert not [line for line in console if "{" in line or '"_aws"' in line]
    assert processed() == BURST  # each transaction once
    assert sum(int(m.group("size")) for m in batches) >= BURST
    assert all(m.group("function").startswith(f"{STACK}-") for m in batches)
    # AND the function's log has what the console does not: a JSON line per message, an
    # EMF line and a START/REPORT pair per invocation
    (log,) = up.log_dir.glob(f"{STACK}-*.log")
    text = log.read_text()
    assert text.count('"message settled"') >= BURST
    assert text.count("REPORT RequestId:") == text.count("START RequestId:") >= len(batches)
    # AND nothing of it went to stderr either
    assert not [line for line in up.errors if "{" in line], up.errors[:5]
    assert text.count('"_aws"') >= len(batches)


def test_pipeline_logs_finds_a_message_line_by_its_id_and_status_sums_the_metrics(
    up: Up,
) -> None:
    # GIVEN one transaction sent to the running local cloud, with its SQS message id
    sqs = _sqs(up)
    body = _transaction(1, "find-me")
    message_id = sqs.send_message(QueueUrl=_queue_url(up), MessageBody=body)["MessageId"]
    # WHEN `pipeline logs` is asked for the ledger function's lines with that id
    found: list[str] = []

    def logged() -> bool:
        result = up.cli("logs", "Ledger", "--filter", message_id, "--log-dir", str(up.log_dir))
        found[:] = [line for line in result.stdout.splitlines() if line.strip()]
        return bool(found)

    _wait(logged, 120, f"a log line with {message_id}")
    # THEN it prints that message's line (one per delivery: SQS may deliver twice), the
    # JSON log line with its id and outcome, timestamped
    outcomes: list[str] = []
    for line in found:
        timestamp, _, entry = line.partition(" ")
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", timestamp)
        logged_entry = json.loads(entry)
        assert logged_entry["message_id"] == message_id
        outcomes.append(logged_entry["outcome"])
    assert outcomes[0] == "processed" and set(outcomes) <= {"processed", "duplicate"}
    # AND `pipeline status` shows the outcome counts summed from the logged metrics
    status = up.cli("status", "--stack", STACK, "--endpoint-url", up.endpoint, "--json")
    assert status.returncode == 0, status.stderr
    outcomes = json.loads(status.stdout)["outcomes_logged"]
    assert outcomes["processed"] >= 1
    text = up.cli("status", "--stack", STACK, "--endpoint-url", up.endpoint).stdout
    assert "outcomes      processed" in text
