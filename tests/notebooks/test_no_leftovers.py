"""A whole pytest session on the real cluster leaves no broker, worker or API process behind,
and nothing in the temporary folder."""

import os
import subprocess
import sys

from labapp.engine import processes
from tests.support import paths

ROOT = paths.ROOT


def test_a_test_session_leaves_no_process_and_no_file(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    # the inner session makes its sandbox in this temporary folder, as it would in /tmp
    env = {k: v for k, v in os.environ.items() if k != "LABAPP_TEST_SANDBOX"}
    env["TMPDIR"] = str(temp)
    # tests that start the shared cluster, a private one, and a busy worker scaled down
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "tests/integration/test_api.py::test_workers_and_health",
            "tests/integration/test_cluster.py::test_scale_down_lets_busy_workers_finish",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "2 passed" in run.stdout
    assert processes.processes_marked(tmp_path) == []
    assert list(temp.iterdir()) == []  # the sandbox and what the workers made in it went


def test_the_notebooks_left_no_kernel_and_no_cluster(sandbox):
    """Runs after every lesson, exercise and solution (the root conftest.py orders it last)."""
    import psutil

    runtime = sandbox / "runtime"
    clusters = [
        folder for folder in [*runtime.glob("*"), *runtime.glob("*/*")] if folder.name.startswith(("lesson", "ex0"))
    ]
    left = [proc for folder in clusters for proc in processes.processes_marked(folder)]
    kernels = [child for child in psutil.Process().children(recursive=True) if "ipykernel" in " ".join(child.cmdline())]
    assert not left and not kernels, "left behind by the notebooks: " + "; ".join(
        f"{p.pid} {' '.join(p.cmdline())[:80]}" for p in left + kernels
    )
