"""Least privilege, read from the app's synthesized stacks (the ledger's and the orders', dev
and prod, cdk-nag included).

Every IAM policy in the template: no wildcard in any action, every resource a reference to
one of the stack's own resources (never "*", never an ARN written out), and the exact set
of actions the consumer needs, each on the resource it belongs to.
"""

from __future__ import annotations

import re

import pytest

from pipeline.stack import SynthesizedStack
from tests.support.policies import (
    OTHER_STACK,
    PSEUDO_PARAMETERS,
    as_list,
    granted_actions,
    is_xray_statement,
    policy_documents,
    references,
)

pytestmark = pytest.mark.infra

# What every consumer's role may do, by the type of resource it may do it on, in atomic mode;
# leased mode only updates its records (acquire, complete, release a lease) instead.
CONSUMER_GRANTS: dict[str, set[tuple[str, str]]] = {
    "AWS::Logs::LogGroup": {("logs:CreateLogStream", ""), ("logs:PutLogEvents", "")},
    "AWS::DynamoDB::Table": {
        ("dynamodb:GetItem", "idempotency"),
        ("dynamodb:PutItem", "idempotency"),
    },
    "AWS::SQS::Queue": {
        ("sqs:ReceiveMessage", "source"),
        ("sqs:DeleteMessage", "source"),
        ("sqs:GetQueueAttributes", "source"),
        ("sqs:SendMessage", "dead letter"),
    },
}
ATOMIC_MODE_GRANTS = {("dynamodb:GetItem", "idempotency"), ("dynamodb:PutItem", "idempotency")}
LEASED_MODE_GRANTS = {("dynamodb:UpdateItem", "idempotency")}
# And what its effect needs, on its own tables.
EFFECT_GRANTS: dict[str, set[tuple[str, str]]] = {
    "ledger": {("dynamodb:UpdateItem", "ledger")},
    "orders": {("dynamodb:UpdateItem", "inventory"), ("dynamodb:PutItem", "orders")},
}
# Every stack of the app, by (pipeline, stage): the fixture that synthesizes it.
STACKS = {
    ("ledger", "dev"): "dev_stack",
    ("ledger", "prod"): "prod_stack",
    ("orders", "dev"): "orders_dev_stack",
    ("orders", "prod"): "orders_prod_stack",
}


def deployed_mode(stack: SynthesizedStack) -> str:
    """The consumer's EXACTLY_ONCE_MODE, as the template deploys it."""
    (function,) = stack.resources_of_type("AWS::Lambda::Function").values()
    return str(function["Properties"]["Environment"]["Variables"]["EXACTLY_ONCE_MODE"])


# How another stack's resource reads (``references``): the ledger's source queue's ARN.
LEDGER_QUEUE = re.compile(
    re.escape(OTHER_STACK)
    + r"ExactlyOnceLedger-(dev|prod)/PublishOutputFnGetAttConsumerQueue\w+Arn\w*"
)


def expected_grants(pipeline: str, mode: str) -> dict[str, set[tuple[str, str]]]:
    expected = {kind: set(grants) for kind, grants in CONSUMER_GRANTS.items()}
    if pipeline == "orders":  # the charges, on the ledger's queue alone
        expected[OTHER_STACK] = {("sqs:SendMessage", "the ledger's queue")}
    expected["AWS::DynamoDB::Table"] |= EFFECT_GRANTS[pipeline]
    if mode == "leased":
        expected["AWS::DynamoDB::Table"] -= ATOMIC_MODE_GRANTS
        expected["AWS::DynamoDB::Table"] |= LEASED_MODE_GRANTS
    return expected


@pytest.fixture(scope="module", params=sorted(STACKS), ids="-".join)
def pipeline_stack(request: pytest.FixtureRequest) -> tuple[str, SynthesizedStack]:
    pipeline, _ = request.param
    synthesized: SynthesizedStack = request.getfixturevalue(STACKS[request.param])
    return pipeline, synthesized


@pytest.fixture(scope="module")
def stack(pipeline_stack: tuple[str, SynthesizedStack]) -> SynthesizedStack:
    return pipeline_stack[1]


def test_no_policy_allows_a_wildcard_action_or_resource(stack: SynthesizedStack) -> None:
    documents = list(policy_documents(stack.template))
    assert documents, "no policy found: the test reads nothing"
    own = set(stack.template["Resources"])
    for logical_id, kind, document in documents:
        for statement in document["Statement"]:
            if is_xray_statement(statement):
                continue  # tracing: X-Ray takes no resource-level permissions
            assert "NotAction" not in statement and "NotResource" not in statement, logical_id
            actions = as_list(statement["Action"])
            allows = statement["Effect"] == "Allow"
            if allows:
                wild = [a for a in actions if "*" in a or "?" in a]
                assert not wild, f"{logical_id} ({kind}) allows wildcard actions {wild}"
                assert "Principal" not in statement or statement["Principal"] != {"AWS": "*"}, (
                    f"{logical_id} allows anyone"
                )
            for resource in as_list(statement["Resource"]):
                assert resource != "*", f"{logical_id} ({kind}): Resource '*'"
                targets = set(references(resource)) - PSEUDO_PARAMETERS
                # One resource of another stack may be named: the next stage's source queue
                # (orders send their charges to the ledger's), to send to and nothing else.
                elsewhere = {t for t in targets - own if LEDGER_QUEUE.fullmatch(t)}
                if elsewhere:
                    assert actions == ["sqs:SendMessage"], f"{logical_id}: {actions}"
                targets -= elsewhere
                assert targets <= own, f"{logical_id} refers outside the stack: {targets - own}"


def test_deny_statements_only_deny_insecure_transport_on_the_stacks_queues_and_topics(
    stack: SynthesizedStack,
) -> None:
    # The one wildcard in the template: enforce_ssl's "Deny sqs:* unless TLS" (and the
    # alarm topic's "Deny sns:Publish unless TLS"), which restricts; it grants nothing.
    resources = stack.template["Resources"]
    for logical_id, _, document in policy_documents(stack.template):
        for statement in document["Statement"]:
            if statement["Effect"] != "Deny":
                continue
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, logical_id
            for resource in as_list(statement["Resource"]):
                for target in references(resource):
                    assert resources[target]["Type"] in ("AWS::SQS::Queue", "AWS::SNS::Topic"), (
                        logical_id
                    )


def test_the_consumer_role_has_exactly_the_actions_it_needs(
    pipeline_stack: tuple[str, SynthesizedStack],
) -> None:
    pipeline, stack = pipeline_stack
    granted = granted_actions(stack.template)
    if OTHER_STACK in granted:
        granted[OTHER_STACK] = {
            (action, "the ledger's queue" if LEDGER_QUEUE.fullmatch(target) else target)
            for action, target in granted[OTHER_STACK]
        }
    assert granted == expected_grants(pipeline, deployed_mode(stack))


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
