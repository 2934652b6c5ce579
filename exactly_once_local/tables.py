"""The idempotency table as the CDK construct defines it, for moto.

Synthesized from the construct's own table (``exactly_once_cdk.idempotency_table``), never
a copied schema: if the construct changes its keys or TTL attribute, tests follow. The
first call in a process starts the CDK's runtime (a few seconds); the result is cached.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TableDefinition:
    """What ``CreateTable`` needs of a synthesized ``AWS::DynamoDB::Table``, and its TTL."""

    key_schema: tuple[tuple[str, str], ...]  # (attribute, HASH|RANGE)
    attribute_types: tuple[tuple[str, str], ...]  # (attribute, S|N|B)
    ttl_attribute: str | None

    def create_table_arguments(self) -> dict[str, Any]:
        return {
            "KeySchema": [{"AttributeName": a, "KeyType": k} for a, k in self.key_schema],
            "AttributeDefinitions": [
                {"AttributeName": a, "AttributeType": t} for a, t in self.attribute_types
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }

    @classmethod
    def from_properties(cls, properties: dict[str, Any]) -> TableDefinition:
        ttl = properties.get("TimeToLiveSpecification") or {}
        return cls(
            key_schema=tuple((k["AttributeName"], k["KeyType"]) for k in properties["KeySchema"]),
            attribute_types=tuple(
                (a["AttributeName"], a["AttributeType"]) for a in properties["AttributeDefinitions"]
            ),
            ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
        )


@functools.cache
def idempotency_table_definition() -> TableDefinition:
    """The construct's idempotency table, synthesized once per process."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from exactly_once_cdk import idempotency_table

    stack = cdk.Stack(cdk.App(), "IdempotencyTableDefinition")
    idempotency_table(stack, "IdempotencyTable")
    [properties] = [
        resource["Properties"]
        for resource in Template.from_stack(stack).to_json()["Resources"].values()
        if resource["Type"] == "AWS::DynamoDB::Table"
    ]
    return TableDefinition.from_properties(properties)
