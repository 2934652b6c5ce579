"""The consumer's tests: the plugin's fixtures, no conftest, nothing but the package."""

from __future__ import annotations

from typing import Any

from shipments.effect import ShipmentsEffect


def shipments_consumer(aws: Any) -> Any:
    resources = aws.consumer(key_prefix="shipments-v1", key_path="shipment_id")
    resources.table("totals", "warehouse", env="TOTALS_TABLE_NAME")
    resources.table("shipments", "shipment_id", env="SHIPMENTS_TABLE_NAME")
    return resources


def totals(resources: Any) -> dict[str, int]:
    return {i["warehouse"]["S"]: int(i["parcels"]["N"]) for i in resources.items("totals")}


def test_a_shipment_counts_once_however_often_it_arrives(exactly_once_aws: Any) -> None:
    consumer = shipments_consumer(exactly_once_aws)
    handler = consumer.handler(ShipmentsEffect)
    shipment = {"shipment_id": "s-1", "warehouse": "north", "parcels": 3}
    consumer.deliver(handler, shipment)
    consumer.deliver(handler, shipment)  # a lost acknowledgement: SQS delivers it again
    assert totals(consumer) == {"north": 3}


def test_a_bad_shipment_goes_to_the_dlq_with_its_reason(exactly_once_aws: Any) -> None:
    consumer = shipments_consumer(exactly_once_aws)
    handler = consumer.handler(ShipmentsEffect)
    response = consumer.deliver(handler, {"shipment_id": "s-1", "warehouse": "north", "parcels": 0})
    assert response == {"batchItemFailures": []}
    [letter] = consumer.dead_letters()
    assert (letter.outcome, letter.reason) == (
        "invalid",
        "parcels: must be a whole number from 1 to 1000",
    )


def test_shipments_are_exactly_once_through_duplicates_and_crashes(
    exactly_once_aws: Any, exactly_once_check: Any
) -> None:
    report = exactly_once_check(
        fresh=lambda: shipments_consumer(exactly_once_aws),
        bodies=[
            {"shipment_id": "s-1", "warehouse": "north", "parcels": 3},
            {"shipment_id": "s-2", "warehouse": "north", "parcels": 2},
            {"shipment_id": "s-3", "warehouse": "south", "parcels": 1},
        ],
        observe=totals,
        effect=ShipmentsEffect,
    )
    report.assert_ok()
    assert report.reference == {"north": 5, "south": 1}
