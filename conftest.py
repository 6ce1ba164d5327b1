"""Hooks for the notebooks (lessons, exercises, solutions), which tests/conftest.py cannot reach:
a conftest's per-test hooks apply only to tests in its own folder."""

import os

import pytest

# the settings tests/conftest.py gives every test cluster through the environment
TEST_ONLY_SETTINGS = ("LABAPP_VISIBILITY_TIMEOUT", "LABAPP_LONGTASK_MAX_X")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """A notebook's kernel (started in its first cell's setup) gets the student's defaults."""
    if type(item).__name__ != "IPyNbCell":
        yield
        return
    saved = {name: os.environ.pop(name, None) for name in TEST_ONLY_SETTINGS + ("LABAPP_RUNTIME_DIR",)}
    if saved["LABAPP_RUNTIME_DIR"]:
        # lessons, exercises and solutions in folders of their own: ex03 and its solution share a
        # cluster name, and the tasks one leaves unfinished would run in the other's cluster
        os.environ["LABAPP_RUNTIME_DIR"] = os.path.join(saved["LABAPP_RUNTIME_DIR"], item.path.parent.name)
    try:
        yield
    finally:
        os.environ.pop("LABAPP_RUNTIME_DIR", None)
        os.environ.update({name: value for name, value in saved.items() if value is not None})
