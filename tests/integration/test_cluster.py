"""The Cluster supervisor: idempotent start, scaling, faults, broker restarts, broken starts."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labapp import Cluster, ClusterError
from labapp.api.client import ApiError
from labapp.engine import broker
from tests.support.sandbox import leftover_processes, processes_of
from tests.support.waiting import wait_for, wait_state


def worker_names(cluster):
    return sorted(w["name"].split("@")[0] for w in cluster.client.workers())


def pids_of(cluster):
    return {row["component"]: row["pid"] for row in cluster.status()}


def test_start_twice_is_one_cluster(make_cluster):
    first = make_cluster(workers=1).start()
    pids = pids_of(first)
    again = first.start()
    fresh_object = Cluster(workers=1, name=first.name, settings=first.settings).start()
    assert again is first and fresh_object is first
    assert pids_of(first) == pids
    assert len([p for p in processes_of(first) if "valkey" in p.name()]) == 1


def test_start_twice_with_other_settings_warns_and_reuses(make_cluster):
    first = make_cluster(workers=1).start()
    with pytest.warns(UserWarning, match="other settings"):
        again = Cluster(workers=2, name=first.name, settings=first.settings.with_(factorial_max_n=5)).start()
    assert again is first and len(first.workers) == 2


def test_scale_up_and_down_really_adds_and_removes_processes(make_cluster):
    cluster = make_cluster(workers=1).start()
    assert worker_names(cluster) == ["w1"]
    first_pid = pids_of(cluster)["w1"]

    cluster.scale(4)
    assert wait_for(lambda: worker_names(cluster) == ["w1", "w2", "w3", "w4"], what="4 workers")
    new_pids = [pids_of(cluster)[f"w{i}"] for i in (2, 3, 4)]
    assert len(set(new_pids)) == 3 and first_pid not in new_pids

    cluster.scale(1)
    assert {name: pid for name, pid in pids_of(cluster).items() if name.startswith("w")} == {"w1": first_pid}
    assert wait_for(lambda: worker_names(cluster) == ["w1"], what="1 worker")
    assert not [p for p in leftover_processes() if p.pid in new_pids]  # all three processes went

    # the one left still works
    assert wait_state(cluster.client, cluster.client.submit_factorial(10))["state"] == "SUCCESS"


def started_on(cluster, task_id: str) -> str:
    """The worker (w1, w2, ...) that took task_id, once it runs; a poll that misses PROGRESS
    because the task already ended finds it in the result."""
    answer = wait_state(cluster.client, task_id, states=("PROGRESS", "SUCCESS"))
    return answer["worker"].split("@")[0]


def test_scale_down_lets_busy_workers_finish(make_cluster):
    cluster = make_cluster(workers=2).start()
    task_id = cluster.client.submit_longtask(2)
    busy = started_on(cluster, task_id)
    cluster.scale(1)
    assert list(cluster.workers) == [busy]  # the idle worker went
    final = wait_state(cluster.client, task_id)
    assert final["state"] == "SUCCESS" and final["result"]["worker"].startswith(busy + "@")


def test_scale_down_of_a_busy_worker_waits_for_its_task(make_cluster):
    cluster = make_cluster(workers=2).start()
    tasks = [cluster.client.submit_longtask(2), cluster.client.submit_longtask(2)]
    ran_on = {started_on(cluster, task_id): task_id for task_id in tasks}
    assert set(ran_on) == {"w1", "w2"}
    cluster.scale(1)  # both busy: w2 goes, but only after its task is done
    assert list(cluster.workers) == ["w1"]
    # scale() returned once w2's process ended: its task is done, and done by w2 (not killed
    # mid-task to be run again on w1)
    on_w2 = cluster.client.status(ran_on["w2"])
    assert on_w2["state"] == "SUCCESS" and on_w2["result"]["worker"].startswith("w2@"), on_w2
    on_w1 = wait_state(cluster.client, ran_on["w1"])
    assert on_w1["state"] == "SUCCESS" and on_w1["result"]["worker"].startswith("w1@"), on_w1


def test_a_scale_down_that_does_not_wait_lets_the_task_finish_and_a_scale_up_meanwhile_take_a_new_name(
    make_cluster,
):
    """The autoscaler's scale-down: it returns while the worker finishes its task, and the burst after it
    is met at once by a worker of another name (a namesake would share the leaving one's heartbeat)."""
    cluster = make_cluster(workers=2).start()
    tasks = [cluster.client.submit_longtask(3), cluster.client.submit_longtask(3)]
    ran_on = {started_on(cluster, task_id): task_id for task_id in tasks}
    cluster.scale(1, wait=False)  # both busy: w2 is let go, and finishes its task after scale() returned
    leaving = cluster._leaving["w2"]
    assert list(cluster.workers) == ["w1"] and leaving.proc.poll() is None, "expected w2 still finishing its task"
    cluster.scale(2)
    assert sorted(cluster.workers) == ["w1", "w3"], (
        f"expected a new name beside the leaving w2, found {cluster.workers}"
    )
    on_w2 = wait_state(cluster.client, ran_on["w2"])
    assert on_w2["state"] == "SUCCESS" and on_w2["result"]["worker"].startswith("w2@"), on_w2
    assert on_w2["result"].get("run", 1) == 1, on_w2
    leaving.proc.wait(timeout=30)  # its warm shutdown ends once the task is done
    cluster.stop()
    assert "w2" not in cluster._leaving


def test_a_namesake_of_a_killed_worker_does_not_make_its_task_look_alive(make_cluster):
    cluster = make_cluster(workers=1).start()
    task_id = cluster.client.submit_longtask(3)
    wait_state(cluster.client, task_id, states=("PROGRESS",))
    killed = cluster.kill_worker()
    cluster.scale(1)  # started again under the same name, within the visibility timeout
    assert list(cluster.workers) == [killed]
    frozen = cluster.client.status(task_id)  # not handed out again before the visibility timeout (6 s)
    assert frozen["state"] == "PROGRESS" and frozen["worker_alive"] is False, frozen
    final = wait_state(cluster.client, task_id, timeout=60)
    assert final["state"] == "SUCCESS" and "worker_alive" not in final


def test_broker_restart_loses_no_queued_task(make_cluster):
    cluster = make_cluster(workers=1).start()
    ids = [cluster.client.submit_longtask(0.3) for _ in range(8)]
    assert cluster.queue_length() >= 5
    cluster.restart_broker()

    def all_done():
        try:
            return all(cluster.client.status(i)["state"] == "SUCCESS" for i in ids)
        except ApiError as exc:
            assert exc.status == 503  # reconnecting, never a 500
            return False

    assert wait_for(all_done, 60, what="all queued tasks to succeed after the restart")


def test_broker_down_gives_503_quickly_never_a_hang(make_cluster):
    cluster = make_cluster(workers=1).start()
    known = cluster.client.submit_factorial(5)
    cluster.broker.stop()
    for call in (
        lambda: cluster.client.submit_longtask(1),
        lambda: cluster.client.status(known),
        lambda: cluster.client.health(),
        lambda: cluster.client.workers(),
    ):
        started = time.monotonic()
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 503, err.value
        assert "unavailable" in str(err.value)
        assert time.monotonic() - started < 5


def test_missing_broker_binary_is_a_clear_error_and_leaves_nothing(make_cluster, monkeypatch):
    monkeypatch.setattr(broker, "find_server_binary", lambda: Path("/nonexistent/valkey-server"))
    cluster = make_cluster(workers=1)
    with pytest.raises(ClusterError, match="broker failed to start.*valkey-server"):
        cluster.start()
    assert not processes_of(cluster)


def test_taken_api_port_is_a_clear_error_and_leaves_nothing(make_cluster):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cluster = make_cluster(workers=1, api_port=port)
        with pytest.raises(ClusterError, match=f"API port {port} is already in use"):
            cluster.start()
    assert not cluster.running
    assert not processes_of(cluster)


def test_worker_that_crashes_on_import_names_its_log(make_cluster, monkeypatch):
    monkeypatch.setattr(Cluster, "WORKER_APP", "labapp.no_such_module")
    cluster = make_cluster(workers=1)
    with pytest.raises(ClusterError) as err:
        cluster.start(timeout=20)
    assert "w1 exited" in str(err.value) and "w1.log" in str(err.value)
    assert "no_such_module" in str(err.value)  # the log's last lines are in the message
    assert not processes_of(cluster)


def _crash_api(cluster) -> None:
    os.kill(cluster.api.proc.pid, signal.SIGKILL)
    assert wait_for(lambda: not cluster.running, 10, what="the cluster to notice its API died")


def test_start_again_after_a_component_died_works_at_once(make_cluster):
    cluster = make_cluster(workers=1).start()
    old_pids = set(pids_of(cluster).values())
    _crash_api(cluster)
    cluster.start()  # the student re-runs the start cell: once is enough
    assert cluster.running
    assert wait_state(cluster.client, cluster.client.submit_factorial(6))["result"]["value"] == "720"
    assert not [p for p in leftover_processes() if p.pid in old_pids]  # the rest of the old one went


def test_a_stale_cluster_object_cannot_unregister_its_successor(make_cluster, sandbox):
    old = make_cluster(workers=1, name="successor").start()
    _crash_api(old)
    new = make_cluster(workers=1, name="successor").start()  # same folder, new object
    assert new.running and new is not old
    old.stop()
    assert new.running
    listed = subprocess.run([sys.executable, "-m", "labapp", "status"], capture_output=True, text=True)
    assert "successor" in listed.stdout  # `labapp down` can still find it


def test_stop_leaves_no_process(make_cluster):
    cluster = make_cluster(workers=2).start()
    pids = set(pids_of(cluster).values())
    cluster.stop()
    cluster.stop()  # twice is fine
    assert not cluster.running
    assert not processes_of(cluster)
    assert not [p for p in leftover_processes() if p.pid in pids]


def test_logs_and_status(make_cluster):
    cluster = make_cluster(workers=1).start()
    table = cluster.status()
    assert [row["component"] for row in table] == ["broker", "api", "w1"]
    assert all(row["alive"] is True for row in table)
    assert "w1" in str(table) and "<table>" in table._repr_html_()
    assert "ready" in cluster.logs("w1", tail=50)
    with pytest.raises(ClusterError, match="no log for 'w9'"):
        cluster.logs("w9")


def test_stop_says_what_it_stopped(make_cluster):
    cluster = make_cluster(workers=2, name="told").start()
    cluster.kill_worker("w2")
    stopped = cluster.stop()
    assert repr(stopped) == str(stopped) == "stopped cluster 'told': 1 worker, the API and the broker"
    assert repr(cluster.stop()) == "cluster 'told' was not running: nothing to stop"
