"""The whole app on the local cloud: deployed from cdk.json, its consumer polling."""

from __future__ import annotations

from typing import Any


def test_a_shipment_sent_twice_counts_once(exactly_once_app: Any) -> None:
    shipment = {"shipment_id": "s-1", "warehouse": "north", "parcels": 3}
    exactly_once_app.send("QueueUrl", shipment, shipment)
    exactly_once_app.settle()
    totals_table = exactly_once_app.physical_id("Shipments/Totals")
    [north] = exactly_once_app.items(totals_table)
    assert north["parcels"]["N"] == "3" and north["shipments"]["N"] == "1"


def test_a_bad_shipment_lands_in_the_dlq(exactly_once_app: Any) -> None:
    exactly_once_app.send("QueueUrl", {"shipment_id": "s-2", "warehouse": "", "parcels": 1})
    exactly_once_app.settle()
    dlq = exactly_once_app.output("DeadLetterQueueUrl")
    messages = exactly_once_app.client("sqs").receive_message(
        QueueUrl=dlq, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    reasons = [m["MessageAttributes"]["exactly_once.reason"]["StringValue"] for m in messages]
    assert reasons == ["warehouse: must be a non-empty string"]
