"""The README's CDK commands through the pinned CLI itself (``make test`` installs it).

``npx cdk synth`` offline with no credentials, and ``make deploy-local``'s program: a moto
server, the real ``cdk bootstrap`` and ``cdk deploy`` of both stacks against it, and the
listing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.deploy_local import CDK_CLI_ENVIRONMENT, cdk_command
from pipeline.moto_server import free_port
from pipeline.stack import ROOT

pytestmark = [pytest.mark.infra, pytest.mark.slow]

CLI = ROOT / "node_modules" / ".bin" / "cdk"


def offline_environment(tmp_path: Path) -> dict[str, str]:
    """No AWS credentials, profile or endpoint; an empty HOME; the venv's python first."""
    keep = {"PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path / "home")
    return {**env, **CDK_CLI_ENVIRONMENT}


def run_offline(command: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a session of its own: on a timeout, node and the synth go too."""
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=offline_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"{command[0]} still running after 600 s")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def newest_change(directory: Path) -> int | None:
    """The latest modification time under ``directory`` (None if there is nothing)."""
    if not directory.exists():
        return None
    return max(p.stat().st_mtime_ns for p in [directory, *directory.rglob("*")])


@pytest.fixture(autouse=True)
def pinned_cli() -> None:
    if not CLI.exists():
        pytest.fail("the pinned CDK CLI is missing: `make test` runs `npm ci` first")


def test_cdk_synth_works_offline_without_credentials(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    completed = run_offline(
        [*cdk_command(), "synth", "-q", "-c", "stage=dev", "-o", str(out)], tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    # Both pipelines' stacks, with no stack named on the command line.
    templates = {path.name: path for path in out.glob("*.template.json")}
    assert set(templates) == {
        "ExactlyOnceLedger-dev.template.json",
        "ExactlyOnceOrders-dev.template.json",
    }
    for template_file in templates.values():
        template = json.loads(template_file.read_text())
        types = {r["Type"] for r in template["Resources"].values()}
        assert {
            "AWS::SQS::Queue",
            "AWS::DynamoDB::Table",
            "AWS::Lambda::EventSourceMapping",
        } <= types, template_file.name
    # No notice, telemetry or version chatter on a quiet synth.
    assert "NOTICES" not in completed.stdout + completed.stderr


def test_deploy_local_runs_the_real_cli_against_moto_and_lists_both_stacks(
    tmp_path: Path,
) -> None:
    port = free_port()
    before = newest_change(ROOT / "cdk.out")
    completed = run_offline(
        [sys.executable, "-m", "pipeline.deploy_local", "--port", str(port)], tmp_path
    )
    output = completed.stdout
    assert completed.returncode == 0, output[-3000:] + completed.stderr[-3000:]
    assert "$ cdk bootstrap aws://" in output
    assert "$ cdk deploy ExactlyOnceLedger-dev ExactlyOnceOrders-dev " in output
    assert "deployed to moto in" in output
    ledger, orders = output.split("=== stack ExactlyOnceLedger-dev")[1].split(
        "=== stack ExactlyOnceOrders-dev"
    )
    shared = ("QueueUrl", "DeadLetterQueueUrl", "IdempotencyTableName", "FunctionName")
    for listing, own in (
        (ledger, ("LedgerTableName",)),
        (orders, ("InventoryTableName", "OrdersTableName")),
    ):
        for name in (*shared, *own):
            assert f"  {name} " in listing, listing
        assert "idempotency table TTL: ENABLED on expiration" in listing, listing
        assert "AWS::Lambda::EventSourceMapping" in listing, listing
        assert "event source mapping " in listing and ": Disabled " in listing, listing
    assert "LedgerTableName" not in orders and "InventoryTableName" not in ledger
    assert f"moto server at http://localhost:{port} " in output
    # The assembly went to a directory of its own, not over the developer's cdk.out.
    assert newest_change(ROOT / "cdk.out") == before
