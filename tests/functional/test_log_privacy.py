"""Logs carry no message bodies by default: the real handler, every outcome, a secret everywhere.

The handler module is imported as Lambda would (``ledger.handler``), with the stack's
environment and nothing that opts into event logging (``POWERTOOLS_LOGGER_LOG_EVENT``).
Powertools' Logger writes to the stdout it found when its first logger of the name was
built: the test points it at pytest's capture, and also captures stderr and Python's
logging, so a body written anywhere would be seen.
"""

from __future__ import annotations

import json
import logging
import sys
from types import ModuleType
from typing import Any

import pytest

from exactly_once_local.events import lambda_record, sqs_event
from exactly_once_local.lambda_context import LocalLambdaContext
from pipeline.corpus import build_corpus
from tests.support.aws import LedgerResources
from tests.support.ledger import transaction

SECRET = "s3cr3tZq9"  # letters and digits: valid inside ids, so valid messages carry it too


class _WallClock:
    def now(self) -> float:
        import time

        return time.time()


def _capture_logger(module: ModuleType) -> None:
    """Point the Logger at this test's stdout (capsys swaps it between setup and call).

    Assigned, not setStream(): that flushes the old stream, maybe an earlier test's, closed.
    """
    stream_handler = module.lambda_handler.logger.registered_handler
    assert isinstance(stream_handler, logging.StreamHandler)
    stream_handler.stream = sys.stdout


def _invoke(module: ModuleType, resources: LedgerResources, bodies: list[str]) -> dict[str, Any]:
    records = [lambda_record(body=b, queue_arn=resources.queue_arn) for b in bodies]
    response: dict[str, Any] = module.lambda_handler(
        sqs_event(*records), LocalLambdaContext(clock=_WallClock())
    )
    return response


def _secret_bodies() -> dict[str, list[str]]:
    """Bodies with the secret in every field they have, per outcome they must reach."""
    s = SECRET
    valid = transaction(f"tx-{s}", account_id=f"acct-{s}", amount="4.00")
    return {
        "processed": [json.dumps(valid)],
        "duplicate": [json.dumps(valid)],
        "conflict": [
            json.dumps({**valid, "account_id": f"other-{s}"}),
            json.dumps({**valid, "amount": "4.01"}),
        ],
        "invalid": [
            f"not json {s}",
            json.dumps([s]),
            json.dumps(s),
            json.dumps({"transaction_id": {"nested": s}, "account_id": s}),
            json.dumps({"transaction_id": s * 200, "account_id": s}),
            json.dumps(transaction(f"tx-bad-{s}", account_id=f"acct {s}", amount=s, currency=s)),
            json.dumps(transaction(f"tx-extra-{s}", account_id=f"a-{s}", note=s, meta={"k": s})),
            json.dumps(transaction(f"tx-unicode-{s}", account_id=f"é-{s}", amount=f"1.{s}")),
            json.dumps(transaction(f"tx-amt-{s}", account_id=f"a-{s}", amount=4.5)),
            "[" * 5000 + json.dumps(s) + "]" * 5000,
        ],
    }


def _captured(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    out = capsys.readouterr()
    return out.out + out.err + caplog.text


def test_no_log_line_carries_a_body_or_a_field_value(
    handler_module: ModuleType,
    resources: LedgerResources,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # Lambda's default; botocore's DEBUG logs hold requests
    _capture_logger(handler_module)
    bodies = _secret_bodies()
    # GIVEN the first transaction processed, WHEN its resend, conflicts and invalid bodies follow
    _invoke(handler_module, resources, bodies["processed"])
    response = _invoke(
        handler_module, resources, bodies["duplicate"] + bodies["conflict"] + bodies["invalid"]
    )
    assert response == {"batchItemFailures": []}
    decisions = handler_module.lambda_handler.last_decisions.values()
    outcomes = sorted(d.outcome.value for d in decisions)
    assert outcomes == sorted(
        ["duplicate"] + ["conflict"] * 2 + ["invalid"] * len(bodies["invalid"])
    )
    logged = _captured(capsys, caplog)
    # THEN one line per message was logged, with its outcome; none holds the secret
    settled = [
        json.loads(line)
        for line in logged.splitlines()
        if line.startswith("{") and "message settled" in line
    ]
    assert len(settled) == 1 + 3 + len(bodies["invalid"])
    assert SECRET not in logged
    for body in (b for group in bodies.values() for b in group):
        assert body not in logged


def test_the_hostile_corpus_leaves_no_body_in_the_logs(
    handler_module: ModuleType,
    resources: LedgerResources,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # Lambda's default; botocore's DEBUG logs hold requests
    _capture_logger(handler_module)
    corpus = build_corpus(f"p{SECRET}")
    _invoke(handler_module, resources, [t.body for t in corpus.originals])
    messages = [m.body for m in corpus.mixed()]
    for start in range(0, len(messages), 10):
        response = _invoke(handler_module, resources, messages[start : start + 10])
        assert response == {"batchItemFailures": []}
    logged = _captured(capsys, caplog)
    assert f"p{SECRET}" not in logged  # every id and account in the corpus carries it
    for body in messages:
        if len(body) >= 12:  # shorter ones ("[]", "null") occur in any JSON
            assert body not in logged


def test_an_unknown_field_name_is_not_logged(
    handler_module: ModuleType,
    resources: LedgerResources,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _capture_logger(handler_module)
    body = json.dumps(transaction("tx-field-name", **{f"card-{SECRET}": "x"}))
    _invoke(handler_module, resources, [body])
    assert SECRET not in capsys.readouterr().out
