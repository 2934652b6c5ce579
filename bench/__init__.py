"""Benchmarks: this project's ledger consumer against the Powertools recipe, in one run.

Run with ``python -m bench`` (``--quick`` for the seconds-long version CI runs). Nothing
here imports at package import time: ``bench.baseline_handler`` is timed as a cold start.
"""
