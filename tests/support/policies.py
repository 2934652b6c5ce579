"""Reading IAM out of a synthesized template (policies, their targets, the grants), and
the IAM action each recorded API call needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# TransactWriteItems is authorized per item (AWS: "Actions and condition keys for DynamoDB").
TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# SendMessageBatch is authorized as SendMessage.
SQS_ACTIONS = {"SendMessageBatch": "SendMessage", "SendMessage": "SendMessage"}
# What Lambda's poller does with the function's role for an SQS trigger (AWS documents these
# three, as in AWSLambdaSQSQueueExecutionRole); the function's code never does them.
POLLER = {
    ("sqs:ReceiveMessage", "source"),
    ("sqs:DeleteMessage", "source"),
    ("sqs:GetQueueAttributes", "source"),
}
# CloudFormation's pseudo parameters may appear inside a Fn::Join around a reference.
PSEUDO_PARAMETERS = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::URLSuffix"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical id, kind, document) of every identity and resource policy in the template."""
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield logical_id, kind, properties["PolicyDocument"]
        elif kind in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            for inline in properties.get("Policies", []):
                yield logical_id, kind, inline["PolicyDocument"]
        elif kind.endswith("Policy") and "PolicyDocument" in properties:
            yield logical_id, kind, properties["PolicyDocument"]  # queue and bucket policies


def references(value: Any) -> Iterator[str]:
    """Logical ids (or pseudo parameters) that a resource expression points at.

    Raises on anything that is not a reference: a literal ARN, "*", or another intrinsic.
    """
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        yield target[0] if isinstance(target, list) else str(target).split(".")[0]
    elif isinstance(value, dict) and set(value) == {"Ref"}:
        yield value["Ref"]
    elif isinstance(value, dict) and set(value) == {"Fn::Join"}:
        _, parts = value["Fn::Join"]
        references = [
            ref for part in parts if not isinstance(part, str) for ref in references(part)
        ]
        if not [ref for ref in references if ref not in PSEUDO_PARAMETERS]:
            raise AssertionError(f"Fn::Join without a reference to the stack: {value}")
        for part in parts:
            if isinstance(part, str) and "*" in part:
                raise AssertionError(f"wildcard in a joined resource: {value}")
        yield from references
    elif isinstance(value, dict) and set(value) == {"Fn::GetStackOutput"}:
        # CDK's weak cross-stack reference (a resource of another stack of the app).
        output = value["Fn::GetStackOutput"]
        yield f"{OTHER_STACK}{output['StackName']}/{output['OutputName']}"
    else:
        raise AssertionError(f"resource is not a reference to the stack's own: {value!r}")


# How ``references`` names a resource of another stack: ``other-stack:STACK/OUTPUT``.
OTHER_STACK = "other-stack:"


# The app's tables, told apart by their keys.
TABLE_ROLES = {
    frozenset({"id"}): "idempotency",
    frozenset({"account_id", "currency"}): "ledger",
    frozenset({"sku"}): "inventory",
    frozenset({"order_id"}): "orders",
}


def role_of(resource_id: str, template: dict[str, Any]) -> str:
    """What a granted resource is to the consumer: the idempotency or ledger table, etc."""
    resource = template["Resources"][resource_id]
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::DynamoDB::Table":
        keys = frozenset(k["AttributeName"] for k in properties["KeySchema"])
        return TABLE_ROLES.get(keys, f"table keyed by {sorted(keys)}")
    if resource["Type"] == "AWS::SQS::Queue":
        return "source" if "RedrivePolicy" in properties else "dead letter"
    return ""


# X-Ray's two write actions take no resource-level permissions: with tracing on (the
# construct's default) they are the one statement on Resource "*", made by the runtime.
XRAY_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})


def is_xray_statement(statement: dict[str, Any]) -> bool:
    return set(as_list(statement["Action"])) == XRAY_ACTIONS and statement["Resource"] == "*"


def granted_actions(template: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """(action, what the resource is to the consumer) granted by IAM policies, by resource type
    (the X-Ray statement apart: it names no resource); another stack's resources under
    ``OTHER_STACK``, as (action, ``other-stack:STACK/OUTPUT``)."""
    granted: dict[str, set[tuple[str, str]]] = {}
    for _, kind, document in policy_documents(template):
        if not kind.startswith("AWS::IAM::"):
            continue
        for statement in document["Statement"]:
            if is_xray_statement(statement):
                continue
            assert statement["Effect"] == "Allow"
            for resource in as_list(statement["Resource"]):
                for target in set(references(resource)) - PSEUDO_PARAMETERS:
                    if target.startswith(OTHER_STACK):
                        granted.setdefault(OTHER_STACK, set()).update(
                            (action, target) for action in as_list(statement["Action"])
                        )
                        continue
                    resource_type = template["Resources"][target]["Type"]
                    granted.setdefault(resource_type, set()).update(
                        (action, role_of(target, template))
                        for action in as_list(statement["Action"])
                    )
    return granted
