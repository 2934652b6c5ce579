"""The progress bar: rate and ETA on a terminal, plain periodic lines elsewhere."""

from __future__ import annotations

import io

from pipeline.progress import ProgressBar


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_one_rewritten_line_with_rate_and_eta() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(200, out, label="settled", tty=True, clock=clock)
    clock.now += 10
    bar.update(50, note="sent 100/200")
    assert out.getvalue().startswith("\r\x1b[2K")
    line = bar.line()
    assert "[" + "#" * 6 + "-" * 18 + "]" in line
    assert "50/200 25% 5.0/s ETA 0:30 sent 100/200" in line
    clock.now += 30
    bar.update(200)
    bar.close()
    assert out.getvalue().endswith("\n")
    assert "200/200 100% 5.0/s in 0:40" in out.getvalue()
    assert "\n" not in out.getvalue()[:-1]  # one line, rewritten


def test_elsewhere_a_plain_line_every_few_seconds_and_one_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(100, out, tty=False, every=5.0, clock=clock)
    for _ in range(100):
        clock.now += 0.1
        bar.advance()
    bar.close()
    lines = out.getvalue().splitlines()
    # the first (at 0.1 s), 5 s after it, then the end
    assert len(lines) == 3, lines
    assert lines[1].startswith("[" + "#" * 12 + "-" * 12 + "] 52/100 52%")
    assert "\r" not in out.getvalue()
    assert lines[-1].startswith("[" + "#" * 24 + "] 100/100 100% 10.0/s in 0:10")


def test_without_a_total_it_counts_and_gives_the_rate() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(0, out, unit="messages", tty=False, clock=clock)
    clock.now += 4
    bar.advance(20)
    assert bar.line() == "20 messages 5.0/s in 0:04"


def test_the_end_is_not_said_twice() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(10, out, tty=False, every=5.0, clock=clock)
    clock.now += 6
    bar.update(10)
    bar.close()
    assert len(out.getvalue().splitlines()) == 1
