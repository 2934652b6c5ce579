"""`python -m pipeline`: the project's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _demo(args: argparse.Namespace) -> int:
    _fake_credentials()
    from pipeline.demo import main_demo

    return main_demo(args)


def _campaign(args: argparse.Namespace) -> int:
    _fake_credentials()
    from pipeline.campaign import main_campaign

    return main_campaign(args)


def _add_campaign(commands: Any) -> None:
    campaign = commands.add_parser(
        "campaign",
        help="prove exactly-once under every fault, both modes, on the local cloud",
        description=(
            "Runs a seeded workload through the ledger consumer on the local cloud in atomic "
            "and leased mode with 8 concurrent consumers and every fault (crashes at each "
            "step boundary, lost acks, zombie leases, throttling, transaction conflicts), "
            "redrives the DLQ, and judges the ledger against the sent log. Also shows the "
            "retention trade-off and the construct's refusal of an unsafe retention. "
            "Example: python -m pipeline campaign --long"
        ),
    )
    campaign.add_argument(
        "--long", action="store_true", help="20,000 transactions (default: a short run of 400)"
    )
    campaign.add_argument("--transactions", type=int, help="override the number of transactions")
    campaign.add_argument("--mode", choices=("atomic", "leased"), help="one mode only")
    campaign.add_argument(
        "--json", default="reports/campaign.json", help="where to write the JSON report"
    )
    campaign.set_defaults(run=_campaign)


def _local_up(args: argparse.Namespace) -> int:
    _fake_credentials()
    from exactly_once_local.cli import context_pairs, run_up

    return run_up(
        project_dir=args.cwd,
        app=args.app,
        port=args.port,
        region=args.region,
        stacks=args.stacks,
        context={"stage": args.stage, **context_pairs(args.context)},
        log_dir=args.log_dir,
    )


LOCAL_UP_EXAMPLE = """\
examples:
  python -m pipeline local up --port 5000          # this repository's app: both stacks
  python -m pipeline local up --cwd examples/shipments   # another CDK app
  # in another shell (QueueUrl is printed at start):
  aws --endpoint-url http://localhost:5000 sqs send-message \\
    --queue-url http://localhost:5000/123456789012/<queue> \\
    --message-body \\
      '{"transaction_id":"t-1","account_id":"acct-1","amount":"10.00","currency":"EUR"}'
  # from a CDK app's own folder, with the package installed:
  python -m exactly_once_local up
"""


def _add_local(commands: Any) -> None:
    from exactly_once_local.cli import UP_DESCRIPTION, add_up_arguments

    local = commands.add_parser(
        "local",
        help="the local cloud: a CDK app's stacks on a moto server",
        description="The local cloud: a CDK app's stacks on a moto server, polled locally.",
    )
    local_commands = local.add_subparsers(dest="local_command", required=True)
    up = local_commands.add_parser(
        "up",
        help="start moto, deploy the CDK app's stacks, poll their queues until Ctrl-C",
        description=UP_DESCRIPTION + " Same as python -m exactly_once_local up.",
        epilog=LOCAL_UP_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_up_arguments(up)
    up.add_argument(
        "--stage", default="dev", help="the app's stage, as context stage=STAGE (default dev)"
    )
    up.set_defaults(run=_local_up)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT / "functions"))
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="run both stages (orders -> ledger) with faults end to end and judge them",
        description=(
            "Deploys the app's orders and ledger stacks on the local cloud and sends N orders "
            "(re-sent, invalid, some out of stock) under every fault at both stages; each "
            "accepted order charges its customer in the ledger. The verdict, from the data "
            "alone: stock never negative, every accepted order charged once, every refused "
            "one never. --ledger-only runs the ledger alone instead: M transactions with "
            "resends, invalid and conflicting messages. "
            "Example: python -m pipeline demo --orders 300 --seed 3"
        ),
    )
    demo.add_argument("--orders", type=int, default=200, help="orders for the two stages")
    demo.add_argument(
        "--ledger-only", action="store_true", help="the ledger alone, with --transactions"
    )
    demo.add_argument(
        "--transactions", type=int, default=1000, help="with --ledger-only: transactions"
    )
    demo.add_argument("--accounts", type=int, default=50, help="with --ledger-only: accounts")
    demo.add_argument(
        "--duplicate-rate",
        type=float,
        help="the share of messages sent twice (default 0.25 for orders, 0.2 for the ledger)",
    )
    demo.add_argument("--concurrency", type=int, default=2)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--no-faults", action="store_true", help="inject no faults")
    demo.add_argument(
        "--in-process",
        action="store_true",
        help="run on in-process moto instead of the local cloud (a moto server with the stack)",
    )
    demo.add_argument("--json", default="reports/demo.json", help="where to write the JSON report")
    demo.set_defaults(run=_demo)
    _add_local(commands)
    _add_campaign(commands)
    from pipeline.chain import add_chain_command

    add_chain_command(commands)
    from pipeline.logs import add_logs_command

    add_logs_command(commands)
    from pipeline.ops import register as register_operator_commands

    register_operator_commands(commands)
    args = parser.parse_args(argv)
    return int(args.run(args))


def _fake_credentials() -> None:
    """The local cloud accepts any credentials; never send real ones to it."""
    import os

    for name, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        os.environ.setdefault(name, value)


if __name__ == "__main__":
    raise SystemExit(main())
