"""moto's faster TransactWriteItems, now in ``exactly_once_local.moto_patches``; kept
importable here for the repository's own tools and tests."""

from __future__ import annotations

from exactly_once_local.moto_patches import ORIGINAL, fast_transact_write_items, install, uninstall

__all__ = ["ORIGINAL", "fast_transact_write_items", "install", "uninstall"]
