"""The unit layer starts no process: a test that tries fails at once, naming the command."""

import subprocess

import pytest


@pytest.fixture(autouse=True)
def no_process(monkeypatch):
    """Any subprocess.Popen in a unit test is a mistake of layer: it belongs in tests/integration/."""

    def refuse(self, args, *rest, **options):
        raise AssertionError(f"a unit test started a process ({args!r}): move it to tests/integration/")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
