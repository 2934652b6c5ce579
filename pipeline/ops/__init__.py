"""The operator commands of `python -m pipeline`: send, status, dlq, inspect, verify.

``status``, ``dlq`` and ``inspect`` work on any ``ExactlyOnceConsumer`` of a stack
(``--stack``, and ``--consumer`` when it has several); ``send`` and ``verify`` on a
ledger consumer only.

``register(commands)`` adds them to the CLI's subparsers; each runs under
``errors.report_errors``, so a failure is one line and a documented exit code.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import Any

from pipeline.ops.errors import report_errors
from pipeline.ops.targets import add_target_arguments

Runner = Callable[[argparse.Namespace], int]

_LOCAL = "--endpoint-url http://localhost:5000"


def _guarded(module: str, function: str) -> Runner:
    """Import the command's module only when it runs; report its failures as one line."""

    def run(args: argparse.Namespace) -> int:
        def call() -> int:
            import importlib

            runner: Runner = getattr(importlib.import_module(module), function)
            return int(runner(args))

        return report_errors(call)

    return run


def _command(
    commands: Any, name: str, summary: str, description: str, examples: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description, 88),
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _add_send(commands: Any) -> None:
    send = _command(
        commands,
        "send",
        "send transactions to a ledger's queue (from a file or generated)",
        "Ledger-specific: the consumer must be a ledger (its function has "
        "LEDGER_TABLE_NAME); any other is refused (exit 2). "
        "Sends ledger transactions to the consumer's queue with SendMessageBatch (ten at a "
        "time, failed entries retried). Input is a JSON Lines file, one transaction per "
        "line, or a seeded generated workload. Each line is checked as the consumer checks "
        "it: bad lines are reported by number and skipped, the good ones sent (exit 3). On a "
        "FIFO queue the message group is the account and the deduplication id the "
        "transaction id. Every message sent is appended to the sent log, which "
        "`pipeline verify` reads.",
        f"  pipeline send --file transactions.jsonl --sent-log sent.jsonl {_LOCAL}\n"
        "  pipeline send --count 500 --accounts 20 --duplicate-rate 0.2 --seed 3 "
        "--stack ExactlyOnceLedger-prod --profile ops\n"
        '  a line: {"transaction_id":"t-1","account_id":"acct-1","amount":"10.00",'
        '"currency":"EUR"}\n',
    )
    source = send.add_argument_group("input (one of)")
    source.add_argument("--file", help="JSON Lines file of transactions ('-' for stdin)")
    source.add_argument("--count", type=int, help="generate this many transactions instead")
    source.add_argument("--accounts", type=int, default=10, help="generated: accounts (10)")
    source.add_argument(
        "--duplicate-rate", type=float, default=0.0, help="generated: share resent (0.0)"
    )
    source.add_argument("--seed", type=int, default=7, help="generated: random seed (7)")
    send.add_argument(
        "--sent-log", default="sent.jsonl", help="append what was sent here (default sent.jsonl)"
    )
    add_target_arguments(send)
    send.set_defaults(run=_guarded("pipeline.ops.send", "run_send"))


def _add_status(commands: Any) -> None:
    status = _command(
        commands,
        "status",
        "queue depth, in flight, DLQ depth and oldest age, records, alarms",
        "Any consumer. Shows the source queue's waiting, in-flight and delayed messages; "
        "the DLQ's depth "
        "and the age of its oldest message (CloudWatch on AWS, read from the DLQ where "
        "there is no figure); the approximate number of idempotency records; and on AWS "
        "the state of the consumer's alarms.",
        f"  pipeline status {_LOCAL}\n  pipeline status --stack ExactlyOnceLedger-prod --json\n"
        f"  pipeline status --stack ExactlyOnceOrders-dev --consumer Consumer {_LOCAL}\n",
    )
    status.add_argument("--json", action="store_true", help="one JSON object instead of text")
    add_target_arguments(status)
    status.set_defaults(run=_guarded("pipeline.ops.status", "run_status"))


