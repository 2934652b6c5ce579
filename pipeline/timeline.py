"""Recording a stage's timeline during a run, cheaply, for the HTML report.

A ``Recorder`` is the poller's ``PollStats.observer`` (each batch's outcomes, counted per
whole second since the start: one dictionary update per batch), reads the faults from
``FaultCounts.events()`` when the stage is built, samples a DLQ's depth from a light
thread (one ``GetQueueAttributes`` per interval), and takes marks (a redrive). ``stage()``
turns it into a ``report_html.Stage``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.ops.dlq import queue_depth
from pipeline.report_html import Row, Stage, Table

DLQ_SAMPLE_SECONDS = 1.0


@dataclass
class Recorder:
    started: float = field(default_factory=time.time)
    per_second: dict[int, Counter[str]] = field(default_factory=dict)
    dlq: list[tuple[float, int]] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def outcomes(self, at: float, counts: Counter[str]) -> None:
        """A batch's outcomes, counted at wall-clock time ``at`` (a ``PollStats`` observer)."""
        second = max(0, int(at - self.started))
        with self._lock:
            self.per_second.setdefault(second, Counter()).update(counts)

    def attach(self, poller: Any) -> None:
        """Record every batch of ``poller`` (an ``exactly_once_local.poller.Poller``)."""
        poller.stats.observer = self.outcomes

    def mark(self, label: str, at: float | None = None) -> None:
        with self._lock:
            self.marks.append(((at if at is not None else time.time()) - self.started, label))

    def sample(self, depth: int, at: float | None = None) -> None:
        with self._lock:
            self.dlq.append(((at if at is not None else time.time()) - self.started, depth))

    @contextmanager
    def sampling_dlq(
        self, sqs: Any, queue_url: str, every: float = DLQ_SAMPLE_SECONDS
    ) -> Iterator[None]:
        """Sample the DLQ's depth (visible and in flight) every ``every`` seconds, in a
        daemon thread, for the ``with`` block; a last sample at its end."""
        stop = threading.Event()

        def depth() -> int | None:
            try:
                visible, in_flight = queue_depth(sqs, queue_url)
            except (BotoCoreError, ClientError):  # a missed sample is a gap in a chart
                return None
            return visible + in_flight

        def run() -> None:
            while True:
                found = depth()
                if found is not None:
                    self.sample(found)
                if stop.wait(every):
                    return

        thread = threading.Thread(target=run, daemon=True, name="dlq-sampler")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            found = depth()
            if found is not None:
                self.sample(found)

    def faults_from(self, events: list[tuple[float, str]]) -> list[tuple[float, str]]:
        return [(at - self.started, name) for at, name in events if at >= self.started - 1]

    def stage(
        self,
        name: str,
        *,
        faults: list[tuple[float, str]] | None = None,
        facts: list[tuple[str, str]] | None = None,
        tables: list[Table] | None = None,
        notes: list[str] | None = None,
    ) -> Stage:
        """The recorded stage; ``faults`` as ``FaultCounts.events()`` gives them."""
        with self._lock:
            return Stage(
                name=name,
                duration=time.time() - self.started,
                timeline={s: dict(c) for s, c in sorted(self.per_second.items())},
                faults=self.faults_from(faults or []),
                dlq=list(self.dlq),
                marks=list(self.marks),
                facts=list(facts or []),
                tables=list(tables or []),
                notes=list(notes or []),
            )


def comparison_table(
    title: str,
    columns: list[str],
    expected: dict[Any, tuple[Any, ...]],
    found: dict[Any, tuple[Any, ...]],
    *,
    label: Any = str,
    notes: dict[Any, str] | None = None,
) -> Table:
    """Expected against found, one row per key of either: its label, the expected values,
    the found values; a row whose values differ is a mismatch (with its note, if any)."""
    rows: list[Row] = []
    notes = notes or {}
    for key in sorted(set(expected) | set(found)):
        want, got = expected.get(key), found.get(key)
        cells = [str(label(key))]
        cells += [str(v) for v in (want or ("-",) * ((len(columns) - 1) // 2))]
        cells += [str(v) for v in (got or ("-",) * ((len(columns) - 1) // 2))]
        rows.append(Row(cells, mismatch=want != got, note=notes.get(key, "")))
    return Table(title=title, columns=columns, rows=rows)
