"""Both local runtimes run the handler as Lambda does, metrics included, and keep the
console quiet when metrics are disabled, however many invocations a warm container
serves. The local cloud's container writes every invocation's metrics to the function's
log instead, flag or not (as Lambda sends them to CloudWatch Logs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exactly_once import ManualClock
from exactly_once_local.events import lambda_record, sqs_event
from exactly_once_local.function_logs import FunctionLog, read_entries
from exactly_once_local.lambda_context import LocalLambdaContext
from exactly_once_local.runtime import FunctionSettings, LocalContainer
from pipeline.demo import ledger_consumer
from tests.support.aws import LedgerResources
from tests.support.ledger import transaction

LEDGER = FunctionSettings(
    name="ledger", handler="ledger.handler.lambda_handler", environment={}, timeout_seconds=30
)


def local_cloud_container(resources: LedgerResources) -> Callable[..., Any]:
    """The local cloud's: the handler module imported afresh, its own clients, its log."""
    log = FunctionLog(LEDGER.name, resources.log_path)  # type: ignore[attr-defined]
    return LocalContainer(LEDGER, report_batch_item_failures=True, log=log)


def in_process_function(resources: LedgerResources) -> Callable[..., Any]:
    """``pipeline demo --in-process``'s: the ledger consumer wired on the test's moto."""
    return ledger_consumer(resources, resources.dynamodb)


@pytest.mark.parametrize("runtime", [local_cloud_container, in_process_function])
@pytest.mark.parametrize("disabled", ["true", "false"])
def test_metrics_reach_stdout_only_when_enabled_even_after_a_hundred_invocations(
    resources: LedgerResources,
    tmp_path: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    runtime: Callable[[LedgerResources], Callable[..., Any]],
    disabled: str,
) -> None:
    # GIVEN a warm container of the ledger handler, metrics disabled or not
    for name, value in resources.environ(POWERTOOLS_METRICS_DISABLED=disabled).items():
        monkeypatch.setenv(name, value)
    resources.log_path = tmp_path / "ledger.log"  # type: ignore[attr-defined]
    function = runtime(resources)
    body = json.dumps(transaction("t-1", account_id="a"))
    # WHEN it handles more invocations than Powertools keeps values per metric (100)
    for _ in range(101):
        event = sqs_event(lambda_record(body=body, queue_arn=resources.queue_arn))
        assert function(event, LocalLambdaContext(clock)) == {"batchItemFailures": []}
    # THEN EMF lines appear once per invocation when enabled, and never when disabled; the
    # local cloud's container writes them to the function's log, never to stdout
    emf = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    if runtime is local_cloud_container:
        logged = [e for e in read_entries(tmp_path / "ledger.log") if '"_aws"' in e.line]
        assert (len(emf), len(logged)) == (0, 101)
    else:
        assert len(emf) == (0 if disabled == "true" else 101)
    assert resources.balance("a") == 1000
