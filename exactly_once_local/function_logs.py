"""Each local function's output in a log file of its own, as Lambda keeps it in CloudWatch.

In Lambda whatever a function writes (its Powertools JSON log lines, the EMF blobs that
``@metrics.log_metrics`` prints) goes to the function's log group, not to anyone's
terminal. Locally the functions run in this process, in their pollers' threads, so
``install()`` replaces ``sys.stdout`` and ``sys.stderr`` with streams that send what a
function's thread writes to that function's log (``FunctionLog.capture``) and everything
else where it went before. Logging handlers already writing to the process's streams are
pointed at the routed ones, so a Powertools ``Logger`` made earlier is routed too.

A log is a text file, one line per line the function wrote: ``TIMESTAMP<TAB>LINE``
(UTC, milliseconds), with Lambda's ``START``, ``END`` and ``REPORT`` lines around each
invocation. The files live in ``log_dir()``: ``$EXACTLY_ONCE_LOCAL_LOG_DIR``, or
``.local-cloud/logs`` under the current folder; ``<function name>.log`` each. A process
starts each function's log afresh the first time it opens it (again after ``close()``,
which a local cloud's ``stop()`` does).

``read_entries`` and ``metric_totals`` read them back: the lines, and the sums of the
EMF metrics (per metric name) that the functions printed.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

LOG_DIR_ENV = "EXACTLY_ONCE_LOCAL_LOG_DIR"
DEFAULT_LOG_DIR = Path(".local-cloud") / "logs"
LOG_SUFFIX = ".log"

_local = threading.local()
_INSTALL_LOCK = threading.Lock()
_LOGS_LOCK = threading.Lock()
_logs: dict[Path, FunctionLog] = {}


def log_dir(directory: Path | str | None = None) -> Path:
    """Where function logs go: ``directory``, ``$EXACTLY_ONCE_LOCAL_LOG_DIR`` or
    ``.local-cloud/logs`` under the current folder."""
    chosen = directory or os.environ.get(LOG_DIR_ENV) or Path.cwd() / DEFAULT_LOG_DIR
    return Path(chosen).resolve()


def log_file_name(function_name: str) -> str:
    """The file of a function's log: its name, with anything unsafe in a path replaced."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", function_name) + LOG_SUFFIX


class _RoutedStream(io.TextIOBase):
    """``sys.stdout`` or ``sys.stderr``: a function thread's writes to its log, the rest
    to the stream it replaced."""

    def __init__(self, target: TextIO) -> None:
        self.target = target

    def write(self, text: str) -> int:
        writer: _ThreadWriter | None = getattr(_local, "writer", None)
        if writer is None:
            return self.target.write(text)
        writer.write(text)
        return len(text)

    def flush(self) -> None:
        if getattr(_local, "writer", None) is None:
            self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.target, "encoding", "utf-8"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


def install() -> None:
    """Route ``sys.stdout`` and ``sys.stderr`` per thread (idempotent; transparent for a
    thread not running a function)."""
    if isinstance(sys.stdout, _RoutedStream) and isinstance(sys.stderr, _RoutedStream):
        return
    with _INSTALL_LOCK:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, _RoutedStream):
                setattr(sys, name, _RoutedStream(current))
        _route_logging_handlers()


def _route_logging_handlers() -> None:
    """Point stream handlers that write to the replaced streams at the routed ones."""
    routed = {
        id(stream.target): stream
        for stream in (sys.stdout, sys.stderr)
        if isinstance(stream, _RoutedStream)
    }
    loggers: list[Any] = [logging.getLogger()]
    loggers += [
        found for found in logging.Logger.manager.loggerDict.values() if hasattr(found, "handlers")
    ]
    for found in loggers:
        for handler in list(found.handlers):
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in routed:
                handler.setStream(routed[id(handler.stream)])


