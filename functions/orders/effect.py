"""The orders consumer's effect: take the stock and write the order, with the record;
then charge the customer in the ledger.

Inventory is keyed by ``sku`` and holds ``stock``; orders are keyed by ``order_id``. Both
writes and the idempotency record commit in one transaction: stock never goes negative
(the take is refused instead), and an order row exists exactly when its stock was taken.

With a charges queue (``CHARGES_QUEUE_URL``, the ledger's queue, set by the orders stack),
an accepted order sends one ledger transaction: ``order:{order_id}`` debits the customer's
account by the order's price in EUR. The layer sends it after the commit and again on
every duplicate delivery; the ledger absorbs the repeats by that transaction id, which is
derived from the order alone. A refused or invalid order sends nothing.
"""

from __future__ import annotations

from typing import Any

from exactly_once import Downstream, PutIfAbsent, Setup, Take, Write

from .model import Order, parse_order

SKU = "sku"
STOCK = "stock"
ORDER_ID = "order_id"
INVENTORY_TABLE_ENV = "INVENTORY_TABLE_NAME"
ORDERS_TABLE_ENV = "ORDERS_TABLE_NAME"
CHARGES_QUEUE_ENV = "CHARGES_QUEUE_URL"
CHARGE_CURRENCY = "EUR"


def charge_id(order_id: str) -> str:
    """The ledger transaction id of an order's charge: the same for every delivery."""
    return f"order:{order_id}"


def charge_of(order: Order) -> dict[str, str]:
    """The ledger transaction charging ``order`` (a debit of its price)."""
    cents = order.charge_cents
    if cents is None or order.customer_id is None:
        raise ValueError(f"order {order.order_id} has no price to charge")
    return {
        "transaction_id": charge_id(order.order_id),
        "account_id": order.customer_id,
        "amount": f"-{cents // 100}.{cents % 100:02d}",
        "currency": CHARGE_CURRENCY,
    }


class OrdersEffect:
    """Atomic mode: the stock decrement and the order row, refused when stock is short."""

    def __init__(
        self, *, inventory_table: str, orders_table: str, charges_queue_url: str | None = None
    ) -> None:
        """:param charges_queue_url: the ledger's queue; with it, every order needs a
        customer and a price, and an accepted order sends its charge there."""
        self.inventory_table = inventory_table
        self.orders_table = orders_table
        self.charges_queue_url = charges_queue_url

    @classmethod
    def from_setup(cls, setup: Setup) -> OrdersEffect:
        """Table names and the charges queue from the function's environment (set by the
        orders stack; without ``CHARGES_QUEUE_URL`` nothing is charged)."""
        return cls(
            inventory_table=setup.env(INVENTORY_TABLE_ENV),
            orders_table=setup.env(ORDERS_TABLE_ENV),
            charges_queue_url=setup.environ.get(CHARGES_QUEUE_ENV, "").strip() or None,
        )

    def parse(self, document: dict[str, Any]) -> Order:
        return parse_order(document, priced=self.charges_queue_url is not None)

    @staticmethod
    def _row(order: Order) -> dict[str, Any]:
        row: dict[str, Any] = {SKU: order.sku, "quantity": order.quantity}
        if order.customer_id is not None and order.charge_cents is not None:
            row |= {"customer_id": order.customer_id, "charge_cents": order.charge_cents}
        return row

    def downstream(self, order: Order) -> list[Downstream]:
        """The order's charge, for the ledger (sent once committed, and on duplicates)."""
        if self.charges_queue_url is None:
            return []
        if self.charges_queue_url.endswith(".fifo"):
            # A FIFO ledger: one group per customer keeps each customer's charges in order;
            # the deduplication id is the charge's own key, derived from the order alone.
            return [
                Downstream(
                    self.charges_queue_url,
                    charge_of(order),
                    group_id=order.customer_id,
                    deduplication_id=charge_id(order.order_id),
                )
            ]
        return [Downstream(self.charges_queue_url, charge_of(order))]

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
                self._row(order),
                refusal="order id already used by an earlier order",
            ),
        ]
