"""The reference consumer: a ledger that applies each transaction exactly once."""
