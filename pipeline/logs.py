"""``python -m pipeline logs FUNCTION``: a local function's log, as ``sam logs`` reads one.

The local cloud (``local up``, the demo, the campaigns) writes each function's output (its
Powertools JSON lines, its EMF metrics, Lambda's START/END/REPORT lines) to
``<log dir>/<function name>.log`` (``exactly_once_local.function_logs``). FUNCTION is the
function's name or any part of it (``Ledger``, ``Orders``; the newest log when several
match, as a redeployed function gets a new generated name);
``--filter TEXT`` keeps the lines holding every word of TEXT (as CloudWatch Logs' plain
filter terms: a message id finds its log line); ``--follow`` keeps printing new lines
until Ctrl-C, as ``tail -f``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from exactly_once_local.function_logs import (
    DEFAULT_LOG_DIR,
    LOG_DIR_ENV,
    LOG_SUFFIX,
    LogEntry,
    log_dir,
    parse_entry,
)

FOLLOW_POLL_SECONDS = 0.25


class LogsError(Exception):
    """One line for the user, and exit code 2."""


def available(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{LOG_SUFFIX}")) if directory.is_dir() else []


def find_log(directory: Path, function: str) -> Path:
    """The log of ``function``: its exact name, else the newest log whose name contains it
    (case-insensitive; a note on stderr when several do)."""
    logs = available(directory)
    names = ", ".join(p.name.removesuffix(LOG_SUFFIX) for p in logs) or "none"
    exact = [p for p in logs if p.name.removesuffix(LOG_SUFFIX) == function]
    if exact:
        return exact[0]
    matches = [p for p in logs if function.lower() in p.name.removesuffix(LOG_SUFFIX).lower()]
    if not matches:
        raise LogsError(
            f"no log of a function named like {function!r} in {directory} (logs: {names})"
        )
    if len(matches) > 1:
        # A redeployed function gets a new generated name: the newest log is the live one.
        matches.sort(key=lambda p: p.stat().st_mtime)
        others = ", ".join(p.name.removesuffix(LOG_SUFFIX) for p in matches[:-1])
        print(
            f"pipeline logs: {function!r} matches several logs; the newest: "
            f"{matches[-1].name.removesuffix(LOG_SUFFIX)} (older: {others})",
            file=sys.stderr,
        )
    return matches[-1]


def matches(entry: LogEntry, terms: list[str]) -> bool:
    return all(term in entry.line for term in terms)


def _entries(handle: TextIO) -> Iterator[LogEntry]:
    """The whole lines from the handle's position on; a line still being written is left
    for the next read."""
    while True:
        position = handle.tell()
        raw = handle.readline()
        if not raw:
            return
        if not raw.endswith("\n"):
            handle.seek(position)
            return
        if raw.strip():
            yield parse_entry(raw)


def print_log(
    path: Path,
    terms: list[str],
    out: TextIO,
    *,
    follow: bool = False,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Print the matching lines of ``path``; with ``follow``, then its new lines until
    ``stop()`` (or Ctrl-C). A log started afresh (a new local cloud) is read from its top.
    Returns how many lines were printed."""
    printed = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        while True:
            for entry in _entries(handle):
                if matches(entry, terms):
                    print(entry, file=out, flush=follow)
                    printed += 1
            if not follow or stop():
                return printed
            time.sleep(FOLLOW_POLL_SECONDS)
            if path.exists() and path.stat().st_size < handle.tell():
                handle.seek(0)  # truncated: a new local cloud started this log afresh


def add_logs_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    logs = commands.add_parser(
        "logs",
        help="read a local function's log (its JSON log lines and metrics), as sam logs",
        description=(
            "Prints a function's log from the local cloud (local up, the demo, the "
            "campaigns): its Powertools JSON lines, its EMF metric lines and Lambda's "
            "START/END/REPORT lines, each with its time. Without FUNCTION, lists the logs."
        ),
        epilog=(
            "examples:\n"
            "  python -m pipeline logs                      # which logs there are\n"
            "  python -m pipeline logs Ledger --follow      # tail -f the ledger function's log\n"
            "  python -m pipeline logs Ledger --filter 4f1c2a9e-...   # one message's lines\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logs.add_argument(
        "function", nargs="?", help="the function's name, or a part of it naming one log"
    )
    logs.add_argument(
        "--filter",
        default="",
        metavar="TEXT",
        help="only the lines holding every word of TEXT (e.g. a message id)",
    )
    logs.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new lines until Ctrl-C"
    )
    logs.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help=f"the logs' folder (default ${LOG_DIR_ENV} or {DEFAULT_LOG_DIR} here)",
    )
    logs.set_defaults(run=run_logs)


def run_logs(args: argparse.Namespace) -> int:
    directory = log_dir(args.log_dir)
    try:
        if not args.function:
            logs = available(directory)
            if not logs:
                raise LogsError(f"no function logs in {directory} (start the local cloud first)")
            for path in logs:
                print(f"{path.name.removesuffix(LOG_SUFFIX)}\t{path}")
            return 0
        path = find_log(directory, args.function)
    except LogsError as exc:
        print(f"pipeline logs: {exc}", file=sys.stderr)
        return 2
    try:
        print_log(path, args.filter.split(), sys.stdout, follow=args.follow)
    except KeyboardInterrupt:
        return 0
    return 0
