"""Fixtures shared by every layer: the session's sandbox, a shared cluster, private clusters.

Helpers are not here: tests import them from ``tests.support``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import sandbox as session_sandbox
from tests.support.sandbox import stop_leftovers


def pytest_configure(config):
    """Every cluster a test starts lives in the session's sandbox, never in the user's folders."""
    session_sandbox.enter()


@pytest.fixture(scope="session")
def sandbox() -> Path:
    """The private folder holding this session's runtime dirs and registry."""
    return session_sandbox.enter()


def _running(name: str, workers: int):
    from labapp import Cluster

    with Cluster(workers=workers, name=name) as running:
        yield running


@pytest.fixture(scope="session")
def cluster():
    """One cluster with two workers, shared by the tests that do not change its shape."""
    yield from _running("shared", workers=2)


@pytest.fixture
def client(cluster):
    """HTTP client of the shared cluster's API."""
    return cluster.client


@pytest.fixture(scope="session")
def idle_cluster():
    """A cluster with no workers: what the API accepts stays in the queue, where a test can count it."""
    yield from _running("idle", workers=0)


@pytest.fixture
def make_cluster(tmp_path):
    """Factory for private clusters that a test may scale, kill or break, in a folder of the
    test's own; all are stopped after it, and a process they leave fails this test."""
    from labapp import Cluster

    folder = tmp_path / "clusters"
    made = []

    def make(workers: int = 1, **kwargs):
        kwargs.setdefault("name", f"private{len(made)}")
        kwargs.setdefault("runtime_dir", str(folder))  # a test may take over another process's folder
        cluster = Cluster(workers=workers, **kwargs)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()
    left = stop_leftovers(folder)
    if left:
        pytest.fail("processes left behind by this test's clusters (killed now):\n" + "\n".join(left))


@pytest.hookimpl(trylast=True)  # after pytest's own tmp_path clean-up, which is inside the sandbox
def pytest_sessionfinish(session, exitstatus):
    """Fail the run if a process started by the tests outlived them; then remove the sandbox
    (kept, with the clusters' logs, when a test failed)."""
    left = stop_leftovers(session_sandbox.enter())
    for line in left:
        print(f"\nERROR: process left behind by the tests (killed now): {line}")
    if left:
        session.exitstatus = 1
    if session_sandbox.GIVEN:
        return
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        shutil.rmtree(session_sandbox.enter(), ignore_errors=True)
    else:
        print(f"\nthe test clusters' folders and logs are kept in {session_sandbox.enter()}")
