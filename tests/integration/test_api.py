"""The HTTP API over real HTTP, on a real cluster (broker server, worker processes)."""

import json

import pytest

from labapp.api.client import ApiError
from labapp.engine import task_records
from tests.support.raw_http import raw_request
from tests.support.waiting import wait_for, wait_state


def test_longtask_runs_with_progress_to_success(cluster, client):
    status, body, headers = raw_request(cluster.api_url, "POST", "/longtask", b'{"x": 1.5}')
    assert status == 202
    assert set(body) == {"task_id", "status_url"}
    assert headers["Location"] == body["status_url"]
    assert body["status_url"].endswith(f"/status/{body['task_id']}")

    seen = set()

    def done():
        answer = client.status(body["task_id"])
        seen.add(answer["state"])
        if answer["state"] == "PROGRESS":
            assert 0 <= answer["progress"]["current"] < answer["progress"]["total"]
            assert answer["worker"].startswith("w")
        return answer if answer["state"] == "SUCCESS" else None

    final = wait_for(done, 30, what="long_task to succeed")
    assert "PROGRESS" in seen
    assert final["name"] == "long_task"
    assert final["result"]["x"] == 1.5
    assert final["worker"] == final["result"]["worker"]


def test_factorial_small_and_big(client):
    small = wait_state(client, client.submit_factorial(20))
    assert small["state"] == "SUCCESS"
    assert small["result"] == {"n": 20, "digits": 19, "value": "2432902008176640000"}

    big = wait_state(client, client.submit_factorial(20000), timeout=60)
    assert big["state"] == "SUCCESS"
    assert big["result"]["digits"] == 77338 == len(big["result"]["value"])
    assert big["result"]["value"].startswith("18192063202303451348")


def test_factorial_past_python_digit_cap(client):
    answer = wait_state(client, client.submit_factorial(1600))
    assert answer["result"]["digits"] == 4434  # over Python's 4300-digit int->str guard


def test_unknown_task_id_is_404_not_pending(client):
    for task_id in ("6d7b7e5e-0000-4000-8000-000000000000", "not-a-task", "x" * 100):
        with pytest.raises(ApiError) as err:
            client.status(task_id)
        assert err.value.status == 404
        assert "no task with id" in str(err.value)


