"""Lambda entry point of the orders consumer (``orders.handler.lambda_handler``)."""

from __future__ import annotations

from exactly_once import make_handler

from .effect import OrdersEffect

lambda_handler = make_handler(OrdersEffect.from_setup)
