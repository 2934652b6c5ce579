"""The local cloud and test tooling for exactly-once consumers, installed with the ``[local]``
extra.

- The local cloud: ``python -m exactly_once_local up`` (``cli``) runs any CDK app's SQS
  consumers on a moto server in this process: the app synthesized as ``cdk synth`` does
  (``assembly``), its stacks created in moto (``moto_deploy``, ``moto_server``,
  ``moto_patches``), Lambda's event source mappings played (``poller``) with each
  function's handler, environment and timeout (``runtime``, ``function_environ``);
  ``local_cloud`` puts them together.
- Test tooling: SQS events shaped as Lambda's event source mapping delivers them
  (``events``), a Lambda context whose remaining time follows an injected clock
  (``lambda_context``) and a pytest plugin (``pytest_plugin``, registered through the
  ``pytest11`` entry point).

Nothing here knows the ledger or this repository's stacks: it serves any consumer built on
``exactly_once``.
"""
