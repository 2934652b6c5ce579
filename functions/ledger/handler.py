"""Lambda entry point of the ledger consumer (``ledger.handler.lambda_handler``)."""

from __future__ import annotations

from exactly_once import make_handler

from .bootstrap import ledger_effect

lambda_handler = make_handler(ledger_effect)
