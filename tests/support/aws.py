"""AWS set-up for tests: fake credentials, and the ledger's resources on in-process moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.resources import REGION, LedgerResources, create_ledger_resources

__all__ = ["REGION", "LedgerResources", "create_ledger_resources", "fake_credentials"]


def fake_credentials(monkeypatch: Any) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    yield
