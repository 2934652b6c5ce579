"""The operator commands end to end on one local cloud: send, status, dlq, inspect, verify.

One local cloud serves the whole module (starting it takes seconds); each test uses its
own accounts and transaction ids, and the DLQ tests purge the DLQ before they start.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exactly_once_local.moto_deploy import LocalClients
from exactly_once_local.moto_server import free_port
from pipeline.__main__ import main
from pipeline.local_cloud import LocalCloud, start_local_cloud
from pipeline.ops.dlq import confirm
from tests.support.cli import Cli

pytestmark = [pytest.mark.local, pytest.mark.slow]


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    running = start_local_cloud(free_port(), "dev")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def cli(cloud: LocalCloud, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(cloud, capsys)


def client(cloud: LocalCloud, service: str) -> Any:
    return LocalClients(cloud.endpoint_url, cloud.endpoint.region).client(service)


def tx(transaction_id: str, account: str, amount: str = "10.00") -> str:
    return json.dumps(
        {
            "transaction_id": transaction_id,
            "account_id": account,
            "amount": amount,
            "currency": "EUR",
        }
    )


def balance_cents(cloud: LocalCloud, account: str) -> int:
    item = (
        client(cloud, "dynamodb")
        .get_item(
            TableName=cloud.outputs["LedgerTableName"],
            Key={"account_id": {"S": account}, "currency": {"S": "EUR"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return int(item["balance_minor"]["N"]) if item else 0


def drained(cloud: LocalCloud) -> None:
    assert cloud.wait_until_empty(timeout_seconds=180), "the source queue did not drain in 180 s"


def dlq_messages(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Every DLQ message, made visible again before returning."""
    sqs = client(cloud, "sqs")
    url = cloud.outputs["DeadLetterQueueUrl"]
    seen: dict[str, dict[str, Any]] = {}
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=30,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        seen.update({m["MessageId"]: m for m in batch})
    for m in seen.values():
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
        )
    return list(seen.values())


