"""Least privilege, read from the synthesized ledger stack (dev and prod, cdk-nag included).

Every IAM policy in the template: no wildcard in any action, every resource a reference to
one of the stack's own resources (never "*", never an ARN written out), and the exact set
of actions the consumer needs, each on the resource it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.stack import SynthesizedStack

pytestmark = pytest.mark.infra

# What the consumer's role may do, by the type of resource it may do it on.
EXPECTED_GRANTS: dict[str, set[tuple[str, str]]] = {
    "AWS::Logs::LogGroup": {("logs:CreateLogStream", ""), ("logs:PutLogEvents", "")},
    "AWS::DynamoDB::Table": {
        ("dynamodb:GetItem", "idempotency"),
        ("dynamodb:PutItem", "idempotency"),
        ("dynamodb:UpdateItem", "idempotency"),
        ("dynamodb:DeleteItem", "idempotency"),
        ("dynamodb:UpdateItem", "ledger"),
    },
    "AWS::SQS::Queue": {
        ("sqs:ReceiveMessage", "source"),
        ("sqs:DeleteMessage", "source"),
        ("sqs:ChangeMessageVisibility", "source"),
        ("sqs:GetQueueAttributes", "source"),
        ("sqs:SendMessage", "dead letter"),
    },
}
# CloudFormation's pseudo parameters may appear inside a Fn::Join around a reference.
PSEUDO_PARAMETERS = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::URLSuffix"}


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> SynthesizedStack:
    fixture: SynthesizedStack = request.getfixturevalue(f"{request.param}_stack")
    return fixture


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
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


def _references(value: Any) -> Iterator[str]:
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
            ref for part in parts if not isinstance(part, str) for ref in _references(part)
        ]
        if not [ref for ref in references if ref not in PSEUDO_PARAMETERS]:
            raise AssertionError(f"Fn::Join without a reference to the stack: {value}")
        for part in parts:
            if isinstance(part, str) and "*" in part:
                raise AssertionError(f"wildcard in a joined resource: {value}")
        yield from references
    else:
        raise AssertionError(f"resource is not a reference to the stack's own: {value!r}")


def test_no_policy_allows_a_wildcard_action_or_resource(stack: SynthesizedStack) -> None:
    documents = list(_policy_documents(stack.template))
    assert documents, "no policy found: the test reads nothing"
    own = set(stack.template["Resources"])
    for logical_id, kind, document in documents:
        for statement in document["Statement"]:
            assert "NotAction" not in statement and "NotResource" not in statement, logical_id
            actions = _as_list(statement["Action"])
            allows = statement["Effect"] == "Allow"
            if allows:
                wild = [a for a in actions if "*" in a or "?" in a]
                assert not wild, f"{logical_id} ({kind}) allows wildcard actions {wild}"
                assert "Principal" not in statement or statement["Principal"] != {"AWS": "*"}, (
                    f"{logical_id} allows anyone"
                )
            for resource in _as_list(statement["Resource"]):
                assert resource != "*", f"{logical_id} ({kind}): Resource '*'"
                targets = set(_references(resource)) - PSEUDO_PARAMETERS
                assert targets <= own, f"{logical_id} refers outside the stack: {targets - own}"


def test_deny_statements_only_deny_insecure_transport_on_the_stacks_queues(
    stack: SynthesizedStack,
) -> None:
    # The one wildcard in the template: enforce_ssl's "Deny sqs:* unless TLS", which
    # restricts; it grants nothing.
    resources = stack.template["Resources"]
    for logical_id, _, document in _policy_documents(stack.template):
        for statement in document["Statement"]:
            if statement["Effect"] != "Deny":
                continue
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, logical_id
            for resource in _as_list(statement["Resource"]):
                for target in _references(resource):
                    assert resources[target]["Type"] == "AWS::SQS::Queue", logical_id


def _role_of(resource_id: str, template: dict[str, Any]) -> str:
    """What a granted resource is to the consumer: the idempotency or ledger table, etc."""
    resource = template["Resources"][resource_id]
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::DynamoDB::Table":
        keys = {k["AttributeName"] for k in properties["KeySchema"]}
        return "ledger" if keys == {"account_id", "currency"} else "idempotency"
    if resource["Type"] == "AWS::SQS::Queue":
        return "source" if "RedrivePolicy" in properties else "dead letter"
    return ""


def test_the_consumer_role_has_exactly_the_actions_it_needs(stack: SynthesizedStack) -> None:
    template = stack.template
    granted: dict[str, set[tuple[str, str]]] = {}
    for _, kind, document in _policy_documents(template):
        if not kind.startswith("AWS::IAM::"):
            continue
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            for resource in _as_list(statement["Resource"]):
                for target in set(_references(resource)) - PSEUDO_PARAMETERS:
                    resource_type = template["Resources"][target]["Type"]
                    granted.setdefault(resource_type, set()).update(
                        (action, _role_of(target, template))
                        for action in _as_list(statement["Action"])
                    )
    assert granted == EXPECTED_GRANTS


def test_roles_carry_no_managed_policy_and_only_lambda_assumes_them(
    stack: SynthesizedStack,
) -> None:
    roles = [r for r in stack.template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert roles
    for role in roles:
        properties = role["Properties"]
        assert not properties.get("ManagedPolicyArns"), properties.get("ManagedPolicyArns")
        statements = properties["AssumeRolePolicyDocument"]["Statement"]
        assert statements == [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
            }
        ]
