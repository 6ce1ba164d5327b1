"""What the lessons rely on: the blocking anti-pattern endpoint, the delivery option, Flower, the helpers."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest


def test_the_blocking_endpoint_computes_inside_the_request(client):
    answer = client.request("POST", "/blocking/factorial", {"n": 25})
    assert answer["value"] == "15511210043330985984000000" and answer["digits"] == 26
    with pytest.raises(Exception) as refused:
        client.request("POST", "/blocking/factorial", {"n": -1})
    assert getattr(refused.value, "status", None) == 400


def test_long_task_results_count_their_runs(client):
    from tests.support.waiting import wait_state

    task_id = client.submit_longtask(0)
    assert wait_state(client, task_id)["result"]["run"] == 1


def test_early_ack_is_celerys_default_delivery(make_cluster):
    cluster = make_cluster(workers=0, delivery="early_ack").start()
    conf = cluster.celery.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.worker_prefetch_multiplier) == (False, False, 4)
    with pytest.raises(ValueError, match="LABAPP_DELIVERY must be one of"):
        make_cluster(workers=0, delivery="exactly_once")


def test_flower_runs_on_loopback_without_the_password_on_its_command_line(make_cluster):
    import psutil

    cluster = make_cluster(workers=1).start()
    url = cluster.flower()
    assert url.startswith("http://127.0.0.1:") and cluster.flower() == url  # a second call reuses it
    with urllib.request.urlopen(f"{url}/api/workers?refresh=1", timeout=10) as answer:
        assert cluster.node_name("w1") in json.loads(answer.read())  # its API answers, no 401
    process = psutil.Process(cluster.extras["flower"].proc.pid)
    password = urllib.parse.urlsplit(cluster.broker_url).password
    assert password and password not in " ".join(process.cmdline())
    assert any(row["component"] == "flower" for row in cluster.status())
    cluster.stop()
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


def test_taken_at_reads_when_a_worker_took_the_task(make_cluster):
    import time

    from labapp.lesson import taken_at
    from tests.support.waiting import wait_for, wait_state

    cluster = make_cluster(workers=1).start()
    before = time.time()
    task_id = cluster.client.submit_longtask(1)
    assert wait_for(lambda: taken_at(cluster, task_id) is not None, 10, what="the worker to take the task")
    assert before <= taken_at(cluster, task_id) <= time.time()
    assert taken_at(cluster, "no-such-task") is None
    wait_state(cluster.client, task_id)
    assert taken_at(cluster, task_id) is None  # acked: its copy is gone


def test_waiting_for_tasks_says_how_long_it_may_wait(cluster, idle_cluster, capsys):
    from labapp.lesson import wait_for_tasks

    done = [cluster.client.submit_longtask(0) for _ in range(2)]
    assert wait_for_tasks(cluster.client, done, timeout=30, interval=0.05) == ["SUCCESS", "SUCCESS"]
    queued = idle_cluster.client.submit_longtask(0)  # no worker: it never ends
    assert wait_for_tasks(idle_cluster.client, [queued], timeout=0.5, interval=0.05) == ["PENDING"]
    assert capsys.readouterr().out.splitlines() == [
        "waiting up to 30 s for 2 tasks to end...",
        "waiting up to 0.5 s for 1 task to end...",
    ]
