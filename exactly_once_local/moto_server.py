"""A moto server on localhost, in a thread of this process: the local cloud's endpoint."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

DEFAULT_PORT = 5000
DEFAULT_REGION = "eu-west-1"
# moto's default account: STS on moto answers with it, and cdk bootstrap targets it.
MOTO_ACCOUNT = "123456789012"

# Credentials for moto only: moto accepts anything; these keep boto3 and the CDK CLI from
# looking for real ones (and from ever talking to AWS with them).
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class LocalEndpoint:
    """Where the moto server listens, and the environment that points clients at it."""

    host: str
    port: int
    region: str = DEFAULT_REGION

    @property
    def url(self) -> str:
        # "localhost", not 127.0.0.1: moto reads S3 bucket names from the Host header
        # otherwise (virtual-host style), which breaks the CDK asset uploads.
        return f"http://{self.host}:{self.port}"

    def environ(self) -> dict[str, str]:
        """Variables for boto3 and the CDK CLI: endpoint, region, fake credentials."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }


def free_port() -> int:
    """A TCP port nothing listens on right now (for tests that run servers side by side)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("localhost", 0))
        return int(probe.getsockname()[1])


class SerializedWSGIApp:
    """A WSGI app that handles one request at a time: each call (and its body) under a lock.

    moto holds no per-request lock (docs/local-cloud.md): under concurrent requests its
    DynamoDB loses ADD updates and lets two conditional puts win. AWS is atomic per request;
    with this wrapper, so is the moto server. Long polls would hold the lock for their whole
    wait: clients of a serialized server poll with ``WaitTimeSeconds=0``.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], lock: threading.Lock) -> None:
        self.app = app
        self.lock = lock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]  # the body too: it may be computed lazily
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


@contextmanager
def moto_server(
    port: int = DEFAULT_PORT,
    *,
    host: str = "localhost",
    region: str = DEFAULT_REGION,
    serialized: bool = False,
) -> Iterator[LocalEndpoint]:
    """Run ``moto.server.ThreadedMotoServer`` on ``host:port`` for the ``with`` block.

    ``serialized``: handle one request at a time (``SerializedWSGIApp``), as the local
    cloud must before any concurrent result on it means anything.
    """
    from moto.server import ThreadedMotoServer  # about 0.3 s: only when a server is wanted

    from . import moto_stack_outputs

    moto_stack_outputs.install()  # CDK's cross-stack references, for any client's deploy

    # One access-log line per request drowns everything else; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    if serialized:
        # start() returns once the werkzeug server exists and before any request is
        # served by it; the request handler reads ``server.app`` on every request.
        wsgi_server = server._server  # moto exposes no hook for the app
        assert wsgi_server is not None
        wsgi_server.app = SerializedWSGIApp(wsgi_server.app, threading.Lock())
    try:
        yield LocalEndpoint(host=host, port=port, region=region)
    finally:
        server.stop()


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the ``with`` block, then restore what was there."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
