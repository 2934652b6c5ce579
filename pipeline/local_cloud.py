"""This repository's app on the local cloud (``exactly_once_local.local_cloud``).

``python -m pipeline local up`` runs ``exactly_once_local.cli.run_up`` on the app in the
current folder: from the repository root, this app's stacks (the ledger's and the
orders') together. The demo and the campaign judge the ledger alone: ``start_local_cloud``
here deploys the stage's ledger stack only, from the app synthesized as ``cdk synth``
does it (once per process and stage), through the same generic code.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from exactly_once_local.assembly import CloudAssembly, synth
from exactly_once_local.local_cloud import (
    DEFAULT_CONCURRENCY,
    FunctionSettings,
    LocalCloud,
    LocalContainer,
    MappingSettings,
    quiet_moto,
)
from exactly_once_local.local_cloud import start_local_cloud as start_app_cloud
from exactly_once_local.moto_server import DEFAULT_PORT, DEFAULT_REGION, MOTO_ACCOUNT

__all__ = [
    "DEFAULT_CONCURRENCY",
    "FunctionSettings",
    "LocalCloud",
    "LocalContainer",
    "MappingSettings",
    "app_assembly",
    "ledger_stack_name",
    "quiet_moto",
    "start_local_cloud",
]

ROOT = Path(__file__).resolve().parent.parent


def ledger_stack_name(stage: str) -> str:
    """The ledger stack's name (``app.Stage.ledger_stack_name``, without importing the app:
    that would load aws-cdk-lib and jsii into this process)."""
    return f"ExactlyOnceLedger-{stage}"


@functools.cache
def app_assembly(stage: str = "dev", region: str = DEFAULT_REGION) -> CloudAssembly:
    """This repository's app synthesized as ``cdk synth`` does (cdk.json's app command, in
    a subprocess), once per process, stage and region; removed at exit."""
    outdir = Path(tempfile.mkdtemp(prefix=f"cdk-local-{stage}-"))
    atexit.register(shutil.rmtree, outdir, ignore_errors=True)
    return synth(ROOT, outdir, region=region, account=MOTO_ACCOUNT, context={"stage": stage})


def start_local_cloud(
    port: int = DEFAULT_PORT,
    stage: str = "dev",
    *,
    region: str = DEFAULT_REGION,
    on_batch: Callable[[str], None] = lambda line: None,
    poll: bool = True,
) -> LocalCloud:
    """The stage's ledger stack alone on a local cloud; ``stop()`` undoes it all.

    With ``poll=False`` the pollers are built but not started: a caller (the demo) runs
    its own, with faults around them.
    """
    return start_app_cloud(
        app_assembly(stage, region),
        port,
        stacks=[ledger_stack_name(stage)],
        region=region,
        on_batch=on_batch,
        poll=poll,
    )
