"""Shared fixtures: a real cluster (real broker, worker processes, HTTP) in private folders."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import psutil
import pytest

# Every cluster a test starts lives in these folders, never in the user's.
_SANDBOX = Path(os.environ.get("LABAPP_TEST_SANDBOX") or tempfile.mkdtemp(prefix="labapp-tests-"))
os.environ["LABAPP_RUNTIME_DIR"] = str(_SANDBOX / "runtime")
os.environ["LABAPP_REGISTRY_DIR"] = str(_SANDBOX / "registry")

# Short enough that a killed worker's task comes back within seconds;
# long tasks in tests stay under it so none runs twice.
TEST_SETTINGS = dict(visibility_timeout=6, longtask_max_x=5)


def leftover_processes() -> list[psutil.Process]:
    """Processes started for this test session that are still alive."""
    marker = str(_SANDBOX)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                continue
            cmdline = " ".join(proc.info["cmdline"] or [])
            # valkey-server rewrites its argv and environ, but runs in its data dir
            if (marker in cmdline or marker in _cwd(proc)
                    or proc.environ().get("LABAPP_RUNTIME_DIR", "").startswith(marker)):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _cwd(proc: psutil.Process) -> str:
    try:
        return proc.cwd()
    except psutil.Error:
        return ""


def processes_of(cluster) -> list[psutil.Process]:
    """Live processes (pool children and broker included) that belong to this cluster."""
    mine = []
    for proc in leftover_processes():
        try:
            if (proc.environ().get("LABAPP_CLUSTER_DIR") == str(cluster.dir)
                    or _cwd(proc).startswith(str(cluster.dir) + "/")):
                mine.append(proc)
        except psutil.Error:
            continue
    return mine


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy and return its value; fail the test after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def wait_state(client, task_id: str, states=("SUCCESS", "FAILURE", "REVOKED"), timeout: float = 30.0) -> dict:
    """Poll GET /status until the task reaches one of states; return the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        last = client.status(task_id)
        if last["state"] in states:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for task {task_id} to reach {states}; last: {last}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def sandbox() -> Path:
    """The private folder holding this session's runtime dirs and registry."""
    return _SANDBOX


@pytest.fixture(scope="session")
def cluster():
    """One cluster with two workers, shared by the tests that do not change its shape."""
    from labapp import Cluster

    with Cluster(workers=2, name="shared", **TEST_SETTINGS) as running:
        yield running


@pytest.fixture
def client(cluster):
    """HTTP client of the shared cluster's API."""
    return cluster.client


@pytest.fixture
def make_cluster():
    """Factory for a private cluster that a test may scale, kill or break; always stopped after."""
    from labapp import Cluster

    made = []

    def make(workers: int = 1, **kwargs):
        name = kwargs.pop("name", f"private{len(made)}-{os.getpid()}")
        options = {**TEST_SETTINGS, **kwargs}
        cluster = Cluster(workers=workers, name=name, **options)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if any process started by the tests outlived them."""
    left = leftover_processes()
    if left:
        deadline = time.monotonic() + 5  # children that are exiting right now
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = leftover_processes()
    if left:
        for proc in left:
            try:
                print(f"\nERROR: process left behind by the tests (killed now): "
                      f"pid {proc.pid} {' '.join(proc.cmdline())}")
                proc.kill()
            except psutil.Error:
                pass
        session.exitstatus = 1
