"""The turns two side-by-side test sessions take on the machine hold across processes."""

import os
import subprocess
import sys
import time

from tests.support import machine_turns, paths

HOLDER = """
import sys, time
from tests.support import machine_turns
with machine_turns.beside_others():
    print("in", flush=True)
    time.sleep(1.5)
    print("out", time.time(), flush=True)
"""


def test_alone_waits_for_a_turn_held_in_another_process(tmp_path, monkeypatch):
    monkeypatch.setenv(machine_turns.VARIABLE, str(tmp_path / "turns"))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], cwd=paths.ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "in"
        with machine_turns.alone():
            got_it = time.time()
        released = float(holder.stdout.readline().split()[1])
    finally:
        holder.wait(timeout=30)
    assert got_it >= released, "the alone turn began while another process still held its shared turn"


def test_side_by_side_runs_the_two_sessions_on_the_suites_folders():
    from tests.support import side_by_side

    targets = [target for _, session in side_by_side.SESSIONS for target in session if not target.startswith("-")]
    collected = {"notebooks", "solutions", "exercises", "tests/unit", "tests/integration", "tests/classroom"}
    assert collected <= set(targets)
    folders = {path.parent.name for path in (paths.ROOT / "tests").glob("*/test_*.py")}
    assert folders <= {
        "unit",
        "integration",
        "classroom",
        "notebooks",
        "browser",
        "support",
    }, "a new tests/ folder: add it to a session in tests/support/side_by_side.py"
