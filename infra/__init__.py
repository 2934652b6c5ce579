"""This repository's own CDK stacks (the ledger and orders pipelines). The reusable
construct lives in the ``exactly_once_cdk`` package. No runtime code is imported here."""

from __future__ import annotations

from .common import CONSUMER_OUTPUTS, FUNCTIONS_DIR, OutputName
from .ledger_stack import LedgerStack
from .orders_stack import OrdersStack

__all__ = ["CONSUMER_OUTPUTS", "FUNCTIONS_DIR", "LedgerStack", "OrdersStack", "OutputName"]
