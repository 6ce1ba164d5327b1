"""Test and benchmark machinery, imported as ``tests.support.…`` (never shipped in the wheel)."""
