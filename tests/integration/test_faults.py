"""Runaway student code and odd faults (issue 23, items 9 to 11): a print loop, a stopped worker, clear errors.

Each test runs real processes: the embedded broker, Celery workers, `labapp up`.
"""

from __future__ import annotations

import os
import re
import signal
import textwrap

import pytest

from labapp.engine import logfiles
from tests.support.lab_commands import labapp
from tests.support.waiting import wait_for, wait_state

PRINT_LOOP = """
    from celery import shared_task

    @shared_task
    def chatter(lines):
        for number in range(lines):
            print(f"line {number} " + "x" * 990)
        return lines
"""


def write(folder, name: str, code: str):
    """Write a student file and return its path."""
    path = folder / name
    path.write_text(textwrap.dedent(code))
    return path


# ----------------------------------------------------------------- item 9: a log's size is capped
def test_a_print_loop_cannot_grow_a_worker_log_past_its_cap(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, log_max_mb=1).start()
    cluster.add_tasks(write(tmp_path, "chatty_tasks.py", PRINT_LOOP))
    log = cluster.dir / "w1.log"
    result = cluster.celery.send_task("chatty_tasks.chatter", kwargs={"lines": 20000})  # ~20 MB of output
    largest = 0
    while not result.ready():
        largest = max(largest, log.stat().st_size)
    assert result.get(timeout=60) == 20000
    cap = 1024 * 1024
    # the worker looks at its log every 0.05 s: once it has, the log is back under its cap
    wait_for(lambda: log.stat().st_size <= cap, 10, what=lambda: f"{log} under 1 MB, found {log.stat().st_size} B")
    text = log.read_text(errors="replace")
    assert "[labapp: this log passed 1 MB;" in text
    assert "MB of earlier lines were dropped]" in text
    print(f"largest size seen while printing ~20 MB: {largest / 1024 / 1024:.1f} MB; at the end: {log.stat().st_size} B")


def test_the_next_start_keeps_only_the_tail_of_a_huge_log(tmp_path):
    log = tmp_path / "w1.log"
    log.write_bytes(b"an old line\n" * (5 * 1024 * 1024 // 12))  # 5 MB
    logfiles.open_for_new_process(log, "w1", "exited normally")
    older = tmp_path / "w1.1.log"
    assert older.stat().st_size <= logfiles.ROTATE_BYTES + 200
    assert older.read_text().startswith("[labapp: 4.0 MB of earlier lines were dropped]\nan old line\n")
    assert not log.exists() or log.stat().st_size == 0


# ------------------------------------------------- item 10: a stopped worker, and a task that ends twice
def stale_row(cluster, name: str) -> str:
    """The alive column of a worker in cluster.status()."""
    return str(next(row["alive"] for row in cluster.status() if row["component"] == name))


def test_a_stopped_worker_shows_no_heartbeat_and_its_second_end_is_recorded(make_cluster):
    cluster = make_cluster(workers=2).start()
    task_id = cluster.client.submit_longtask(2)
    worker = wait_state(cluster.client, task_id, states=("PROGRESS",))["worker"]
    name = worker.split("@")[0]
    other = "w2" if name == "w1" else "w1"
    stopped = cluster.workers[name].proc.pid
    os.killpg(stopped, signal.SIGSTOP)  # what Ctrl-Z does to a foreground worker: its pool stops too
    try:
        seen = wait_for(
            lambda: re.fullmatch(r"process exists, no heartbeat for (\d+) s", stale_row(cluster, name)),
            30,
            what=lambda: f"{name} shown without heartbeat; found {stale_row(cluster, name)!r}",
        )
        assert stale_row(cluster, other) == "True"
        assert any("kill -CONT" in note for note in cluster.status().notes)
        shown = labapp("status", "--name", cluster.name).stdout
        assert re.search(rf"{name}\s+pid {stopped}\s+process exists, no heartbeat for \d+ s", shown), shown
        # the visibility timeout hands the task to the other worker, which finishes it
        done = wait_state(cluster.client, task_id, timeout=60)
        assert done["state"] == "SUCCESS" and done["result"]["worker"].startswith(other), done
        assert "completions" not in done
    finally:
        os.killpg(stopped, signal.SIGCONT)
    # resumed, the stopped worker ends the task too: Celery keeps the first result, /status counts both ends
    again = wait_for(lambda: cluster.client.status(task_id).get("completions"), 30, what="a second completion")
    assert again == 2
    assert cluster.client.status(task_id)["result"]["worker"].startswith(other)
    wait_for(lambda: stale_row(cluster, name) == "True", 10, what=f"{name} beating again")
    print(f"no heartbeat shown after {seen.group(1)} s; completions recorded: {again}")
