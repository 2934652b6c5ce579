"""``python -m pipeline`` run in the test's process against a local cloud."""

from __future__ import annotations

import pytest

from exactly_once_local.local_cloud import LocalCloud
from pipeline.__main__ import main


class Cli:
    """``python -m pipeline`` in this process, pointed at the local cloud."""

    def __init__(self, cloud: LocalCloud, capsys: pytest.CaptureFixture[str]) -> None:
        self.cloud = cloud
        self.capsys = capsys
        self.out = ""
        self.err = ""

    def __call__(self, *argv: str) -> int:
        self.capsys.readouterr()
        code = main([*argv, "--endpoint-url", self.cloud.endpoint_url])
        self.out, self.err = self.capsys.readouterr()
        return code
