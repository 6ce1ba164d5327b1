"""The test session's private folder: every test cluster, temporary file and process lives in it.

``enter()`` (called by tests/conftest.py when pytest configures) points the runtime folder, the
registry, TMPDIR and the test-only settings at it, for this process and every process it starts.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import psutil

from labapp.engine import processes

# Short enough that a killed worker's task comes back within seconds; long tasks in tests
# stay under it so none runs twice. In the environment, so that clusters started in other
# processes (a kernel, `labapp up`) get them too.
TEST_SETTINGS = dict(visibility_timeout=6, longtask_max_x=5)
GIVEN = os.environ.get("LABAPP_TEST_SANDBOX")  # then it is the caller's to remove
_folder: Path | None = None


def enter() -> Path:
    """Make (once) and use the session's sandbox; return it."""
    global _folder
    if _folder is None:
        _folder = Path(GIVEN or tempfile.mkdtemp(prefix="labapp-tests-"))
        (_folder / "tmp").mkdir(parents=True, exist_ok=True)
        tempfile.tempdir = os.environ["TMPDIR"] = str(_folder / "tmp")
        os.environ["LABAPP_RUNTIME_DIR"] = str(_folder / "runtime")
        os.environ["LABAPP_REGISTRY_DIR"] = str(_folder / "registry")
        os.environ.update({f"LABAPP_{key.upper()}": str(value) for key, value in TEST_SETTINGS.items()})
    return _folder


def leftover_processes() -> list[psutil.Process]:
    """Processes started for this test session that are still alive."""
    return processes.processes_marked(enter())


def processes_of(cluster) -> list[psutil.Process]:
    """Live processes (pool children and broker included) that belong to this cluster."""
    return processes.processes_marked(cluster.dir)


def stop_leftovers(folder, grace: float = 5.0) -> list[str]:
    """Kill what still runs for folder after grace seconds (exiting now is fine); describe it."""
    try:
        processes.wait_until(lambda: not processes.processes_marked(folder), grace, interval=0.2)
        return []
    except processes.WaitTimeout:
        pass
    described = []
    for proc in processes.processes_marked(folder):
        try:
            described.append(f"pid {proc.pid} {' '.join(proc.cmdline())}")
            proc.kill()
        except psutil.Error:
            pass
    return described
