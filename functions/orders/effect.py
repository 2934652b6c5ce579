"""The orders consumer's effect: take the stock and write the order, with the record.

Inventory is keyed by ``sku`` and holds ``stock``; orders are keyed by ``order_id``. Both
writes and the idempotency record commit in one transaction: stock never goes negative
(the take is refused instead), and an order row exists exactly when its stock was taken.
"""

from __future__ import annotations

from typing import Any

from exactly_once import PutIfAbsent, Setup, Take, Write

from .model import Order, parse_order

SKU = "sku"
STOCK = "stock"
ORDER_ID = "order_id"
INVENTORY_TABLE_ENV = "INVENTORY_TABLE_NAME"
ORDERS_TABLE_ENV = "ORDERS_TABLE_NAME"


class OrdersEffect:
    """Atomic mode: the stock decrement and the order row, refused when stock is short."""

    def __init__(self, *, inventory_table: str, orders_table: str) -> None:
        self.inventory_table = inventory_table
        self.orders_table = orders_table

    @classmethod
    def from_setup(cls, setup: Setup) -> OrdersEffect:
        """Table names from the function's environment (set by the orders stack)."""
        return cls(
            inventory_table=setup.env(INVENTORY_TABLE_ENV),
            orders_table=setup.env(ORDERS_TABLE_ENV),
        )

    def parse(self, document: dict[str, Any]) -> Order:
        return parse_order(document)

    def writes(self, order: Order) -> list[Write]:
        return [
            Take(
                self.inventory_table,
                {SKU: order.sku},
                STOCK,
                order.quantity,
                refusal=f"out of stock: fewer than {order.quantity} of {order.sku} left",
            ),
            # The record already stops a repeat; this stops one past the record's retention.
            PutIfAbsent(
                self.orders_table,
                {ORDER_ID: order.order_id},
                {SKU: order.sku, "quantity": order.quantity},
                refusal="order id already used by an earlier order",
            ),
        ]
