"""A progress bar for long work (the demo, the campaigns, ``send --count``).

On a terminal: one self-rewriting line, ``label [#####-----] 540/1240 44% 23.5/s ETA 0:30``
plus a note. Otherwise (a pipe, a CI log): a plain line every ``every`` seconds and one
at the end, so a log shows progress without a carriage-return smear. Thread-safe: a
poller's workers may report from several threads.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24


def _clock_text(seconds: float) -> str:
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """``update(done)`` or ``advance(n)`` as work is done, ``close()`` at the end."""

    def __init__(
        self,
        total: int,
        out: TextIO | None = None,
        *,
        label: str = "",
        unit: str = "",
        every: float = 5.0,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(total, 0)
        self.out = out if out is not None else sys.stderr
        self.label = label
        self.unit = unit
        self.every = every
        self.tty = self.out.isatty() if tty is None else tty
        self._clock = clock
        self._started = clock()
        self._last = float("-inf")
        self._done = 0
        self._note = ""
        self._shown_done = -1  # how much the last line shown said was done
        self._lock = threading.Lock()

    @property
    def done(self) -> int:
        return self._done

    def advance(self, count: int = 1, note: str | None = None) -> None:
        with self._lock:
            self._set(self._done + count, note)

    def update(self, done: int, note: str | None = None) -> None:
        with self._lock:
            self._set(done, note)

    def _set(self, done: int, note: str | None) -> None:
        self._done = done
        if note is not None:
            self._note = note
        now = self._clock()
        if now - self._last >= (0.1 if self.tty else self.every):
            self._last = now
            self._show(now)
            self._shown_done = done

    def line(self, now: float | None = None) -> str:
        """What the bar says now."""
        now = self._clock() if now is None else now
        elapsed = max(now - self._started, 1e-9)
        done = min(self._done, self.total) if self.total else self._done
        rate = done / elapsed
        parts = [self.label] if self.label else []
        if self.total:
            filled = BAR_WIDTH * done // self.total
            parts.append("[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]")
            parts.append(f"{done}/{self.total}{' ' + self.unit if self.unit else ''}")
            parts.append(f"{100 * done // self.total}%")
        else:
            parts.append(f"{done}{' ' + self.unit if self.unit else ''}")
        parts.append(f"{rate:.1f}/s")
        if self.total and done < self.total:
            parts.append(f"ETA {_clock_text((self.total - done) / rate)}" if rate > 0 else "ETA ?")
        else:
            parts.append(f"in {_clock_text(elapsed)}")
        if self._note:
            parts.append(self._note)
        return " ".join(parts)

    def _show(self, now: float) -> None:
        line = self.line(now)
        if self.tty:
            print("\r\x1b[2K" + line, end="", file=self.out, flush=True)
        else:
            print(line, file=self.out, flush=True)

    def close(self) -> None:
        """The final state (unless the last line said it already), and the line ended."""
        with self._lock:
            if self.tty or self._done != self._shown_done:
                self._show(self._clock())
            if self.tty:
                print(file=self.out, flush=True)
