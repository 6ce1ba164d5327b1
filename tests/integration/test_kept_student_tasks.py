"""Kept student tasks are never discarded: a restarted cluster reloads its modules, and a worker without a
task passes it on to one that has it (issue 23.8); another app's task still ends FAILURE at once (issue 17)."""

from __future__ import annotations

import textwrap
import time

import pytest

from labapp.engine import processes, student_code
from labapp.engine.celery_config import make_celery, worker_command

TASKS = """
    from celery import shared_task

    @shared_task
    def add(a, b):
        return a + b
"""


def write_tasks(folder):
    path = folder / "kept_tasks.py"
    path.write_text(textwrap.dedent(TASKS))
    return path


def ready(result, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not result.ready():
        assert time.monotonic() < deadline, f"task {result.id} not ready after {timeout} s: {result.state}"
        time.sleep(0.05)
    return result


def test_a_restarted_cluster_runs_the_student_tasks_its_broker_kept(make_cluster, tmp_path):
    first = make_cluster(workers=1, name="keeper").start()
    first.add_tasks(write_tasks(tmp_path))
    first.scale(0)
    publisher = make_celery(first.settings, first.broker_url, polling=True)  # never subscribes to results
    ids = [publisher.send_task("kept_tasks.add", args=(i, 10)).id for i in range(5)]
    publisher.close()
    assert first.queue_length() == 5
    first.stop()
    with pytest.warns(UserWarning, match="kept 5 unfinished task"):
        again = make_cluster(workers=2, name="keeper").start()  # a new object, as a re-run start cell makes
    results = [ready(again.celery.AsyncResult(task_id)) for task_id in ids]
    assert [(r.state, r.result) for r in results] == [("SUCCESS", i + 10) for i in range(5)]
    assert "kept_tasks" in again.student_tasks


def test_a_new_session_with_nothing_kept_starts_without_an_earlier_sessions_module(make_cluster, tmp_path):
    """A check must see what this session loaded: an earlier session's module comes back only for kept tasks."""
    first = make_cluster(workers=1, name="fresh").start()
    first.add_tasks(write_tasks(tmp_path))
    first.stop()  # nothing queued
    again = make_cluster(workers=1, name="fresh").start()
    assert again.student_tasks == {}, f"expected no module loaded, found {sorted(again.student_tasks)}"
    foreign = ready(again.celery.send_task("kept_tasks.add", args=(2, 3)))
    assert foreign.state == "FAILURE" and type(foreign.result).__name__ == "NotRegistered"


def _worker_without_student_tasks(cluster, name: str):
    """A worker of this cluster that never loaded the student's module (like a machine that joined the class)."""
    env = {**cluster._child_env(), student_code.TASKS_ENV: ""}
    proc = processes.spawn(
        worker_command(cluster.WORKER_APP, cluster.node_name(name)), cluster.dir / f"{name}.log", env
    )
    child = processes.Child(name, proc, cluster.dir / f"{name}.log")
    cluster._wait_workers_ready([child], 60)
    return child


def test_a_worker_without_the_task_requeues_it_for_one_that_has_it(make_cluster, tmp_path):
    cluster = make_cluster(workers=1).start()
    cluster.add_tasks(write_tasks(tmp_path))
    stranger = _worker_without_student_tasks(cluster, "w9")
    try:
        busy = cluster.celery.send_task("labapp.tasks.long_task", kwargs={"x": 2})
        while busy.state == "PENDING":  # w1 runs it: only the stranger is free for the next task
            time.sleep(0.05)
        result = ready(cluster.celery.send_task("kept_tasks.add", args=(2, 3)))
        assert (result.state, result.result) == ("SUCCESS", 5)
        assert "requeued for it" in (cluster.dir / "w9.log").read_text()
        # a name no worker of the lab knows (another app's task on the lab's queue) still fails at once
        foreign = ready(cluster.celery.send_task("tasks.long_task", kwargs={"x": 1}))
        assert foreign.state == "FAILURE" and type(foreign.result).__name__ == "NotRegistered"
    finally:
        processes.stop_children([stranger.proc], timeout=10)


def test_a_task_whose_module_the_cluster_is_loading_waits_for_a_worker_that_has_it(make_cluster, tmp_path):
    cluster = make_cluster(workers=0).start()
    cluster.add_tasks(write_tasks(tmp_path))  # recorded; no worker of its own has it yet
    stranger = _worker_without_student_tasks(cluster, "w9")  # started before the module reached it
    try:
        result = cluster.celery.send_task("kept_tasks.add", args=(4, 5))
        log = cluster.dir / "w9.log"
        deadline = time.monotonic() + 60
        while "requeued for it" not in log.read_text():
            assert result.state == "PENDING", f"expected the task requeued, found {result.state}: {result.result}"
            assert time.monotonic() < deadline, "the worker without the module never met the task"
            time.sleep(0.05)
        cluster.scale(1)  # a worker of the cluster, started with the module
        assert (ready(result).state, result.result) == ("SUCCESS", 9)
    finally:
        processes.stop_children([stranger.proc], timeout=10)
