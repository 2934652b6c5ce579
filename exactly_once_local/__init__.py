"""The local cloud and test tooling for exactly-once consumers, installed with the ``[local]``
extra: SQS events shaped as Lambda's event source mapping delivers them
(``exactly_once_local.events``), a Lambda context whose remaining time follows an injected
clock (``exactly_once_local.lambda_context``) and a pytest plugin
(``exactly_once_local.pytest_plugin``, registered through the ``pytest11`` entry point).

Nothing here knows the ledger or this repository's stacks: it serves any consumer built on
``exactly_once``.
"""
