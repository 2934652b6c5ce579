"""``python -m exactly_once_local up``: any CDK app's SQS consumers on the local cloud.

Run from a CDK project (the folder with its ``cdk.json``): synthesizes the app as the CDK
CLI does (its ``app`` command in a subprocess; ``--app`` to give another), deploys every
stack into a moto server on ``localhost:PORT`` and plays each SQS event source mapping,
running the Python functions' handlers in this process, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exactly_once_local.function_logs import DEFAULT_LOG_DIR, LOG_DIR_ENV
from exactly_once_local.moto_server import DEFAULT_PORT, DEFAULT_REGION, MOTO_ACCOUNT

UP_EXAMPLE = """\
example (from the folder of your CDK app):
  python -m exactly_once_local up --port 5000
  # in another shell, with the QueueUrl printed at start:
  aws --endpoint-url http://localhost:5000 sqs send-message \\
    --queue-url http://localhost:5000/123456789012/<queue> --message-body '{...}'
"""

UP_DESCRIPTION = (
    "Synthesizes the CDK app in the current folder (or --cwd) as the CDK CLI does (the "
    "app command of its cdk.json, or --app), starts a moto server on localhost:PORT (one "
    "request at a time, as AWS is atomic per request), creates every stack in it through "
    "CloudFormation, and plays Lambda's SQS event source mappings: polls each queue with "
    "the mapping's batch size, batching window and maximum concurrency, and runs each "
    "Python function's handler from its own code in this process against the local "
    "endpoint. Prints the endpoint, each stack's outputs and queue URLs, one line per "
    "batch (function, size, outcomes, duration), and stays up until Ctrl-C. What the "
    "functions write (their JSON log lines and EMF metrics) goes to a log file per "
    "function in --log-dir, as Lambda sends it to CloudWatch Logs."
)


def add_up_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``up`` (a repository's own CLI may add them to its command too)."""
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="moto server port")
    parser.add_argument("--region", default=DEFAULT_REGION, help="the local cloud's region")
    parser.add_argument(
        "--app", help="the command that synthesizes the app (default: cdk.json's app)"
    )
    parser.add_argument(
        "--cwd", type=Path, default=None, help="the CDK project's folder (default: this one)"
    )
    parser.add_argument(
        "--stack",
        action="append",
        dest="stacks",
        metavar="NAME",
        help="run only this stack (repeatable; default: every stack)",
    )
    parser.add_argument(
        "--context",
        "-c",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="context for the app, as cdk's --context (repeatable)",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help=f"where each function's log file goes (default ${LOG_DIR_ENV} or "
        f"{DEFAULT_LOG_DIR} under the current folder)",
    )


def context_pairs(pairs: Sequence[str]) -> dict[str, str]:
    context: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise SystemExit(f"error: --context {pair}: expected KEY=VALUE")
        context[key] = value
    return context


def run_up(
    *,
    project_dir: Path | None = None,
    app: str | None = None,
    port: int = DEFAULT_PORT,
    region: str = DEFAULT_REGION,
    stacks: Sequence[str] | None = None,
    context: dict[str, Any] | None = None,
    log_dir: Path | None = None,
    logs_command: str = "python -m pipeline logs FUNCTION",
) -> int:
    """Synthesize, deploy, poll until Ctrl-C or SIGTERM; 0, or 1 after one error line.

    The console shows one line per batch; the functions' output goes to their log files
    in ``log_dir`` (``logs_command`` is how the user is told to read them).

    Ctrl-C (SIGINT) or SIGTERM stops it cleanly at any point: the pollers finish their
    current batch, then the server stops. Bad input (an app that fails to synth, no SQS
    mapping, a function not in Python, a handler that fails to import, a missing SSM
    parameter) is one line on stderr and exit code 1, with nothing left running.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from exactly_once_local.assembly import SynthError, synth
    from exactly_once_local.local_cloud import (
        HandlerImportError,
        LocalCloudError,
        check_port_free,
        quiet_moto,
        start_local_cloud,
    )
    from exactly_once_local.moto_deploy import DeployError

    _fake_credentials(region)
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    # Installed explicitly: a shell's background job inherits SIGINT ignored, and
    # SIGTERM (docker stop, kill) deserves the same clean shutdown.
    previous = {signum: signal.signal(signum, request_stop) for signum in _STOP_SIGNALS}
    quiet_moto()
    where = (project_dir or Path.cwd()).resolve()
    try:
        check_port_free(port)  # before a synth that may take a while
        with tempfile.TemporaryDirectory(prefix="cdk-local-") as outdir:
            print(f"synthesizing the CDK app in {where}...", flush=True)
            assembly = synth(
                where, Path(outdir), app=app, region=region, account=MOTO_ACCOUNT, context=context
            )
            if stop.is_set():
                return _stopped()
            print(f"starting moto on localhost:{port} and deploying...", flush=True)
            cloud = start_local_cloud(
                assembly,
                port,
                stacks=stacks,
                region=region,
                on_batch=_log,
                warn=_warn,
                log_dir=log_dir,
            )
            try:
                print(cloud.describe(), flush=True)
                print(f"function logs (their JSON lines and metrics): {logs_command}")
                print(
                    "send messages with the AWS CLI or boto3 against the endpoint; Ctrl-C to stop.",
                    flush=True,
                )
                # Woken twice a second rather than parked on the event: the signal handler
                # then runs promptly whatever the other threads hold.
                while not stop.wait(0.5):
                    pass
                print("\nstopping: pollers finish their current batch...", flush=True)
            finally:
                cloud.stop()
    except (SynthError, LocalCloudError, DeployError, HandlerImportError) as exc:
        if stop.is_set():
            return _stopped()
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except (BotoCoreError, ClientError) as exc:  # moto refused something the deploy needs
        print(f"error: the local cloud could not start: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return _stopped()


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stopped() -> int:
    print("local cloud stopped.", flush=True)
    return 0


_CONSOLE_LOCK = threading.Lock()


def _log(line: str) -> None:
    """One console line, whole: the pollers' threads print concurrently."""
    with _CONSOLE_LOCK:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {line}\n")
        sys.stdout.flush()


def _warn(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _fake_credentials(region: str) -> None:
    """The local cloud accepts any credentials; never send real ones to it."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": region,
    }.items():
        os.environ.setdefault(name, value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exactly_once_local",
        description="The local cloud for exactly-once SQS consumers.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "up",
        help="run a CDK app's SQS consumers on a local moto server until Ctrl-C",
        description=UP_DESCRIPTION,
        epilog=UP_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_up_arguments(up)
    args = parser.parse_args(argv)
    return run_up(
        project_dir=args.cwd,
        app=args.app,
        port=args.port,
        region=args.region,
        stacks=args.stacks,
        context=context_pairs(args.context),
        log_dir=args.log_dir,
        logs_command="the files above (tail -f FILE)",
    )
