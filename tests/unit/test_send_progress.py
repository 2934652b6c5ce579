"""``pipeline send`` reports progress on long work: a bar on a terminal, plain lines in a log."""

from __future__ import annotations

import io

from pipeline.ops import send
from pipeline.progress import ProgressBar


def test_send_uses_the_shared_progress_bar_with_plain_lines_off_a_terminal() -> None:
    assert send.ProgressBar is ProgressBar
    out = io.StringIO()  # not a terminal
    progress = send.ProgressBar(3, out, label="sent", unit="messages")
    progress.advance(1)
    progress.advance(2)
    progress.close()
    assert "sent" in out.getvalue() and "3/3 messages" in out.getvalue()
