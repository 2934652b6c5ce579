"""`python -m pipeline`: the project's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _demo(args: argparse.Namespace) -> int:
    from moto import mock_aws

    from pipeline.demo import DemoSettings, render, run_demo
    from pipeline.faults import FaultRates

    settings = DemoSettings(
        transactions=args.transactions,
        accounts=args.accounts,
        duplicate_rate=args.duplicate_rate,
        concurrency=args.concurrency,
        seed=args.seed,
        faults=FaultRates() if args.no_faults else FaultRates.demo(),
    )
    with mock_aws():
        report = run_demo(settings)
    print(render(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(report.to_json())
        print(f"report written to {args.json}")
    return 0 if report.verdict.passed else 1


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT / "functions"))
    _fake_credentials()
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="run a seeded ledger workload with faults end to end and judge it",
        description=(
            "Sends N transactions over M accounts (with resends, invalid and conflicting "
            "messages), injects crashes, lost responses and throttling, runs the ledger "
            "consumer against them and checks the ledger: every transaction applied once. "
            "Example: python -m pipeline demo --transactions 500 --seed 3"
        ),
    )
    demo.add_argument("--transactions", type=int, default=1500)
    demo.add_argument("--accounts", type=int, default=50)
    demo.add_argument("--duplicate-rate", type=float, default=0.2)
    demo.add_argument("--concurrency", type=int, default=2)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--no-faults", action="store_true", help="inject no faults")
    demo.add_argument("--json", default="reports/demo.json", help="where to write the JSON report")
    demo.set_defaults(run=_demo)
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