def _add_dlq(commands: Any) -> None:
    dlq = commands.add_parser(
        "dlq",
        help="list, redrive or purge the dead-letter queue",
        description="A consumer's dead-letter queue (any consumer): list its messages with "
        "their reasons, redrive them to the source queue, or purge it.",
    )
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = _command(
        dlq_commands,
        "list",
        "each DLQ message with its reason",
        "Lists the DLQ's messages (left in the queue: they are received, then made visible "
        "again) with the consumer's outcome and reason, the source message id and the "
        "idempotency key (the transaction id for a ledger). A message SQS moved after "
        "maxReceiveCount carries no reason.",
        f"  pipeline dlq list {_LOCAL}\n  pipeline dlq list --bodies --limit 20\n"
        f"  pipeline dlq list --stack ExactlyOnceOrders-dev {_LOCAL}\n",
    )
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    listing.add_argument("--bodies", action="store_true", help="show the message bodies too")
    listing.add_argument("--json", action="store_true", help="one JSON object per message")
    add_target_arguments(listing)
    listing.set_defaults(run=_guarded("pipeline.ops.dlq", "run_list"))
    redrive = _command(
        dlq_commands,
        "redrive",
        "move the DLQ's messages back to the source queue",
        "Moves the DLQ's messages back to the source queue for another try: with SQS's "
        "StartMessageMoveTask on AWS; where the endpoint lacks it (moto) by receive, send "
        "(body and the producer's attributes), then delete, so nothing is lost. Messages "
        "that reach the DLQ again while it runs (a conflict stays a conflict) are left "
        "there, and so are messages first sent longer ago than the consumer's idempotency "
        "retention minus a day (listed; --past-retention moves them anyway). Exit 7 if any "
        "message could not be moved (it stays in the DLQ).",
        f"  pipeline dlq redrive {_LOCAL}\n  pipeline dlq redrive --stack "
        "ExactlyOnceLedger-prod --no-wait\n",
    )
    redrive.add_argument(
        "--by-hand", action="store_true", help="receive-send-delete even where a task exists"
    )
    redrive.add_argument(
        "--no-wait", dest="wait", action="store_false", help="start the move task and return"
    )
    redrive.add_argument(
        "--limit", type=int, default=1_000_000, help="by hand: move at most this many"
    )
    redrive.add_argument(
        "--past-retention",
        action="store_true",
        help="also move messages first sent longer ago than the idempotency retention minus "
        "a day: their records may be gone, so one applied before is applied again",
    )
    add_target_arguments(redrive)
    redrive.set_defaults(run=_guarded("pipeline.ops.dlq", "run_redrive"))
    purge = _command(
        dlq_commands,
        "purge",
        "delete every message of the DLQ (asks first)",
        "Deletes every message in the DLQ with PurgeQueue, after asking; --yes skips the "
        "question (scripts). Without --yes and without a 'y' answer nothing is deleted "
        "(exit 8).",
        f"  pipeline dlq purge {_LOCAL}\n  pipeline dlq purge --yes --stack "
        "ExactlyOnceLedger-dev\n",
    )
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_target_arguments(purge)
    purge.set_defaults(run=_guarded("pipeline.ops.dlq", "run_purge"))


def _add_inspect(commands: Any) -> None:
    inspect = _command(
        commands,
        "inspect",
        "was this key processed? its idempotency record",
        "Any consumer. Reads the key's idempotency record (a ledger's transaction id, an "
        "order id, ...: the id computed as the consumer does, with the key prefix and path "
        "from the function's configuration) and shows its status, "
        "payload hash, expiry and lease, with a one-line answer. Exit 0 when a record "
        "exists, 1 when none does.",
        f"  pipeline inspect tx-7-0000042 {_LOCAL}\n  pipeline inspect t-1 --json\n"
        f"  pipeline inspect o-1 --stack ExactlyOnceOrders-dev {_LOCAL}\n",
    )
    inspect.add_argument(
        "transaction_id", metavar="KEY", help="the idempotency key (a transaction id, ...)"
    )
    inspect.add_argument("--json", action="store_true", help="one JSON object instead of text")
    add_target_arguments(inspect)
    inspect.set_defaults(run=_guarded("pipeline.ops.inspect", "run_inspect"))


def _add_verify(commands: Any) -> None:
    verify = _command(
        commands,
        "verify",
        "compare the ledger with a sent log, list every mismatch",
        "Ledger-specific: the consumer must be a ledger (its function has "
        "LEDGER_TABLE_NAME); any other is refused (exit 2). "
        "Compares the ledger with a sent log written by `pipeline send`: each balance and "
        "transaction count per account and currency, and each transaction's idempotency "
        "record (COMPLETED, with the payload first sent). Lists every mismatch; exit 1 if "
        "there is any. Run it once the queue is drained.",
        f"  pipeline verify --sent-log sent.jsonl {_LOCAL}\n"
        "  pipeline verify --sent-log today.jsonl --only-logged-accounts\n",
    )
    verify.add_argument("--sent-log", required=True, help="the sent log (JSON Lines)")
    verify.add_argument(
        "--only-logged-accounts",
        action="store_true",
        help="ignore ledger accounts the sent log never mentions (other producers)",
    )
    add_target_arguments(verify)
    verify.set_defaults(run=_guarded("pipeline.ops.verify", "run_verify"))


def register(commands: Any) -> None:
    """Add the operator commands to ``python -m pipeline``'s subparsers."""
    _add_send(commands)
    _add_status(commands)
    _add_dlq(commands)
    _add_inspect(commands)
    _add_verify(commands)
