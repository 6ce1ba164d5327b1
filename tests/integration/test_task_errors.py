"""Errors reach the user: a task's own bounds, an unknown task, a refused serializer, each read from /status."""

from __future__ import annotations

import uuid

from labapp.engine import task_records
from tests.support.waiting import wait_state


def _published(cluster, short_name: str, task_name: str, **options) -> str:
    """Publish straight to the queue, past the API's checks, as another client could; recorded so /status answers."""
    task_id = str(uuid.uuid4())
    task_records.save_submission(cluster.redis, task_id, short_name, options.get("kwargs", {}), 60)
    cluster.celery.send_task(task_name, task_id=task_id, **options)
    return task_id


def test_the_factorial_task_refuses_what_the_api_refuses(cluster, client):
    limit = cluster.settings.factorial_max_n
    task_id = _published(cluster, "factorial", "labapp.tasks.factorial", kwargs={"n": limit + 10000})
    answer = wait_state(client, task_id)
    assert answer["state"] == "FAILURE", answer
    assert answer["error"] == (
        f"ValueError: labapp.tasks.factorial: expected n to be an integer from 0 to {limit}, found {limit + 10000}"
    )


def test_a_task_no_worker_knows_fails_naming_the_worker(cluster, client):
    task_id = _published(cluster, "nope", "nope.task")
    answer = wait_state(client, task_id)
    assert answer["state"] == "FAILURE", answer
    assert answer["error"].startswith("NotRegistered: unregistered task 'nope.task' on worker w"), answer
    assert cluster.celery.AsyncResult(task_id).state == "FAILURE"


def test_a_pickle_message_fails_saying_the_lab_takes_json_only(cluster, client):
    task_id = _published(cluster, "factorial", "labapp.tasks.factorial", kwargs={"n": 5}, serializer="pickle")
    answer = wait_state(client, task_id)
    assert answer["state"] == "FAILURE", answer
    assert answer["error"].startswith("RefusedMessage: refused task 'labapp.tasks.factorial' on worker w"), answer
    assert "expected a message in JSON, found application/x-python-serialize" in answer["error"]


def test_a_client_already_waiting_reads_the_explained_failure_of_an_unknown_task(cluster):
    # .get() returns on the first FAILURE it hears: Celery's plain one would win a race with a second write.
    # A client without labapp.tasks imported gets a NotRegistered class of Celery's making: judged by name
    for _ in range(3):
        waiting = cluster.celery.send_task("nope.waited")
        try:
            waiting.get(timeout=30)
        except Exception as exc:
            assert type(exc).__name__ == "NotRegistered", repr(exc)
            assert str(exc).startswith("unregistered task 'nope.waited' on worker w"), str(exc)  # plain, unquoted
        else:
            raise AssertionError("expected NotRegistered from a task no worker knows")
