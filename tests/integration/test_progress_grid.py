"""Issue 21: the instructor's ProgressGrid in a real Jupyter kernel updates by itself when a student's check reports."""

import json
import queue
import time

from labapp import progress
from tests.support.kernel_cells import WIDGET_VIEW, run_cell


def printed(messages: list[dict]) -> str:
    errors = ["\n".join(m["content"]["traceback"]) for m in messages if m["msg_type"] == "error"]
    assert not errors, errors
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")


def state_updates_until(client, wanted, timeout: float) -> list[dict]:
    """The widget state updates the kernel sends with no cell running, until one satisfies wanted (or timeout)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = client.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if msg["msg_type"] == "comm_msg":
            state = msg["content"]["data"].get("state", {})
            seen.append(state)
            if wanted(state):
                return seen
    return seen


def test_the_grid_shows_a_students_check_within_seconds_without_running_a_cell(kernel):
    manager, client = kernel
    shown = run_cell(
        client,
        """
        from labapp import Cluster
        from labapp.progress.grid import ProgressGrid
        cluster = Cluster(workers=0, name="kernel-grid", classroom=True).start()
        grid = ProgressGrid(cluster, exercises=["ex01", "ex02"])
        display(grid)
        print(cluster.join_file.read_text().splitlines()[0])
        """,
    )
    join_url = printed(shown).strip().splitlines()[-1]
    assert any(m["msg_type"] == "display_data" and WIDGET_VIEW in m["content"]["data"] for m in shown)
    try:
        # a student's check, as it reaches the class: the join file's worker user appends one record
        progress.send(join_url, progress.progress_record("zoe", "ex02", False, "expected 202, found 500"))

        def zoe_failed_ex02(state: dict) -> bool:
            return "zoe" in str(state.get("value", "")) and "\u2717" in str(state.get("value", ""))

        updates = state_updates_until(client, zoe_failed_ex02, timeout=30)
        assert updates and zoe_failed_ex02(updates[-1]), updates[-5:]
        counts = [s["value"] for s in state_updates_until(client, lambda s: "ex02: 0" in str(s.get("value")), 30)]
        assert any(
            "ex02: 0 \u2713, 1 \u2717, 0 not tried; most common failure: 'expected 202, found 500'" in c for c in counts
        )

        said = printed(run_cell(client, "print(grid.reveal('ex01')); print(grid.updates > 1)"))
        assert "revealed ex01 to the class" in said and said.strip().endswith("True"), said
        record = json.loads(printed(run_cell(client, "print(cluster.redis.get('labapp:revealed:ex01'))")).strip())
        assert record["exercise"] == "ex01" and "def factorial" in record["parts"][0]
    finally:
        printed(run_cell(client, "grid.stop(); cluster.stop()"))
