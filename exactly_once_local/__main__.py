"""``python -m exactly_once_local up``: see ``exactly_once_local.cli``."""

from __future__ import annotations

from exactly_once_local.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
