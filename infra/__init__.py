"""This repository's own CDK stacks (the ledger pipeline). The reusable construct lives in
the ``exactly_once_cdk`` package. No runtime code is imported here."""

from __future__ import annotations

from .ledger_stack import FUNCTIONS_DIR, LedgerStack, OutputName

__all__ = ["FUNCTIONS_DIR", "LedgerStack", "OutputName"]
