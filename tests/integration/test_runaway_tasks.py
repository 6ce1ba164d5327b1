"""A student's runaway task is contained: time limits end it, cancel terminates it, the workers go on (issue 23.7)."""

from __future__ import annotations

import textwrap
import time

import pytest

from labapp.api.client import ApiError
from labapp.engine.celery_config import CONTROL_ENV
from tests.support.lab_commands import labapp

RUNAWAY = """
    from celery import shared_task

    @shared_task
    def spin():
        while True:
            pass

    @shared_task
    def stubborn():
        # swallows the soft limit's exception: only the hard limit ends it
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass

    @shared_task
    def add(a, b):
        return a + b
"""
# limits derived from these: soft halfway (3.5 s), hard three quarters (4.75 s) from longtask_max_x to visibility
SHORT_LIMITS = dict(visibility_timeout=6, longtask_max_x=1)


def load_runaway(cluster, folder) -> None:
    path = folder / "runaway_tasks.py"
    path.write_text(textwrap.dedent(RUNAWAY))
    cluster.add_tasks(path)


def ready_result(cluster, result, timeout: float = 60.0):
    """result once it is ready (the limits end it; the timeout only bounds a broken run)."""
    deadline = time.monotonic() + timeout
    while not result.ready():
        assert time.monotonic() < deadline, f"task {result.id} not ready after {timeout} s: {result.state}"
        time.sleep(0.05)
    return result


def wait_state(result, state: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while result.state != state:
        assert time.monotonic() < deadline, f"expected {state}, found {result.state} after {timeout} s"
        time.sleep(0.05)


def assert_nothing_left_to_redeliver(cluster, timeout: float = 20.0) -> None:
    """The task's message was acked: out of kombu's unacked hash (where redelivery comes from) and the queue.

    The ack follows the stored FAILURE by a moment; a message left unacked would stay there until the
    visibility timeout, then come back to the queue and start again.
    """

    def left() -> tuple[int, int]:
        with cluster.redis.pipeline(transaction=True) as both:  # read together: never between the two
            return tuple(both.hlen("unacked").llen("celery").execute())

    deadline = time.monotonic() + timeout
    while left() != (0, 0):
        assert time.monotonic() < deadline, f"expected the task acked, found (unacked, queued) = {left()}"
        time.sleep(0.05)


def assert_workers_take_new_tasks(cluster) -> None:
    results = [cluster.celery.send_task("runaway_tasks.add", args=(i, 1)) for i in range(4)]
    assert [r.get(timeout=30) for r in results] == [1, 2, 3, 4]


def test_an_endless_loop_ends_failure_at_its_soft_time_limit_once(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, **SHORT_LIMITS).start()
    load_runaway(cluster, tmp_path)
    result = ready_result(cluster, cluster.celery.send_task("runaway_tasks.spin"))
    assert result.state == "FAILURE"
    assert type(result.result).__name__ == "SoftTimeLimit"
    assert "ran past its time limit of 3.5 s" in str(result.result)
    assert_nothing_left_to_redeliver(cluster)
    assert_workers_take_new_tasks(cluster)


def test_a_loop_that_swallows_the_soft_limit_is_killed_at_the_hard_one(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, **SHORT_LIMITS).start()
    load_runaway(cluster, tmp_path)
    result = ready_result(cluster, cluster.celery.send_task("runaway_tasks.stubborn"))
    assert result.state == "FAILURE"
    assert "hard time limit of 4.75 s" in str(result.result), result.result
    assert_nothing_left_to_redeliver(cluster)
    assert_workers_take_new_tasks(cluster)


def test_a_lesson_raises_the_limits_with_the_visibility_timeout(make_cluster):
    cluster = make_cluster(workers=0, task_soft_time_limit=100, task_time_limit=110, visibility_timeout=120)
    conf = cluster.start().celery.conf
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (100, 110)
    with pytest.raises(ValueError, match="raise visibility_timeout with it"):
        make_cluster(workers=0, task_time_limit=100)


def test_cancel_terminates_a_task_the_api_never_saw(make_cluster, tmp_path):
    cluster = make_cluster(workers=1).start()  # the default limits (25 s) leave it spinning meanwhile
    load_runaway(cluster, tmp_path)
    result = cluster.celery.send_task("runaway_tasks.spin")
    wait_state(result, "STARTED")
    outcome = cluster.cancel(result)
    assert outcome.after == "REVOKED", str(outcome)
    assert "was cancelled" in str(outcome)
    with pytest.raises(ApiError) as refused:  # the API's cooperative cancel knows only the API's tasks
        cluster.client.request("DELETE", f"/tasks/{result.id}")
    assert refused.value.status == 404 and "labapp cancel" in str(refused.value), refused.value
    assert_nothing_left_to_redeliver(cluster)
    assert_workers_take_new_tasks(cluster)
    assert "already finished (REVOKED)" in str(cluster.cancel(result.id))


def test_labapp_cancel_terminates_a_task_from_the_command_line(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, name="cancelcli").start()
    load_runaway(cluster, tmp_path)
    result = cluster.celery.send_task("runaway_tasks.spin")
    wait_state(result, "STARTED")
    done = labapp("cancel", "--name", "cancelcli", result.id)
    assert done.returncode == 0, done.stderr
    assert f"task {result.id} was cancelled" in done.stdout
    assert result.state == "REVOKED"
    assert_workers_take_new_tasks(cluster)


def test_a_class_whose_workers_refuse_revoke_says_so(make_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv(CONTROL_ENV, "inspect")  # what `labapp serve` gives its workers
    cluster = make_cluster(workers=1, **SHORT_LIMITS).start()
    load_runaway(cluster, tmp_path)
    result = cluster.celery.send_task("runaway_tasks.spin")
    wait_state(result, "STARTED")
    outcome = cluster.cancel(result)
    assert not outcome.done
    assert "refuse revoke" in str(outcome) and "time limit of 3.5 s" in str(outcome), str(outcome)
    assert ready_result(cluster, result).state == "FAILURE"  # the limit ended it
