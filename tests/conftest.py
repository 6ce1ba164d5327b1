"""Shared fixtures: a real cluster (real broker, worker processes, HTTP) in private folders."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from labapp import procs

# Every cluster a test starts lives in this folder, never in the user's, and so do the
# temporary files of the tests and of every process they start; it goes at the end.
_GIVEN_SANDBOX = os.environ.get("LABAPP_TEST_SANDBOX")  # then it is the caller's to remove
_SANDBOX = Path(_GIVEN_SANDBOX or tempfile.mkdtemp(prefix="labapp-tests-"))
(_SANDBOX / "tmp").mkdir(parents=True, exist_ok=True)
tempfile.tempdir = os.environ["TMPDIR"] = str(_SANDBOX / "tmp")
os.environ["LABAPP_RUNTIME_DIR"] = str(_SANDBOX / "runtime")
os.environ["LABAPP_REGISTRY_DIR"] = str(_SANDBOX / "registry")

# Short enough that a killed worker's task comes back within seconds; long tasks in tests
# stay under it so none runs twice. In the environment, so that clusters started in other
# processes (a kernel, `labapp up`) get them too.
TEST_SETTINGS = dict(visibility_timeout=6, longtask_max_x=5)
os.environ.update({f"LABAPP_{key.upper()}": str(value) for key, value in TEST_SETTINGS.items()})


def leftover_processes() -> list[psutil.Process]:
    """Processes started for this test session that are still alive."""
    return procs.processes_marked(_SANDBOX)


def processes_of(cluster) -> list[psutil.Process]:
    """Live processes (pool children and broker included) that belong to this cluster."""
    return procs.processes_marked(cluster.dir)


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, what="condition"):
    """Poll until predicate() is truthy and return its value; fail the test after timeout."""
    try:
        return procs.wait_until(predicate, timeout, interval, what)
    except procs.WaitTimeout as exc:
        message = str(exc)
    pytest.fail(message)


def wait_state(client, task_id: str, states=("SUCCESS", "FAILURE", "REVOKED"), timeout: float = 30.0) -> dict:
    """Poll GET /status until the task reaches one of states; return the last answer."""
    last = [None]

    def reached():
        last[0] = client.status(task_id)
        return last[0] if last[0]["state"] in states else None

    return wait_for(reached, timeout, what=lambda: f"task {task_id} to reach {states}; last: {last[0]}")


def raw_request(base_url: str, method: str, path: str, body: bytes | None = None,
                content_type: str | None = "application/json"):
    """Send raw bytes over HTTP; return (status, parsed JSON body, headers), whatever the status."""
    request = urllib.request.Request(base_url + path, data=body, method=method,
                                     headers={"Content-Type": content_type} if content_type else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def stop_leftovers(folder, grace: float = 5.0) -> list[str]:
    """Kill what still runs for folder after grace seconds (exiting now is fine); describe it."""
    try:
        procs.wait_until(lambda: not procs.processes_marked(folder), grace, interval=0.2)
        return []
    except procs.WaitTimeout:
        pass
    described = []
    for proc in procs.processes_marked(folder):
        try:
            described.append(f"pid {proc.pid} {' '.join(proc.cmdline())}")
            proc.kill()
        except psutil.Error:
            pass
    return described


@pytest.fixture(scope="session")
def sandbox() -> Path:
    """The private folder holding this session's runtime dirs and registry."""
    return _SANDBOX


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
    left = stop_leftovers(_SANDBOX)
    for line in left:
        print(f"\nERROR: process left behind by the tests (killed now): {line}")
    if left:
        session.exitstatus = 1
    if _GIVEN_SANDBOX:
        return
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        shutil.rmtree(_SANDBOX, ignore_errors=True)
    else:
        print(f"\nthe test clusters' folders and logs are kept in {_SANDBOX}")