class _ThreadWriter:
    """One thread's writes into a log, in whole lines (print writes a line in pieces)."""

    def __init__(self, log: FunctionLog) -> None:
        self.log = log
        self.pending = ""

    def write(self, text: str) -> None:
        self.pending += text
        if "\n" in self.pending:
            *lines, self.pending = self.pending.split("\n")
            self.log.write_lines(lines)

    def close(self) -> None:
        if self.pending:
            self.log.write_lines([self.pending])
            self.pending = ""


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FunctionLog:
    """One function's log file, shared by its warm containers (see the module docstring)."""

    def __init__(self, function_name: str, path: Path) -> None:
        self.function_name = function_name
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = path.open("w", encoding="utf-8")

    def write_lines(self, lines: Iterable[str]) -> None:
        stamp = _timestamp()
        text = "".join(f"{stamp}\t{line}\n" for line in lines if line.strip())
        if text:
            with self._lock:
                if not self._file.closed:  # a straggler after the cloud stopped: dropped
                    self._file.write(text)

    def flush(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()

    @contextmanager
    def capture(self) -> Iterator[None]:
        """What this thread writes to ``sys.stdout`` or ``sys.stderr`` goes to this log."""
        install()
        previous = getattr(_local, "writer", None)
        writer = _ThreadWriter(self)
        _local.writer = writer
        try:
            yield
        finally:
            writer.close()
            _local.writer = previous

    @contextmanager
    def invocation(self, request_id: str) -> Iterator[None]:
        """One invocation, as Lambda logs it: START, the function's output, END, REPORT."""
        started = time.perf_counter()
        self.write_lines([f"START RequestId: {request_id} Version: $LATEST"])
        try:
            with self.capture():
                yield
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.write_lines(
                [
                    f"END RequestId: {request_id}",
                    f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\t"
                    f"Billed Duration: {max(1, round(elapsed_ms))} ms",
                ]
            )
            self.flush()

    def close(self) -> None:
        """Close the file and forget it: the next ``function_log`` for it starts afresh."""
        with self._lock:
            self._file.close()
        with _LOGS_LOCK:
            if _logs.get(self.path) is self:
                del _logs[self.path]


def function_log(function_name: str, directory: Path | str | None = None) -> FunctionLog:
    """The log of ``function_name`` in ``log_dir(directory)``: one per file and process,
    started afresh when first asked for."""
    path = log_dir(directory) / log_file_name(function_name)
    with _LOGS_LOCK:
        found = _logs.get(path)
        if found is None:
            found = _logs[path] = FunctionLog(function_name, path)
        return found


@dataclass(frozen=True)
class LogEntry:
    timestamp: str
    line: str

    def __str__(self) -> str:
        return f"{self.timestamp} {self.line}"


def parse_entry(raw: str) -> LogEntry:
    timestamp, separator, line = raw.rstrip("\n").partition("\t")
    return LogEntry(timestamp, line) if separator else LogEntry("", timestamp)


def read_entries(path: Path) -> Iterator[LogEntry]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            if raw.strip():
                yield parse_entry(raw)


def emf_metrics(line: str) -> dict[str, float]:
    """The metric values of one EMF line (a JSON object with ``_aws.CloudWatchMetrics``);
    empty for any other line. A metric with several values is their sum."""
    if not line.startswith("{") or '"_aws"' not in line:
        return {}
    try:
        blob = json.loads(line)
        directives = blob["_aws"]["CloudWatchMetrics"]
    except (ValueError, KeyError, TypeError):
        return {}
    totals: dict[str, float] = {}
    for directive in directives if isinstance(directives, list) else []:
        for metric in directive.get("Metrics", []) if isinstance(directive, dict) else []:
            name = metric.get("Name") if isinstance(metric, dict) else None
            value = blob.get(name) if isinstance(name, str) else None
            values = value if isinstance(value, list) else [value]
            numbers = [v for v in values if isinstance(v, int | float)]
            if isinstance(name, str) and numbers:
                totals[name] = totals.get(name, 0) + sum(numbers)
    return totals


def metric_totals(path: Path) -> Counter[str]:
    """Each metric's sum over every EMF line of a function's log."""
    totals: Counter[str] = Counter()
    for entry in read_entries(path):
        for name, value in emf_metrics(entry.line).items():
            totals[name] += int(value)
    return totals
