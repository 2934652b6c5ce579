"""The second reference consumer: orders that take stock, each applied exactly once."""
