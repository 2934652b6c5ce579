"""The whole business logic: parse a shipment, say what it writes."""

from __future__ import annotations

from typing import Any

from exactly_once import Add, InvalidMessage, PutIfAbsent, Setup, Value, Write


class Shipment(Value):
    """A frozen value, as a frozen dataclass would be, without its cost at a cold start."""

    shipment_id: str
    warehouse: str
    parcels: int


class ShipmentsEffect:
    """Count the parcels per warehouse and record the shipment, in one transaction with the
    idempotency record (atomic mode)."""

    def __init__(self, setup: Setup) -> None:
        self.totals_table = setup.env("TOTALS_TABLE_NAME")
        self.shipments_table = setup.env("SHIPMENTS_TABLE_NAME")

    def parse(self, document: dict[str, Any]) -> Shipment:
        parcels = document.get("parcels")
        if not isinstance(parcels, int) or isinstance(parcels, bool) or not 1 <= parcels <= 1000:
            raise InvalidMessage("parcels: must be a whole number from 1 to 1000")
        warehouse = document.get("warehouse")
        if not isinstance(warehouse, str) or not warehouse:
            raise InvalidMessage("warehouse: must be a non-empty string")
        return Shipment(str(document["shipment_id"]), warehouse, parcels)

    def writes(self, shipment: Shipment) -> list[Write]:
        return [
            Add(
                self.totals_table,
                {"warehouse": shipment.warehouse},
                {"parcels": shipment.parcels, "shipments": 1},
            ),
            PutIfAbsent(
                self.shipments_table,
                {"shipment_id": shipment.shipment_id},
                {"warehouse": shipment.warehouse, "parcels": shipment.parcels},
            ),
        ]
