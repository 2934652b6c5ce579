"""The gates every synth must pass: cdk-nag's AwsSolutions checks and cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk import aws_sqs as sqs

from app import add_ledger_stack
from pipeline.stack import ROOT, SynthesizedStack

pytestmark = pytest.mark.infra


def test_cdk_nag_finds_nothing_on_the_app(dev_stack: SynthesizedStack) -> None:
    # The synth would have raised on any unacknowledged finding; check the report too.
    report = json.loads((dev_stack.assembly_dir / "validation-report.json").read_text())
    assert report["pluginReports"] == [], report


def test_cdk_nag_acknowledges_nothing(dev_stack: SynthesizedStack) -> None:
    tree = (dev_stack.assembly_dir / "tree.json").read_text()
    assert "acknowledge" not in tree.lower(), "a suppression crept in: justify it in review"


def test_cdk_nag_gate_fails_the_synth_on_a_finding(tmp_path: Path) -> None:
    # GIVEN the app with one queue that breaks AwsSolutions-SQS4 (no SSL enforcement)
    app = App(outdir=str(tmp_path))
    stack = add_ledger_stack(app, "dev")
    sqs.Queue(stack, "Careless", enforce_ssl=False)
    # WHEN it is synthesized THEN the synth fails
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS4"):
        app.synth()


def test_two_stacks_in_one_app_register_cdk_nag_once(tmp_path: Path) -> None:
    # GIVEN one app with both stages' stacks, and one finding in one of them
    app = App(outdir=str(tmp_path))
    stack = add_ledger_stack(app, "dev")
    add_ledger_stack(app, "prod")
    sqs.Queue(stack, "Careless", enforce_ssl=False)
    # WHEN it is synthesized THEN it fails, and AwsSolutions reported once, not once per stack
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS4") as refused:
        app.synth()
    assert str(refused.value).count("AwsSolutions-SQS4") == 1, str(refused.value)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert [plugin["pluginName"] for plugin in report["pluginReports"]] == [
        "AwsSolutions",
        "Serverless",
    ]


def test_two_clean_stacks_in_one_app_synthesize(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    names = {add_ledger_stack(app, stage).stack_name for stage in ("dev", "prod")}
    assembly = app.synth()
    assert {stack.stack_name for stack in assembly.stacks} == names


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_passes_on_the_synthesized_template(
    stage: str, dev_stack: SynthesizedStack, prod_stack: SynthesizedStack, tmp_path: Path
) -> None:
    synthesized = {"dev": dev_stack, "prod": prod_stack}[stage]
    template = tmp_path / f"{synthesized.stack_name}.template.json"
    template.write_text(json.dumps(synthesized.template))
    # From the repository root so .cfnlintrc (and only its documented ignores) applies.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(template)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"cfn-lint findings:\n{result.stdout}{result.stderr}"
