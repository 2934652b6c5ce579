"""The local cloud's moto server, now in ``exactly_once_local.moto_server``; kept importable
here for the repository's own tools and tests."""

from __future__ import annotations

from exactly_once_local.moto_server import (
    DEFAULT_PORT,
    DEFAULT_REGION,
    FAKE_CREDENTIALS,
    MOTO_ACCOUNT,
    LocalEndpoint,
    SerializedWSGIApp,
    free_port,
    moto_server,
    patched_environ,
)

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_REGION",
    "FAKE_CREDENTIALS",
    "MOTO_ACCOUNT",
    "LocalEndpoint",
    "SerializedWSGIApp",
    "free_port",
    "moto_server",
    "patched_environ",
]