def empty_dlq(cloud: LocalCloud) -> None:
    """Delete every DLQ message (PurgeQueue is allowed once a minute: the purge test's)."""
    sqs = client(cloud, "sqs")
    url = cloud.outputs["DeadLetterQueueUrl"]
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_every_command_has_help_with_an_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in (
        ["send"],
        ["status"],
        ["dlq", "list"],
        ["dlq", "redrive"],
        ["dlq", "purge"],
        ["inspect"],
        ["verify"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--help"])
        out = capsys.readouterr().out
        assert exit_info.value.code == 0
        assert "examples:" in out and f"pipeline {' '.join(command)}" in out, (
            f"{command} --help has no example:\n{out}"
        )


def test_no_such_stack_is_one_line_and_exit_4(cli: Cli) -> None:
    code = cli("status", "--stack", "NoSuchStack")

    assert code == 4
    assert cli.err.strip().splitlines() == [
        f"pipeline: error: no stack NoSuchStack at {cli.cloud.endpoint_url}: deploy it, or "
        "pass --stack (and --endpoint-url for the local cloud)"
    ]


def test_send_from_a_file_with_bad_lines_sends_the_good_ones(cli: Cli, tmp_path: Path) -> None:
    # GIVEN a file with three good lines, two bad ones and a blank line
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(
            [
                tx("file-1", "file-acct", "1.00"),
                "{not json",
                tx("file-2", "file-acct", "2.00"),
                "",
                tx("file-3", "file-acct", "1.005"),
                tx("file-3", "file-acct", "3.00"),
            ]
        )
        + "\n"
    )
    sent_log = tmp_path / "sent.jsonl"

    # WHEN it is sent
    code = cli("send", "--file", str(source), "--sent-log", str(sent_log))

    # THEN each bad line is reported by number, the good ones are sent and logged
    assert code == 3, cli.err
    assert "line 2: body is not JSON" in cli.err
    assert "line 5: invalid transaction: amount" in cli.err
    assert "2 bad lines" in cli.err and "the other 3 were sent" in cli.err
    assert "Traceback" not in cli.err
    assert "sent 3 of 3 messages" in cli.out
    logged = [json.loads(line) for line in sent_log.read_text().splitlines()]
    assert [e["transaction_id"] for e in logged] == ["file-1", "file-2", "file-3"]
    drained(cli.cloud)
    assert balance_cents(cli.cloud, "file-acct") == 600

    # AND verify agrees with the ledger
    assert cli("verify", "--sent-log", str(sent_log), "--only-logged-accounts") == 0, cli.out
    assert "OK: the ledger holds each of the 3 transactions exactly once" in cli.out


def test_send_of_a_missing_file_is_one_line_and_exit_3(cli: Cli, tmp_path: Path) -> None:
    code = cli("send", "--file", str(tmp_path / "nope.jsonl"))

    assert code == 3
    assert cli.err.strip() == f"pipeline: error: no such file: {tmp_path / 'nope.jsonl'}"


def test_generated_send_then_inspect_and_verify(cli: Cli, tmp_path: Path) -> None:
    sent_log = tmp_path / "sent.jsonl"
    code = cli(
        "send",
        "--count",
        "40",
        "--accounts",
        "3",
        "--duplicate-rate",
        "0.25",
        "--seed",
        "4242",
        "--sent-log",
        str(sent_log),
    )
    assert code == 0, cli.err
    logged = [json.loads(line) for line in sent_log.read_text().splitlines()]
    assert len(logged) > 40, "resends should be logged too"
    drained(cli.cloud)

    assert cli("verify", "--sent-log", str(sent_log), "--only-logged-accounts") == 0, cli.out
    assert "40 transactions" in cli.out

    # inspect: the record id is the consumer's (prefix from the function's environment)
    assert cli("inspect", "tx-4242-0000007") == 0, cli.err
    digest = hashlib.sha256(b"tx-4242-0000007").hexdigest()
    assert f"record id      ledger-v1#{digest}" in cli.out
    assert "status         COMPLETED" in cli.out
    assert "PROCESSED: applied once" in cli.out

    assert cli("inspect", "never-sent-1") == 1
    assert "NOT PROCESSED" in cli.out


def test_verify_lists_every_mismatch(cli: Cli, tmp_path: Path) -> None:
    # GIVEN one transaction processed, and a sent log that claims two with other amounts
    source = tmp_path / "in.jsonl"
    source.write_text(tx("ver-1", "ver-acct", "5.00") + "\n")
    assert cli("send", "--file", str(source), "--sent-log", str(tmp_path / "real.jsonl")) == 0
    drained(cli.cloud)
    claimed = tmp_path / "claimed.jsonl"
    claimed.write_text(
        json.dumps({"body": tx("ver-1", "ver-acct", "6.00")})
        + "\n"
        + json.dumps({"body": tx("ver-2", "ver-acct", "1.00")})
        + "\n"
    )

    # WHEN verified
    code = cli("verify", "--sent-log", str(claimed), "--only-logged-accounts")

    # THEN every mismatch is listed
    assert code == 1
    mismatches = [line for line in cli.out.splitlines() if line.startswith("MISMATCH")]
    assert mismatches == [
        "MISMATCH balance ver-acct/EUR: 1 transactions applied, 2 sent (missing)",
        "MISMATCH balance ver-acct/EUR: 500 minor units (5.00 EUR), expected 700 (7.00 EUR)",
        "MISMATCH transaction ver-1 (sent-log line 1): applied with another payload than the "
        "sent log's first",
        "MISMATCH transaction ver-2 (sent-log line 2): no idempotency record (not processed, "
        "or still queued)",
    ]


def test_status_shows_depths_dlq_age_and_records(cli: Cli) -> None:
    empty_dlq(cli.cloud)
    sqs = client(cli.cloud, "sqs")
    # GIVEN one transaction processed (a record to count, whichever tests ran before)
    sqs.send_message(QueueUrl=cli.cloud.outputs["QueueUrl"], MessageBody=tx("st-1", "st-acct"))
    drained(cli.cloud)
    sqs.send_message(QueueUrl=cli.cloud.outputs["DeadLetterQueueUrl"], MessageBody="stuck")

    assert cli("status") == 0, cli.err
    assert "DLQ           1 messages, oldest 0s old" in cli.out or "oldest 1s old" in cli.out
    assert "queue         0 waiting, 0 in flight, 0 delayed" in cli.out
    assert "  consumer      Consumer" in cli.out, "found from the template's construct paths"
    assert "idempotency   about " in cli.out
    assert cli("status", "--json") == 0
    status = json.loads(cli.out)
    assert status["dlq_depth"] == 1 and status["idempotency_records_approx"] > 0
    assert len(dlq_messages(cli.cloud)) == 1, "status must leave the DLQ's messages in it"


def test_redrive_round_trip_loses_nothing_and_a_conflict_goes_back(cli: Cli) -> None:
    # GIVEN an empty DLQ, t-ok applied, and then a conflicting payload for it dead-lettered
    empty_dlq(cli.cloud)
    sqs = client(cli.cloud, "sqs")
    queue_url = cli.cloud.outputs["QueueUrl"]
    dlq_url = cli.cloud.outputs["DeadLetterQueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=tx("rd-1", "rd-acct", "1.00"))
    drained(cli.cloud)
    producer = {"producer": {"DataType": "String", "StringValue": "billing"}}
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=tx("rd-1", "rd-acct", "9.99"), MessageAttributes=producer
    )
    drained(cli.cloud)
    # AND three valid transactions SQS dead-lettered during an outage (no reason attached)
    for index in (2, 3, 4):
        sqs.send_message(
            QueueUrl=dlq_url,
            MessageBody=tx(f"rd-{index}", "rd-acct", "2.00"),
            MessageAttributes=producer,
        )

    # WHEN the DLQ is listed
    assert cli("dlq", "list") == 0, cli.err
    # THEN each message shows its reason
    assert "4 messages in the DLQ" in cli.out
    assert "conflict: " in cli.out and "transaction rd-1" in cli.out
    assert cli.out.count("moved by SQS after maxReceiveCount (no reason attached)") == 3
    assert cli("dlq", "list", "--json") == 0, cli.err
    listed = [json.loads(line) for line in cli.out.splitlines()]
    assert sorted(letter["transaction_id"] for letter in listed) == ["rd-1", "rd-2", "rd-3", "rd-4"]

    # WHEN redriven (moto has no StartMessageMoveTask: receive, send, delete)
    assert cli("dlq", "redrive") == 0, cli.err
    assert "redriven 4 messages" in cli.out
    drained(cli.cloud)

    # THEN the three are applied once, and the conflict is back in the DLQ, not applied
    assert balance_cents(cli.cloud, "rd-acct") == 100 + 3 * 200
    for index in (2, 3, 4):
        assert cli("inspect", f"rd-{index}") == 0 and "PROCESSED" in cli.out
    back = dlq_messages(cli.cloud)
    assert [json.loads(m["Body"])["amount"] for m in back] == ["9.99"], back
    attributes = back[0]["MessageAttributes"]
    assert attributes["exactly_once.outcome"]["StringValue"] == "conflict"
    assert attributes["producer"]["StringValue"] == "billing", "producer attribute lost"

    # AND a second redrive moves the conflict once and it comes back again: nothing lost
    assert cli("dlq", "redrive") == 0
    assert "redriven 1 messages" in cli.out
    drained(cli.cloud)
    assert len(dlq_messages(cli.cloud)) == 1
    assert balance_cents(cli.cloud, "rd-acct") == 700


def test_purge_asks_first_and_yes_skips_the_question(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = client(cli.cloud, "sqs")
    dlq_url = cli.cloud.outputs["DeadLetterQueueUrl"]
    sqs.send_message(QueueUrl=dlq_url, MessageBody="to purge")
    before = len(dlq_messages(cli.cloud))

    # WHEN the question is answered no (or there is no one to answer it)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert cli("dlq", "purge") == 8
    assert "purge not confirmed: nothing deleted (pass --yes in scripts)" in cli.err
    assert len(dlq_messages(cli.cloud)) == before

    # WHEN --yes (SQS allows one purge a minute, so the "y" answer is checked on confirm())
    assert cli("dlq", "purge", "--yes") == 0, cli.err
    assert f"({before} messages)" in cli.out
    assert dlq_messages(cli.cloud) == []
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert confirm("purge?") is True

    # AND a second purge within the minute is one clear line, exit 6
    sqs.send_message(QueueUrl=dlq_url, MessageBody="again")
    assert cli("dlq", "purge", "--yes") == 6
    assert "purged less than 60 s ago" in cli.err
    empty_dlq(cli.cloud)


def test_no_credentials_for_aws_is_one_line_and_exit_5(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    code = main(["status", "--stack", "ExactlyOnceLedger-prod", "--region", "eu-west-1"])

    assert code == 5
    assert capsys.readouterr().err.startswith("pipeline: error: no AWS credentials found")


def test_throttling_after_retries_is_one_line_and_exit_6(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from botocore.exceptions import ClientError

    from pipeline.ops.errors import report_errors

    def throttled() -> int:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
            "SendMessageBatch",
        )

    assert report_errors(throttled) == 6
    assert capsys.readouterr().err == (
        "pipeline: error: SendMessageBatch still throttled after retries "
        "(ThrottlingException): try again later\n"
    )


def test_a_bad_sent_log_line_is_named(cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "sent.jsonl"
    log.write_text(json.dumps({"body": tx("x-1", "x-acct")}) + "\n" + "oops\n")

    assert cli("verify", "--sent-log", str(log)) == 3
    assert cli.err.strip() == f"pipeline: error: {log}: line 2 is not JSON"
