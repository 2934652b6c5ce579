"""The ledger's effect for the mode the construct deployed it in."""

from __future__ import annotations

from exactly_once import Setup

from .effects import LedgerAtomicEffect, LedgerLeasedEffect


def ledger_effect(setup: Setup) -> LedgerAtomicEffect | LedgerLeasedEffect:
    """The balance update: in the record's transaction (atomic) or alone (leased)."""
    table = setup.env("LEDGER_TABLE_NAME")
    if setup.mode == "leased":
        return LedgerLeasedEffect(setup.dynamodb, table)
    return LedgerAtomicEffect(table)
