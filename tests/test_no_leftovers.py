"""A whole pytest session on the real cluster leaves no broker, worker or API process behind."""

import os
import subprocess
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def processes_marked(marker: str) -> list[str]:
    """Command lines of live processes whose command line, folder or environment names marker."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            where = " ".join(proc.info["cmdline"] or []) + " " + proc.cwd()
            if marker in where or marker in proc.environ().get("LABAPP_RUNTIME_DIR", ""):
                found.append(" ".join(proc.info["cmdline"] or []))
        except psutil.Error:
            continue
    return found


def test_a_test_session_leaves_no_process(tmp_path):
    sandbox = tmp_path / "sandbox"
    env = dict(os.environ, LABAPP_TEST_SANDBOX=str(sandbox))
    # tests that start the shared cluster, a private one, and a killed worker
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_api.py::test_workers_and_health",
         "tests/test_cluster.py::test_scale_down_lets_busy_workers_finish"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "2 passed" in run.stdout
    assert (sandbox / "runtime" / "shared" / "broker.log").exists()  # the cluster really ran
    assert processes_marked(str(sandbox)) == []
