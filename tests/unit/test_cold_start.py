"""What a cold start loads: no dataclass, no leased mode for an atomic consumer, no boto3."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from dataclasses import is_dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("package", ["exactly_once", "ledger"])
def test_no_class_a_cold_start_imports_is_a_dataclass(package: str) -> None:
    # A dataclass compiles its methods at import: 0.6 ms each on every cold start.
    root = importlib.import_module(package)
    for module_info in pkgutil.iter_modules(root.__path__):
        module = importlib.import_module(f"{package}.{module_info.name}")
        classes = [v for v in vars(module).values() if isinstance(v, type)]
        defined_here = [c for c in classes if c.__module__ == module.__name__]
        assert not [c for c in defined_here if is_dataclass(c)], module.__name__


def test_an_atomic_handler_never_loads_the_leased_mode_and_the_layer_never_loads_boto3() -> None:
    # In a fresh interpreter, as Lambda starts one: the ledger's handler, ready for a batch;
    # then every module of the layer and of both consumers (boto3 alone costs about 20 ms).
    code = (
        "import importlib, pkgutil, sys\n"
        "import ledger.handler as h\n"
        "h.lambda_handler.build()\n"
        "print('exactly_once.leased' in sys.modules)\n"
        "import exactly_once, ledger, orders\n"
        "for package in (exactly_once, ledger, orders):\n"
        "    for info in pkgutil.iter_modules(package.__path__):\n"
        "        importlib.import_module(f'{package.__name__}.{info.name}')\n"
        "print('boto3' in sys.modules)\n"
    )
    environment = {
        "PYTHONPATH": f"{ROOT / 'functions'}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "IDEMPOTENCY_TABLE_NAME": "idempotency",
        "LEDGER_TABLE_NAME": "ledger",
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        "IDEMPOTENCY_KEY_PREFIX": "ledger-v1",
        "IDEMPOTENCY_KEY_PATH": "transaction_id",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
