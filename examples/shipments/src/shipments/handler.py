"""Lambda entry point: ``shipments.handler.lambda_handler``."""

from exactly_once import make_handler

from .effect import ShipmentsEffect

lambda_handler = make_handler(ShipmentsEffect)
