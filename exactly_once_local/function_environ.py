"""Each local function's environment variables, seen by its own threads only.

In Lambda each function has its own process and environment. Locally, several functions
run in one process (each poller worker is a warm container of its own, in a thread), and
``os.environ`` is one mapping: two functions with an ``IDEMPOTENCY_TABLE_NAME`` each would
read each other's. ``install()`` replaces ``os.environ`` with a mapping that reads a
thread's own values first (set with ``function_environment``) and the process's
otherwise; with no thread values it behaves as ``os.environ`` did. Writes go to the
process's environment, unless the thread has its own value for the name.

A thread that the function's own code starts sees the process's environment only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

_INSTALL_LOCK = threading.Lock()


class ThreadEnviron(MutableMapping[str, str]):
    """``os.environ`` with per-thread values on top (see the module docstring)."""

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base
        self._local = threading.local()

    def _own(self) -> dict[str, str] | None:
        own: dict[str, str] | None = getattr(self._local, "values", None)
        return own

    def __getitem__(self, key: str) -> str:
        own = self._own()
        if own is not None and key in own:
            return own[key]
        return self.base[key]

    def __setitem__(self, key: str, value: str) -> None:
        own = self._own()
        if own is not None and key in own:
            own[key] = value
        else:
            self.base[key] = value

    def __delitem__(self, key: str) -> None:
        own = self._own()
        if own is not None and key in own:
            del own[key]
        else:
            del self.base[key]

    def __iter__(self) -> Iterator[str]:
        own = self._own() or {}
        yield from own
        yield from (key for key in self.base if key not in own)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:
        return dict(self)

    @contextmanager
    def values_for_thread(self, values: Mapping[str, str]) -> Iterator[None]:
        previous = self._own()
        self._local.values = {**(previous or {}), **values}
        try:
            yield
        finally:
            self._local.values = previous


def install() -> ThreadEnviron:
    """Make ``os.environ`` a ``ThreadEnviron`` (idempotent); it stays, transparent."""
    with _INSTALL_LOCK:
        if not isinstance(os.environ, ThreadEnviron):
            # Replaced on purpose, not cleared: the process environment stays underneath.
            os.environ = ThreadEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003
        return os.environ  # type: ignore[return-value]


@contextmanager
def function_environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` for this thread only, for the ``with`` block."""
    with install().values_for_thread(values):
        yield