@pytest.mark.parametrize(
    "path, body, fragment",
    [
        ("/longtask", b"this is not json", "not valid JSON"),
        ("/longtask", b"", "body is empty"),
        ("/longtask", b"[10]", "must be a JSON object"),
        ("/longtask", b"{}", "missing field 'x'"),
        ("/longtask", b'{"x": 1, "y": 2}', "unexpected field 'y'"),
        ("/longtask", b'{"x": "10"}', "field 'x' must be a number"),
        ("/longtask", b'{"x": true}', "got boolean true"),
        ("/longtask", b'{"x": -1}', "field 'x' must be >= 0"),
        ("/longtask", b'{"x": 1e9}', "field 'x' must be <= 5"),
        ("/longtask", b'{"x": NaN}', "NaN is not allowed"),
        ("/factorial", b'{"n": 10.5}', "field 'n' must be an integer"),
        ("/factorial", b'{"n": "10"}', "field 'n' must be an integer"),
        ("/factorial", b'{"n": true}', "got boolean true"),
        ("/factorial", b'{"n": -5}', "field 'n' must be >= 0"),
        ("/factorial", b'{"n": 20001}', "field 'n' must be <= 20000"),
        ("/factorial", b'{"x": 3}', "unexpected field 'x'"),
        ("/factorial", b"\xff\xfe", "not valid JSON"),
        ("/factorial", b"[" * 8000 + b"]" * 8000, "nested too deeply"),
        ("/longtask", b'{"x": 1e400}', "must be a finite number"),
        # integers too big for a float (but short enough for JSON): compared exactly, never an overflow
        ("/factorial", b'{"n": 1' + b"0" * 400 + b"}", "must be <= 20000, got an integer of 401 digits"),
        ("/longtask", b'{"x": -1' + b"0" * 400 + b"}", "must be >= 0, got a negative integer of 401 digits"),
        ("/factorial", b'{"n": 1' + b"0" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_bad_input_is_400_with_a_clear_message(cluster, path, body, fragment):
    status, answer, _ = raw_request(cluster.api_url, "POST", path, body)
    assert status == 400, answer
    assert fragment in answer["error"]


def submitted(cluster) -> int:
    """How many submit records the cluster's API has written."""
    return len(list(cluster.redis.scan_iter(match=task_records.SUBMIT_PREFIX + "*")))


def test_bad_input_queues_nothing(idle_cluster):
    # no worker takes anything from this queue: a task published by mistake stays in it
    queued, recorded = idle_cluster.queue_length(), submitted(idle_cluster)
    for path, body in (("/longtask", b'{"x": -1}'), ("/factorial", b'{"n": true}')):
        status, answer, _ = raw_request(idle_cluster.api_url, "POST", path, body)
        assert status == 400, answer
    assert (idle_cluster.queue_length(), submitted(idle_cluster)) == (queued, recorded)
    status, _, _ = raw_request(idle_cluster.api_url, "POST", "/longtask", b'{"x": 1}')
    assert status == 202  # and the counts do see an accepted task:
    assert (idle_cluster.queue_length(), submitted(idle_cluster)) == (queued + 1, recorded + 1)


def test_body_without_json_content_type_is_refused(cluster):
    # an HTML form on any web site could post this (CSRF): JSON bodies only, issue 9
    status, answer, _ = raw_request(
        cluster.api_url, "POST", "/factorial", b'{"n": 5}', content_type="application/x-www-form-urlencoded"
    )
    assert status == 415 and "Content-Type: application/json" in answer["error"]


def test_body_over_16_kib_is_413(cluster):
    body = json.dumps({"x": 1, "pad": "a" * 17000}).encode()
    status, answer, _ = raw_request(cluster.api_url, "POST", "/longtask", body)
    assert status == 413
    assert "too large" in answer["error"]


def test_unknown_route_and_method_are_json(cluster):
    status, answer, _ = raw_request(cluster.api_url, "GET", "/nope")
    assert status == 404 and "no such endpoint" in answer["error"]
    status, answer, _ = raw_request(cluster.api_url, "GET", "/longtask")
    assert status == 405 and "not allowed" in answer["error"]


def test_a_task_that_raises_reads_as_failure_not_500(cluster, client):
    # The API validates input, so publish a broken call directly, as a buggy client could.
    task_id = "failing-task-1"
    task_records.save_submission(cluster.redis, task_id, "long_task", {"x": "oops"}, 60)
    cluster.celery.send_task("labapp.tasks.long_task", kwargs={"x": "oops"}, task_id=task_id)
    answer = wait_state(client, task_id)
    assert answer["state"] == "FAILURE"
    assert answer["error"].startswith("TypeError")


def test_cancel_a_running_task(client):
    task_id = client.submit_longtask(5)
    wait_state(client, task_id, states=("PROGRESS",))
    answer = client.cancel(task_id)
    assert answer["cancel_requested"] is True
    final = wait_state(client, task_id)
    assert final["state"] == "REVOKED"
    assert "cancelled" in final["error"]


def test_cancel_a_queued_task_before_any_worker_takes_it(make_cluster):
    cluster = make_cluster(workers=0).start()
    queued = [cluster.client.submit_factorial(10), cluster.client.submit_longtask(1)]
    for task_id in queued:
        answer = cluster.client.cancel(task_id)
        assert answer["state"] == "PENDING" and answer["cancel_requested"] is True
    kept = cluster.client.submit_factorial(5)
    cluster.scale(1)
    for task_id in queued:
        final = wait_state(cluster.client, task_id)
        assert final["state"] == "REVOKED" and "cancelled" in final["error"]
    assert wait_state(cluster.client, kept)["result"]["value"] == "120"  # others still run


def test_cancel_a_finished_or_unknown_task(client):
    task_id = client.submit_factorial(3)
    wait_state(client, task_id)
    with pytest.raises(ApiError) as err:
        client.cancel(task_id)
    assert err.value.status == 409 and "already finished" in str(err.value)
    with pytest.raises(ApiError) as err:
        client.cancel("never-issued")
    assert err.value.status == 404


def test_workers_and_health(cluster, client):
    workers = wait_for(lambda: len(client.workers()) == 2 and client.workers(), what="2 workers")
    assert [w["name"].split("@")[0] for w in workers] == ["w1", "w2"]
    assert all(w["pid"] > 0 for w in workers)
    health = client.health()
    assert health["status"] == "ok" and health["broker"] == "ok" and health["workers"] == 2
