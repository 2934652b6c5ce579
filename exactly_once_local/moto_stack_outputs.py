"""CDK's weak cross-stack references, for moto's CloudFormation.

With the feature flag ``@aws-cdk/core:defaultCrossStackReferences`` at its recommended
value (``weak``), a stack that uses another stack's resource reads that stack's output
with the ``Fn::GetStackOutput`` intrinsic instead of an export. moto 5 does not know the
intrinsic (it would create the resource with the raw dict as its value), so this resolves
it in moto's template parser from the named stack's outputs, in the same account; a
missing stack or output fails the deployment, as CloudFormation does. It serves both the
local cloud's own deploys and ``cdk deploy`` into a moto server.
"""

from __future__ import annotations

from typing import Any

import moto.cloudformation.parsing as parsing

INTRINSIC = "Fn::GetStackOutput"
_ORIGINAL = parsing.clean_json


class StackOutputNotFound(Exception):
    """The stack or output an ``Fn::GetStackOutput`` names does not exist."""


def stack_output(account_id: str, region: str, stack_name: str, output_name: str) -> str:
    """The value of a deployed stack's output, from moto's CloudFormation backend."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[account_id][region]
    # A stack that was created (or updated), not one rolled back or being deleted.
    live = [
        stack
        for stack in backend.stacks.values()
        if stack.name == stack_name
        and stack.status.endswith("_COMPLETE")
        and "ROLLBACK" not in stack.status
        and not stack.status.startswith("DELETE")
    ]
    if not live:
        raise StackOutputNotFound(f"no stack {stack_name} in {region} to read {output_name} from")
    for stack in live:
        for output in stack.outputs or []:
            if output["OutputKey"] == output_name:
                return str(output["OutputValue"])
    raise StackOutputNotFound(f"stack {stack_name} has no output {output_name}")


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    if isinstance(resource_json, dict) and INTRINSIC in resource_json:
        spec = _ORIGINAL(resource_json[INTRINSIC], resources_map)
        return stack_output(
            resources_map._account_id,
            spec.get("Region") or resources_map._region_name,
            spec["StackName"],
            spec["OutputName"],
        )
    return _ORIGINAL(resource_json, resources_map)


def install() -> None:
    """Teach moto's CloudFormation ``Fn::GetStackOutput`` in this process (idempotent).
    The parser calls ``clean_json`` through its module, so nested uses resolve too."""
    parsing.clean_json = _clean_json  # type: ignore[assignment]
