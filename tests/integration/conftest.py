"""Fixtures of the integration tests beyond the suite's own (tests/conftest.py)."""

from tests.support.kernel_cells import kernel  # noqa: F401  (a fixture: a real IPython kernel)
